import Foundation
import SystemPackage

/// A base image's root filesystem, with the rpmdb that says what is installed in it.
public struct BaseImage: Sendable {
    public let root: FilePath
    /// Where the rpmdb lives inside the root: `/usr/lib/sysimage/rpm` or `/var/lib/rpm`.
    public let dbPath: String

    /// The places RPM-based images keep their rpmdb, newest convention first.
    static let dbPaths = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"]
    static let dbFiles = ["rpmdb.sqlite", "Packages", "Packages.db"]

    /// Opens the base at `root`, finding its rpmdb.
    public init(root: FilePath) throws(BaseError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.string, isDirectory: &isDirectory) else {
            throw .notFound(root.string)
        }
        guard isDirectory.boolValue else {
            throw .notADirectory(root.string)
        }
        // libsolv and rpm join the root with absolute paths inside it: make it absolute first.
        let root = root.isAbsolute ? root : FilePath(FileManager.default.currentDirectoryPath).pushing(root)
        self.root = root.lexicallyNormalized()
        for candidate in Self.dbPaths {
            let directory = root.appending(String(candidate.dropFirst()))
            if Self.dbFiles.contains(where: { FileManager.default.fileExists(atPath: directory.appending($0).string) }) {
                self.dbPath = candidate
                return
            }
        }
        throw .noRPMDatabase(root.string)
    }
}

extension BaseImage {
    /// The rpmdb's main file (`/var/lib/rpm/rpmdb.sqlite`), as a path inside the root, when there is one.
    var databaseFile: String? {
        let directory = root.appending(String(dbPath.dropFirst()))
        return Self.dbFiles.first { FileManager.default.fileExists(atPath: directory.appending($0).string) }.map { "\(dbPath)/\($0)" }
    }

    /// Copies the rpmdb's files into a new private root (same path inside it) and returns that root;
    /// the caller removes it.
    func privateDatabaseCopy() throws -> FilePath {
        let root = FilePath(NSTemporaryDirectory()).appending("overlay-rpmdb-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let target = root.appending(String(dbPath.dropFirst()))
        try FileManager.default.createDirectory(atPath: target.string, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let source = self.root.appending(String(dbPath.dropFirst()))
        do {
            for name in try FileManager.default.contentsOfDirectory(atPath: source.string) where !name.hasPrefix(".") {
                try FileManager.default.copyItem(atPath: source.appending(name).string, toPath: target.appending(name).string)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: root.string)
            throw error
        }
        return root
    }
}

/// Why a base image could not be used.
public enum BaseError: Error, CustomStringConvertible, Sendable {
    case notFound(String)
    case notADirectory(String)
    case noRPMDatabase(String)
    case unreadableDatabase(root: String, reason: String)
    case emptyDatabase(root: String, dbPath: String)
    case outputExists(String)

    public var description: String {
        switch self {
        case .notFound(let path):
            "base \(path) does not exist; --base takes the root filesystem of the base image, unpacked"
        case .notADirectory(let path):
            "base \(path) is a file, not a directory; --base takes the root filesystem of the base image, unpacked"
        case .noRPMDatabase(let path):
            "base \(path) has no rpmdb (looked for rpmdb.sqlite, Packages or Packages.db in usr/lib/sysimage/rpm and var/lib/rpm); --base takes an unpacked image root"
        case .unreadableDatabase(let root, let reason):
            "cannot read the rpmdb of base \(root): \(reason); the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root \(root) --rebuilddb)"
        case .emptyDatabase(let root, let dbPath):
            "the rpmdb of base \(root) (\(dbPath)) lists no installed packages; a base image must have its package set recorded"
        case .outputExists(let path):
            "\(path) already exists; remove it or choose another --out directory"
        }
    }
}
