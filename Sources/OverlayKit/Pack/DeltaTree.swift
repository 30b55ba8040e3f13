#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// One object of a tree to pack, as `lstat` saw it. Paths are raw bytes relative to the root, without a
/// leading "/" or "./" (`usr/bin/x`), because file names on Linux are bytes and the archive must keep them.
struct DeltaTreeEntry {
    enum Kind { case file, directory, symlink }

    let relativePath: [UInt8]
    let kind: Kind
    /// `st_mode`, type bits included.
    let mode: UInt32
    let uid: UInt32
    let gid: UInt32
    let size: Int64
    let device: UInt64
    let inode: UInt64
    let linkTarget: [UInt8]?

    var relativeString: String { String(decoding: relativePath, as: UTF8.self) }
}

/// A tree on disk listed in the order an overlay stores it: every object below the root (not the root
/// itself: an overlay must not change the mode of `/`), sorted bytewise by path, so a parent comes before
/// its children and the listing does not depend on the order `readdir` returns.
struct DeltaTree {
    let root: FilePath
    let entries: [DeltaTreeEntry]

    /// Walks `root` with `lstat`, never following symlinks. Refuses device nodes, FIFOs and sockets.
    init(root: FilePath) throws {
        self.root = root
        var rootStat = stat()
        try Self.lstat(root, into: &rootStat)
        guard rootStat.st_mode & S_IFMT == S_IFDIR else {
            throw PackError.unreadable(path: root, reason: "not a directory")
        }
        var found: [DeltaTreeEntry] = []
        var pending: [[UInt8]] = [[]]
        while let directory = pending.popLast() {
            for name in try Self.names(in: Self.path(root, directory)) {
                let relative = directory.isEmpty ? name : directory + [UInt8(ascii: "/")] + name
                let path = Self.path(root, relative)
                var info = stat()
                try Self.lstat(path, into: &info)
                let kind: DeltaTreeEntry.Kind
                var target: [UInt8]? = nil
                switch info.st_mode & S_IFMT {
                case S_IFREG: kind = .file
                case S_IFDIR:
                    kind = .directory
                    pending.append(relative)
                case S_IFLNK:
                    kind = .symlink
                    target = try Self.readlink(path)
                case S_IFCHR: throw PackError.unsupportedFileType(path: path, kind: "character device")
                case S_IFBLK: throw PackError.unsupportedFileType(path: path, kind: "block device")
                case S_IFIFO: throw PackError.unsupportedFileType(path: path, kind: "FIFO")
                case S_IFSOCK: throw PackError.unsupportedFileType(path: path, kind: "socket")
                default: throw PackError.unsupportedFileType(path: path, kind: "file of unknown type")
                }
                found.append(
                    DeltaTreeEntry(
                        relativePath: relative, kind: kind, mode: info.st_mode, uid: info.st_uid, gid: info.st_gid,
                        size: kind == .file ? Int64(info.st_size) : 0, device: UInt64(info.st_dev),
                        inode: UInt64(info.st_ino), linkTarget: target))
            }
        }
        entries = found.sorted { $0.relativePath.lexicographicallyPrecedes($1.relativePath) }
    }

    /// The path on disk of an entry.
    func path(of entry: DeltaTreeEntry) -> FilePath { Self.path(root, entry.relativePath) }

    static func path(_ root: FilePath, _ relative: [UInt8]) -> FilePath {
        if relative.isEmpty { return root }
        let rootBytes = root.withPlatformString { Array(UnsafeBufferPointer(start: $0, count: strlen($0))) }
        let bytes = rootBytes + [CChar(bitPattern: UInt8(ascii: "/"))] + relative.map { CChar(bitPattern: $0) } + [0]
        return bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { FilePath(platformString: $0) } ?? root
        }
    }

    private static func lstat(_ path: FilePath, into info: inout stat) throws {
        do {
            _ = try path.withPlatformString { p in try systemCall("lstat", path.string) { Glibc.lstat(p, &info) } }
        } catch let error as SystemCallError {
            throw PackError.unreadable(path: path, reason: error.errno.posixDescription)
        }
    }

    private static func readlink(_ path: FilePath) throws -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = path.withPlatformString { p in Glibc.readlink(p, &buffer, buffer.count) }
        if count < 0 { throw PackError.unreadable(path: path, reason: Errno(rawValue: errno).posixDescription) }
        return buffer.prefix(count).map { UInt8(bitPattern: $0) }
    }

    /// The names in a directory, without "." and "..".
    private static func names(in directory: FilePath) throws -> [[UInt8]] {
        do {
            return try directoryNames(directory)
        } catch {
            throw PackError.unreadable(path: directory, reason: error.errno.posixDescription)
        }
    }
}
