import Foundation
import SystemPackage
import Posix
import Synchronization

/// Where parsed repo metadata (libsolv `.solv` files) and downloaded metadata and packages are kept.
/// Entries are keyed by the sha256 of the repo's repomd.xml, so a changed repo is never served stale.
public struct MetadataCache: Sendable {
    public let directory: FilePath
    private let space = SpaceReport()

    public init(directory: FilePath) {
        self.directory = directory
    }

    /// The first cache file that could not be written because the filesystem (or quota) was full, if any:
    /// the cache is skipped, not an error, but the user should hear why it did not help.
    public var fullAt: FilePath? { space.first }

    /// Runs `write` (an atomic write of `path` into the cache) and tells whether it succeeded; a failure for lack
    /// of space is remembered for `fullAt`.
    @discardableResult
    func store(_ path: FilePath, _ write: () throws -> Void) -> Bool {
        do {
            try write()
            return true
        } catch {
            if OutputError.isNoSpace(error) { space.record(path) }
            return false
        }
    }

    /// `$XDG_CACHE_HOME/overlay`, `~/.cache/overlay`, or `/var/cache/overlay` for root.
    public static var defaultDirectory: FilePath {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return FilePath(xdg).appending("overlay") }
        if getuid() == 0 { return "/var/cache/overlay" }
        if let home = env["HOME"], home.hasPrefix("/") { return FilePath(home).appending(".cache/overlay") }
        return "/var/cache/overlay"
    }

    /// A subdirectory, created when missing; nil when it cannot be created (the cache is then skipped).
    func subdirectory(_ name: String) -> FilePath? {
        let path = directory.appending(name)
        let created = store(path) { try FileManager.default.createDirectory(atPath: path.string, withIntermediateDirectories: true) }
        return created ? path : nil
    }

    /// Stores a download as `name` in the cache's `subdirectory`, or in `scratch` when there is no cache or it
    /// cannot take it (full, read-only); returns where it went.
    static func keep(
        _ data: Data, named name: String, from url: String, in cache: MetadataCache?, subdirectory: String,
        else scratch: FilePath
    ) throws(RepoError) -> FilePath {
        if let cache, let directory = cache.subdirectory(subdirectory) {
            let target = directory.appending(name)
            if cache.store(target, { try AtomicFile.write(data, to: target) }) { return target }
        }
        let target = scratch.appending(name)
        do {
            try AtomicFile.write(data, to: target)
        } catch {
            if OutputError.isNoSpace(error) { throw .noSpace(url: url, path: target.string) }
            throw .download(url: url, reason: "cannot store it at \(target): \(ErrorText.reason(error))")
        }
        return target
    }

    /// The `.solv` file for a repo whose repomd.xml has the given digest.
    func solvFile(repomdDigest: String) -> FilePath? {
        subdirectory("solv").map { $0.appending("\(Self.formatVersion)-\(repomdDigest).solv") }
    }

    /// The parsed module metadata of a repo whose repomd.xml has the given digest.
    func modulesFile(repomdDigest: String) -> FilePath? {
        subdirectory("modules").map { $0.appending("\(Self.formatVersion)-\(repomdDigest).json") }
    }

    /// Bumped when what overlay stores in `.solv` or module files changes.
    static let formatVersion = "v1"
}

/// Where a cache write first ran out of space, shared by every copy of one `MetadataCache`.
private final class SpaceReport: Sendable {
    private let path = Locked<FilePath?>(nil)

    var first: FilePath? { path.withLock { $0 } }

    func record(_ path: FilePath) {
        self.path.withLock { if $0 == nil { $0 = path } }
    }
}
