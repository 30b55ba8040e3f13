internal import CRPM
import Foundation
import Posix

/// librpm's process-wide state: its configuration, its macros and its log. Installs hold `session` for
/// their whole run, so two transactions never see each other's `_dbpath` or log lines.
enum RPMLibrary {
    /// Held for a whole session: librpm's configuration, macros and log callback are process-wide.
    private static let lock = Locked(())

    /// `rpmReadConfigFiles(NULL, NULL)`, once per process.
    private static let configured: Bool = rpmReadConfigFiles(nil, nil) == 0

    /// Runs `body` with rpm configured, `macros` pushed (`rpmPushMacro` at command-line level, popped
    /// afterwards) and rpm's log captured into an `RPMLog` instead of going to stderr.
    static func session<R>(macros: [(String, String)], _ body: (RPMLog) throws -> R) throws -> R {
        // Handed out of the lock through a local: the value stays on this thread.
        var result: Result<R, any Error>?
        lock.withLock { _ in result = Result { try locked(macros: macros, body) } }
        guard let result else { preconditionFailure("Locked.withLock did not run its body") }
        return try result.get()
    }

    private static func locked<R>(macros: [(String, String)], _ body: (RPMLog) throws -> R) throws -> R {
        guard configured else {
            throw InstallError.transactionFailed(packages: [], messages: ["rpm could not read its configuration files"])
        }
        for (name, value) in macros { rpmPushMacro(nil, name, nil, value, RMIL_CMDLINE) }
        defer { for (name, _) in macros.reversed() { rpmPopMacro(nil, name) } }
        // Verbose, so that scriptlets' stdout reaches the script fd too; all of it goes to `log`, not stderr.
        let mask = overlay_rpm_set_verbosity(Int32(RPMLOG_INFO.rawValue))
        defer { rpmlogSetMask(mask) }
        let log = RPMLog()
        let context = Unmanaged.passRetained(log)
        rpmlogSetCallback(
            { record, data in
                guard let record, let data else { return 0 }
                let log = Unmanaged<RPMLog>.fromOpaque(data).takeUnretainedValue()
                let priority = rpmlogRecPriority(record)
                if let message = rpmlogRecMessage(record) {
                    log.append(priority: Int(priority.rawValue), String(cString: message))
                }
                return 0  // handled: nothing goes to stderr
            }, context.toOpaque())
        defer {
            rpmlogSetCallback(nil, nil)
            context.release()
        }
        return try body(log)
    }
}

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
