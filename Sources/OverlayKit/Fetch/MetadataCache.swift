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

// MARK: - Trimming

extension MetadataCache {
    /// An entry not used for this long is removed by `trimIfDue`. An entry's modification time is its last use.
    public static let unusedLifetime: Int = 30 * 86_400
    /// `trimIfDue` walks the cache at most this often; the modification time of the empty file `trim.txt` says when
    /// it last did.
    static let trimInterval: Int = 86_400
    /// A hit writes an entry's last use at most this often, not on every read.
    static let useResolution: Int = 3_600
    static let trimStamp = "trim.txt"
    /// Where entries are: `.solv` files, module metadata, solved plans, and folders of downloaded metadata (one
    /// per repomd.xml digest) and packages (one per repo).
    static let entryFolders = ["solv", "modules", "plans", "metadata", "packages"]

    /// Marks an entry just read from the cache as used now, so that `trimIfDue` keeps it.
    func markUsed(_ path: FilePath) {
        var info = stat()
        guard lstat(path.string, &info) == 0, Int(time(nil) - info.st_mtim.tv_sec) > Self.useResolution else { return }
        _ = utimensat(AT_FDCWD, path.string, nil, 0)  // nil: both times now
    }

    /// Once a day at most: removes every entry not used for `unusedLifetime` (30 days), and the folders that leaves
    /// empty, so that a cache fed by repos that change every day stays the size of what is in use. Files of other
    /// names than the cache's folders are never touched. Returns the files removed and their size on disk.
    @discardableResult
    public func trimIfDue(now: time_t = time(nil)) -> (files: Int, bytes: Int64) {
        let stamp = directory.appending(Self.trimStamp)
        var info = stat()
        if lstat(stamp.string, &info) == 0, Int(now - info.st_mtim.tv_sec) < Self.trimInterval { return (0, 0) }
        guard lstat(directory.string, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return (0, 0) }
        // The stamp first: two runs starting together do not both walk, and a read-only cache is not walked at all.
        // Only its modification time counts, so it is touched in place (created empty the first time).
        let file = open(stamp.string, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0o644)
        guard file >= 0 else { return (0, 0) }
        let touched = futimens(file, nil) == 0
        close(file)
        guard touched else { return (0, 0) }
        var removed: (files: Int, bytes: Int64) = (0, 0)
        for folder in Self.entryFolders { trim(directory.appending(folder), before: now - time_t(Self.unusedLifetime), nested: false, removed: &removed) }
        return removed
    }

    private func trim(_ folder: FilePath, before limit: time_t, nested: Bool, removed: inout (files: Int, bytes: Int64)) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.string) else { return }
        for name in names {
            let path = folder.appending(name)
            var info = stat()
            guard lstat(path.string, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                guard !nested else { continue }
                trim(path, before: limit, nested: true, removed: &removed)
                _ = rmdir(path.string)  // only when it is empty now
            } else if info.st_mtim.tv_sec < limit, unlink(path.string) == 0 {
                removed.files += 1
                removed.bytes += Int64(info.st_blocks) * 512
            }
        }
    }
}
