// What commands print for people: a progress line on a terminal, sizes and counts in words.
import Foundation
import Posix

/// One self-overwriting status line on standard error, shown only when it is a terminal.
final class ProgressLine: Sendable {
    private let enabled = isatty(STDERR_FILENO) == 1
    /// Whether a line is shown; held while writing, so two threads' updates never interleave.
    private let shown = Locked(false)

    func update(_ text: String) {
        guard enabled else { return }
        shown.withLock { shown in
            let line = String(text.prefix(120))
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            shown = true
        }
    }

    /// Clears the line so the next output starts clean.
    func finish() {
        guard enabled else { return }
        shown.withLock { shown in
            if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            shown = false
        }
    }
}

/// `12.3 KiB`
func humanSize(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// "1 node", "3 nodes".
func counted(_ count: Int, _ noun: String) -> String { count == 1 ? "1 \(noun)" : "\(count) \(noun)s" }
