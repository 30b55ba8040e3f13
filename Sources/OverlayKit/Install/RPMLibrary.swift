internal import CRPM
import Foundation
import Posix

/// librpm's process-wide state: its configuration, its macros and its log. Installs hold `session` for
/// their whole run, so two transactions never see each other's `_dbpath` or log lines.
enum RPMLibrary {
    /// Held for a whole session: librpm's configuration, macros and log callback are process-wide. The value is
    /// how reading rpm's configuration went, once per process (nil until the first session).
    private static let lock = Locked<Result<Void, RPMError>?>(nil)

    /// Reads rpm's configuration if no session has yet (`rpmReadConfigFiles(NULL, NULL)`), and says why it
    /// cannot be read, in rpm's words. Solves call this before libsolv reads a base's rpmdb, so that a broken rpm
    /// is named as such rather than as a damaged rpmdb.
    static func checkConfiguration() throws(RPMError) {
        try lock.withLock { state throws(RPMError) in try configured(&state).get() }
    }

    /// Runs `body` with rpm configured, `macros` pushed (`rpmPushMacro` at command-line level, popped
    /// afterwards) and rpm's log captured into an `RPMLog` instead of going to stderr. Throws `RPMError` when rpm's
    /// configuration cannot be read, else what `body` throws.
    static func session<R>(macros: [(String, String)], _ body: (RPMLog) throws -> R) throws -> R {
        // Handed out of the lock through a local: the value stays on this thread.
        var result: Result<R, any Error>?
        lock.withLock { state in
            result = Result {
                try configured(&state).get()
                return try locked(macros: macros, body)
            }
        }
        guard let result else { preconditionFailure("Locked.withLock did not run its body") }
        return try result.get()
    }

    /// The outcome of reading rpm's configuration, read now if it has not been. Called with the lock held.
    private static func configured(_ state: inout Result<Void, RPMError>?) -> Result<Void, RPMError> {
        if let state { return state }
        let log = RPMLog()
        let read = capturingLog(into: log) { rpmReadConfigFiles(nil, nil) }
        let outcome: Result<Void, RPMError> =
            read == 0
            ? .success(())
            : .failure(
                .configuration(
                    directory: rpmConfigDir().map { String(cString: $0) } ?? "?", fromEnvironment: getenv("RPM_CONFIGDIR") != nil,
                    said: log.errors()))
        state = outcome
        return outcome
    }

    private static func locked<R>(macros: [(String, String)], _ body: (RPMLog) throws -> R) throws -> R {
        for (name, value) in macros { rpmPushMacro(nil, name, nil, value, RMIL_CMDLINE) }
        defer { for (name, _) in macros.reversed() { rpmPopMacro(nil, name) } }
        // Verbose, so that scriptlets' stdout reaches the script fd too; all of it goes to `log`, not stderr.
        let mask = crpm_set_verbosity(Int32(RPMLOG_INFO.rawValue))
        defer { rpmlogSetMask(mask) }
        let log = RPMLog()
        return try capturingLog(into: log) { try body(log) }
    }

    /// Runs `body` with rpm's log going to `log` (`rpmlogSetCallback`) instead of stderr.
    private static func capturingLog<R>(into log: RPMLog, _ body: () throws -> R) rethrows -> R {
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
        return try body()
    }
}
