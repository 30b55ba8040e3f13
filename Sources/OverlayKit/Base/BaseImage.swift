import Foundation
import SystemPackage
import Posix

/// A base image's root filesystem, with the rpmdb that says what is installed in it.
public struct BaseImage: Sendable {
    public let root: FilePath
    /// How errors name the base: the root, or the image file `--base` named when the root was extracted from it.
    public let label: String
    /// Where the rpmdb lives inside the root: `/usr/lib/sysimage/rpm` or `/var/lib/rpm`.
    public let dbPath: String

    /// The places RPM-based images keep their rpmdb, newest convention first.
    static let dbPaths = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"]
    static let dbFiles = ["rpmdb.sqlite", "Packages", "Packages.db"]

    /// Opens the base at `root`, finding its rpmdb; `label` names it in errors (default: the root).
    public init(root: FilePath, label: String? = nil) throws(BaseError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.string, isDirectory: &isDirectory) else {
            throw .notFound(root.string)
        }
        guard isDirectory.boolValue else {
            throw .notADirectory(label ?? root.string)
        }
        // libsolv and rpm join the root with absolute paths inside it: make it absolute first.
        let root = root.isAbsolute ? root : FilePath(FileManager.default.currentDirectoryPath).pushing(root)
        self.root = root.lexicallyNormalized()
        self.label = label ?? root.string
        for candidate in Self.dbPaths {
            let directory = root.appending(String(candidate.dropFirst()))
            if Self.dbFiles.contains(where: { FileManager.default.fileExists(atPath: directory.appending($0).string) }) {
                self.dbPath = candidate
                return
            }
        }
        throw .noRPMDatabase(label ?? root.string)
    }
}

extension BaseImage {
    /// The rpmdb's main file (`/var/lib/rpm/rpmdb.sqlite`), as a path inside the root, when there is one.
    var databaseFile: String? {
        let directory = root.appending(String(dbPath.dropFirst()))
        return Self.dbFiles.first { FileManager.default.fileExists(atPath: directory.appending($0).string) }.map { "\(dbPath)/\($0)" }
    }

    /// What is wrong with the rpmdb's main file that rpm would only find by failing to open it: not a regular
    /// file, empty, or not in the format its name says (an sqlite database, a Berkeley DB hash or btree). The
    /// words are those rpm and sqlite use, naming the file inside the image. nil when it looks right.
    var databaseFormatProblem: String? {
        guard let file = databaseFile else { return nil }
        let path = root.string + file
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        if status.st_mode & S_IFMT != S_IFREG { return "\(file) is not a regular file" }
        if status.st_size == 0 { return "\(file) is empty (0 bytes)" }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        if file.hasSuffix("/rpmdb.sqlite") {
            if head != Array("SQLite format 3\0".utf8) { return "\(file): file is not a database" }
        } else if file.hasSuffix("/Packages") {
            // Berkeley DB's metadata page: the magic number at offset 12, in the byte order of the machine that
            // wrote it.
            let magic = head.count == 16 ? head[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : 0
            let known: Set<UInt32> = [0x0006_1561, 0x0005_3162]  // hash, btree
            if !known.contains(magic) && !known.contains(magic.byteSwapped) {
                return "\(file): not a berkeley db hash/btree database"
            }
        }
        return nil
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
public enum BaseError: UserError, Sendable {
    /// The forms `--base` takes.
    static let accepted =
        "a root directory, an initramfs (cpio newc, plain or gzip/xz/zstd-compressed, several concatenated), a squashfs image or a live ISO"

    case notFound(String)
    case notADirectory(String)
    case noRPMDatabase(String)
    case unreadableDatabase(root: String, reason: String)
    case emptyDatabase(root: String, dbPath: String)
    case outputExists(String)
    /// librpm could not be set up (its configuration files), so no rpmdb can be read.
    case rpm(RPMError)
    /// `--base` is a file that is none of the forms a base takes; `found` says what it is, by its magic bytes.
    case unrecognizedImage(String, found: String)
    case unreadableImage(String, reason: String)
    /// An image of a known `kind` that ends early or is damaged.
    case damagedImage(String, kind: String, reason: String)
    /// Writing an image's entry into the private root failed.
    case extraction(String, entry: String, reason: String)
    /// The temporary directory an image was extracted into filled up.
    case noSpace(String)
    case isoWithoutLiveOS(String)
    /// A file of a live ISO is not stored as one contiguous, uncompressed extent (zisofs).
    case isoFileNotInPlace(String, file: String)
    /// The live ISO's squashfs holds an ext4 `LiveOS/rootfs.img` rather than the root itself.
    case ext4LiveRoot(String)
    /// `base import` was given a directory.
    case importNeedsImage(String)

    public var description: String {
        switch self {
        case .notFound(let path):
            "base \(path) does not exist; --base takes \(Self.accepted)"
        case .notADirectory(let path):
            "base \(path) is a file, not a directory; --base takes the root filesystem of the base image, unpacked"
        case .unrecognizedImage(let path, let found):
            "base \(path) is \(found); --base takes \(Self.accepted)"
        case .unreadableImage(let path, let reason):
            "cannot read base \(path): \(reason); check the path and its permissions"
        case .damagedImage(let path, let kind, let reason):
            "base \(path) is a damaged or truncated \(kind) image: \(reason); download or copy the image again"
        case .extraction(let path, let entry, let reason):
            "cannot extract \(entry) of base \(path) into a temporary directory: \(reason); check the space and permissions of $TMPDIR (default /tmp)"
        case .noSpace(let path):
            "no space left on device while extracting base \(path) into a temporary directory: free space or point TMPDIR elsewhere"
        case .isoWithoutLiveOS(let path):
            "base \(path) is an ISO 9660 image without \(LiveISO.squashfsPath); --base takes a live ISO laid out as RHEL, Fedora or oVirt Node live media (the root in \(LiveISO.squashfsPath)), or \(Self.accepted)"
        case .isoFileNotInPlace(let path, let file):
            "base \(path): \(file) is not stored in the ISO as plain contiguous data (zisofs-compressed?), so it cannot be read in place; unpack the ISO (xorriso -osirrox on -indev \(path) -extract / DIR) and pass DIR/\(LiveISO.squashfsPath)"
        case .importNeedsImage(let path):
            "base \(path) is a directory; base import takes an image (a live ISO, a squashfs image or an initramfs): for an unpacked root, pass it to plan and build as --base, or make an image with base create"
        case .ext4LiveRoot(let path):
            "base \(path) holds its root as an ext4 image (\(LiveISO.squashfsPath) containing LiveOS/rootfs.img, the older live media layout), which overlay does not read; mount it read-only (mount -o loop,ro) or unpack it and pass the directory as --base"
        case .noRPMDatabase(let path):
            "base \(path) has no rpmdb (looked for rpmdb.sqlite, Packages or Packages.db in usr/lib/sysimage/rpm and var/lib/rpm); --base takes an unpacked image root"
        case .unreadableDatabase(let root, let reason):
            "cannot read the rpmdb of base \(root): \(reason); the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root \(root) --rebuilddb)"
        case .emptyDatabase(let root, let dbPath):
            "the rpmdb of base \(root) (\(dbPath)) lists no installed packages; a base image must have its package set recorded"
        case .outputExists(let path):
            "\(path) already exists; remove it or choose another --out directory"
        case .rpm(let error):
            error.description
        }
    }
}
