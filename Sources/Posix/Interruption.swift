import Foundation
import Synchronization
import SystemPackage

/// What SIGINT and SIGTERM do to a command that writes outputs (`build`, `base create`): every process it
/// started is killed, every unfinished file and directory it made is removed, one line says what was going
/// on, and the process exits with 128 + the signal (130, 143).
///
/// Unfinished paths (work directories, `AtomicFile`'s temporaries) are registered before they are created,
/// under a lock the signal's thread takes and never gives back: once a signal is being handled, nothing new
/// is created. A publish (the renames that put a build's outputs in place) holds a second lock, which the
/// signal's thread takes first, so a publish has either finished or not begun. A SIGKILL cannot be handled;
/// what it leaves is recognisable by name and removed by the next build into the same directory
/// (`OutputDirectory`).
public final class Interruption: Sendable {
    static let shared = Interruption()

    /// Held through a publish, and for good by the signal's thread. Always taken before `state`: a publish
    /// writes its journal with `AtomicFile`, which registers its temporary.
    private let publishing = Locked(())
    /// The unfinished paths and the current activity; held for good by the signal's thread.
    private let state = Locked(State())

    private struct State {
        var unfinished: Set<FilePath> = []
        var activity = "starting"
    }

    /// Installs the SIGINT and SIGTERM handlers and the thread that acts on them. `report` makes the line
    /// printed on standard error from the signal's name ("SIGINT") and the current activity.
    public static func handleSignals(report: @escaping @Sendable (_ signal: String, _ activity: String) -> String) throws {
        try TerminationSignals.install()
        try PosixThread.detach(name: "signals") {
            let signal = TerminationSignals.wait()
            // Neither lock is given back: the process ends inside them.
            shared.publishing.withLock { _ in
                shared.state.withLock { state in
                    shared.stopEverything(removing: state.unfinished)
                    let line = report(TerminationSignals.name(signal), state.activity)
                    fflush(nil)  // lines already printed for plugins that were built
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                    _exit(128 + signal)
                }
            }
        }
    }

    /// What the process is doing, for the line a signal prints: "packing plugin \"vdsm\"".
    public static func setActivity(_ text: String) {
        shared.state.withLock { $0.activity = text }
    }

    /// Runs `create`, which makes `path`; `path` counts as unfinished (removed on a signal) until `finished`.
    package static func creating<T, E: Error>(_ path: FilePath, _ create: () throws(E) -> T) throws(E) -> T {
        // The result leaves the lock through a local: it stays on this thread.
        var result: Result<T, E>?
        shared.state.withLock { state in
            state.unfinished.insert(path)
            result = Result { () throws(E) -> T in try create() }
        }
        guard let result else { preconditionFailure("Locked.withLock did not run its body") }
        return try result.get()
    }

    /// `path` was removed or renamed into place: a signal no longer removes it.
    package static func finished(_ path: FilePath) {
        _ = shared.state.withLock { $0.unfinished.remove(path) }
    }

    /// Runs `body` (a publish: several renames) so that a signal is handled before or after it, never during.
    package static func uninterrupted<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        var result: Result<T, E>?
        shared.publishing.withLock { _ in result = Result { () throws(E) -> T in try body() } }
        guard let result else { preconditionFailure("Locked.withLock did not run its body") }
        return try result.get()
    }

    /// Kills the children and removes the unfinished paths.
    private func stopEverything(removing unfinished: Set<FilePath>) {
        DescendantProcesses.killAll()
        for path in unfinished { Self.remove(path) }
        // A thread still inside librpm may have started a scriptlet since: kill again on the way out.
        DescendantProcesses.killAll()
    }

    /// Removes a file or directory tree; retries while another thread is still creating entries in it.
    private static func remove(_ path: FilePath) {
        for _ in 0..<20 {
            var info = stat()
            guard lstat(path.string, &info) == 0 else { return }
            if (try? FileManager.default.removeItem(atPath: path.string)) != nil { return }
        }
    }
}
