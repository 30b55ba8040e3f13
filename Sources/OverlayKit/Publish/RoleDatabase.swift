import Foundation
import Formats
import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A role's rpmdb: the base's rpmdb with every package of the role's overlays recorded in it (from the installed
/// headers each overlay ships, `<name>-<version>.rpmheaders`; nothing is installed again), packed as a cpio initrd
/// that a node unpacks last, over the base's rpmdb, so that `rpm -qa` on the node lists the base and its plugins.
/// The base image is not touched: its rpmdb is read from a copy.
public enum RoleDatabase {
    /// One overlay of the role: its manifest and the directory holding the manifest and its headers file.
    public struct Member: Sendable {
        public var manifest: OverlayManifest
        public var directory: FilePath
        /// The overlay file as the fleet names it (relative to the served directory), for the role manifest.
        public var servedPath: String

        public init(manifest: OverlayManifest, directory: FilePath, servedPath: String) {
            self.manifest = manifest
            self.directory = directory
            self.servedPath = servedPath
        }
    }

    /// Writes `<role>.cpio.zst` and then `<role>.json` into `output`, each atomically.
    public static func make(
        base: BaseImage, baseIdentity: String, role: String, members: [Member], output: FilePath, sourceDateEpoch: Int64
    ) throws -> RoleDatabaseManifest {
        var blobs: [[UInt8]] = []
        for member in members {
            guard let headers = member.manifest.headers else {
                guard member.manifest.packages.isEmpty else { throw RoleDatabaseError.noHeaders(overlay: member.servedPath) }
                continue
            }
            blobs += try RPMHeaderList.read(member.directory.appending(headers))
        }
        let scratch = output.appending(".overlay-rpmdb-\(role)-\(getpid())")
        try? FileManager.default.removeItem(atPath: scratch.string)
        try Interruption.creating(scratch) { try FileManager.default.createDirectory(atPath: scratch.string, withIntermediateDirectories: false) }
        defer {
            try? FileManager.default.removeItem(atPath: scratch.string)
            Interruption.finished(scratch)
        }
        try copyDatabase(of: base, into: scratch)
        try RPMDatabase.record(blobs, root: scratch, dbPath: base.dbPath)
        // What sqlite or rpm left beside the database once it was closed is not part of it.
        let databaseDirectory = scratch.appending(String(base.dbPath.dropFirst()))
        for name in try FileManager.default.contentsOfDirectory(atPath: databaseDirectory.string)
        where name.hasSuffix("-shm") || name.hasSuffix("-wal") || name.hasSuffix("-journal") || name == ".rpm.lock" {
            try FileManager.default.removeItem(atPath: databaseDirectory.appending(name).string)
        }
        let packages = try RPMDatabase.installedPackages(root: scratch, dbPath: base.dbPath)

        let name = "\(role)-rpmdb.cpio.zst"
        let packed = try OverlayPacker(format: .cpioZstd, sourceDateEpoch: sourceDateEpoch).pack(root: scratch, to: output.appending(name))
        let manifest = RoleDatabaseManifest(
            role: role, base: baseIdentity, overlays: members.map { .init(file: $0.servedPath, sha256: $0.manifest.sha256) }, file: name,
            size: packed.size, sha256: packed.sha256, dbPath: base.dbPath, packages: packages)
        try AtomicFile.writeJSON(manifest, to: output.appending("\(role).json"))
        return manifest
    }

    /// The base's rpmdb files at the same path under `root`, each directory above them with the base's mode and
    /// owner (the initrd is unpacked over the node's root: it must not change `/usr`).
    private static func copyDatabase(of base: BaseImage, into root: FilePath) throws {
        var relative = ""
        for component in base.dbPath.split(separator: "/") {
            relative = relative.isEmpty ? String(component) : "\(relative)/\(component)"
            let source = base.root.appending(relative)
            let target = root.appending(relative)
            guard let info = FileTree.status(source) else { throw RoleDatabaseError.unreadableBase(path: source) }
            try FileManager.default.createDirectory(atPath: target.string, withIntermediateDirectories: false)
            try systemCall("chmod", target.string) { chmod(target.string, info.st_mode & 0o7777) }
            try systemCall("chown", target.string) { chown(target.string, info.st_uid, info.st_gid) }
        }
        let source = base.root.appending(String(base.dbPath.dropFirst()))
        let target = root.appending(String(base.dbPath.dropFirst()))
        for name in try FileManager.default.contentsOfDirectory(atPath: source.string) where !name.hasPrefix(".") {
            try FileManager.default.copyItem(atPath: source.appending(name).string, toPath: target.appending(name).string)
            if let info = FileTree.status(source.appending(name)) {
                let path = target.appending(name).string
                try systemCall("chown", path) { chown(path, info.st_uid, info.st_gid) }
                try systemCall("chmod", path) { chmod(path, info.st_mode & 0o7777) }
            }
        }
    }
}

/// Why a role's rpmdb could not be made.
public enum RoleDatabaseError: UserError, Sendable {
    case noHeaders(overlay: String)
    case unreadableBase(path: FilePath)

    public var description: String {
        switch self {
        case .noHeaders(let overlay):
            "\(overlay) has no package headers file beside it (its manifest names none): build the overlay again with this overlay"
        case .unreadableBase(let path):
            "cannot read \(path) in the base image: give the base's unpacked root"
        }
    }
}
