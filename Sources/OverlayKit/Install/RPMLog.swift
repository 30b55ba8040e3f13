internal import CRPM
import Foundation
import Posix

/// rpm's log lines of one session, errors and warnings kept for error messages.
final class RPMLog: Sendable {
    private let lines = Locked<[(priority: Int, text: String)]>([])

    func append(priority: Int, _ text: String) {
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        lines.withLock { $0.append((priority, line)) }
    }

    /// Error-level lines (and worse) since `mark`, rpm's own words.
    func errors(since mark: Int = 0) -> [String] {
        lines.withLock { $0.dropFirst(mark).filter { $0.priority <= Int(RPMLOG_ERR.rawValue) }.map(\.text) }
    }

    /// Error- and warning-level lines since `mark`.
    func warnings(since mark: Int = 0) -> [String] {
        lines.withLock { $0.dropFirst(mark).filter { $0.priority <= Int(RPMLOG_WARNING.rawValue) }.map(\.text) }
    }

    /// Every line since `mark`, notices included (what `rpm -K` prints goes there).
    func messages(since mark: Int = 0) -> [String] {
        lines.withLock { $0.dropFirst(mark).map(\.text) }
    }

    /// A position to read later lines from.
    var mark: Int {
        lines.withLock { $0.count }
    }
}
