import Foundation
import SystemPackage

/// Where parsed repo metadata (libsolv `.solv` files) and downloaded metadata and packages are kept.
/// Entries are keyed by the sha256 of the repo's repomd.xml, so a changed repo is never served stale.
public struct MetadataCache: Sendable {
    public let directory: FilePath

    public init(directory: FilePath) {
        self.directory = directory
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
        do {
            try FileManager.default.createDirectory(atPath: path.string, withIntermediateDirectories: true)
            return path
        } catch {
            return nil
        }
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
