internal import CRPM
import Foundation

/// librpm's process-wide configuration: read once, and `_dbpath` set explicitly around each use.
///
/// Debian's rpm macros put `_dbpath` in `~/.rpmdb`. Code that reads an image's rpmdb (libsolv's rpmdb reader
/// consults `%_dbpath` too) must push the image's real path, or it silently finds an empty database.
enum RPMConfiguration {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded = false

    /// Calls `rpmReadConfigFiles` the first time; later calls do nothing.
    static func load() {
        lock.lock()
        defer { lock.unlock() }
        guard !loaded else { return }
        _ = rpmReadConfigFiles(nil, nil)
        // rpm prints its warnings itself; overlay reports problems through its own errors.
        crpm_set_verbosity(Int32(RPMLOG_ERR.rawValue))
        loaded = true
    }

    /// Runs `body` with `_dbpath` set to `dbPath` (a path inside the root the body works on), holding the
    /// macro lock so no other thread sees or changes it meanwhile.
    static func withDBPath<T>(_ dbPath: String, _ body: () throws -> T) rethrows -> T {
        load()
        lock.lock()
        defer { lock.unlock() }
        rpmPushMacro(nil, "_dbpath", nil, dbPath, RMIL_CMDLINE)
        defer { rpmPopMacro(nil, "_dbpath") }
        return try body()
    }
}
