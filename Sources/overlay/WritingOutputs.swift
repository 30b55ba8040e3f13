// What the commands that write an output directory (`build`, `base create`) share: its lock, what killed
// builds left in it, and what SIGINT and SIGTERM do.
import Formats
import Foundation
import OverlayKit
import SystemPackage
import Posix

/// SIGINT and SIGTERM from here on kill what the command started, remove its unfinished files and exit 130 or
/// 143 after one line saying what was interrupted.
func removingUnfinishedFilesOnSignal(out: String) throws {
    // A progress line may be showing on the terminal: the message starts on a clean line.
    let clear = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
    try Interruption.handleSignals { signal, activity in
        "\(clear)overlay: interrupted by \(signal) while \(activity); its unfinished files were removed from \(out), what was published there before is complete"
    }
}

/// SIGINT and SIGTERM from here on remove the temporary directory a base image is being read into and exit 130
/// or 143 after one line saying what was interrupted (for commands that write no outputs).
func removingTemporaryFilesOnSignal() throws {
    let clear = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
    try Interruption.handleSignals { signal, activity in
        "\(clear)overlay: interrupted by \(signal) while \(activity); its temporary files were removed"
    }
}

/// Takes the output directory's lock (waiting, with one line, while another build holds it) and says what
/// interrupted builds had left in it.
func lockOutput(_ out: String, console: Console) throws -> OutputDirectory {
    Interruption.setActivity("waiting for the lock on \(out)")
    let output = try OutputDirectory(FilePath(out)) { holder in
        let who = holder.map { "the build (pid \($0))" } ?? "another build"
        console.note("overlay: waiting for \(who) writing to \(out) to finish")
        Interruption.setActivity("waiting for \(who) writing to \(out) to finish")
    }
    let leftovers = output.leftovers
    if !leftovers.completed.isEmpty {
        console.note("overlay: finished publishing \(leftovers.completed.joined(separator: ", ")) in \(out), which an interrupted build had begun")
    }
    if !leftovers.removed.isEmpty {
        console.note("overlay: removed \(humanSize(leftovers.bytes)) that an interrupted build left in \(out) (\(leftovers.removed.joined(separator: ", ")))")
    }
    return output
}

/// One line when the cache could not be written for lack of space (it was skipped; the command went on).
func reportFullCache(_ cache: MetadataCache?, console: Console) {
    guard let cache, let path = cache.fullAt else { return }
    console.error("overlay: no space left on device while writing the cache \(path): it was skipped; free space or choose another --cachedir")
}
