import Foundation
import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Small, symlink-safe file tree operations for the install step (lstat, never following links).
public enum FileTree {
    /// `lstat(path)`, or nil when nothing is there.
    static func status(_ path: FilePath) -> stat? {
        var info = stat()
        let rc = path.withPlatformString { lstat($0, &info) }
        return rc == 0 ? info : nil
    }

    static func isDirectory(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFDIR }
    static func isRegular(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFREG }
    static func isSymlink(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFLNK }
    /// An overlayfs whiteout: a character device with device number 0/0.
    static func isWhiteout(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0 }

    /// Names in a directory, without "." and "..", sorted.
    static func entries(_ directory: FilePath) throws -> [String] {
        do {
            return try directoryNames(directory).map { String(decoding: $0, as: UTF8.self) }.sorted()
        } catch {
            throw InstallError.system(error)
        }
    }

    /// True when `path` does not exist or is an empty directory.
    static func isAbsentOrEmptyDirectory(_ path: FilePath) throws -> Bool {
        guard let info = status(path) else { return true }
        return isDirectory(info) ? try entries(path).isEmpty : false
    }

    /// Removes `path` and, for a directory, everything under it, depth first (`unlink`, `rmdir`; symlinks are
    /// removed, not followed). A failure names the file that could not be removed and the system's reason.
    static func remove(_ path: FilePath) throws(InstallError) {
        do { try removeTree(path) } catch { throw .system(error) }
    }

    private static func removeTree(_ path: FilePath) throws(SystemCallError) {
        guard let info = status(path) else { return }
        if isDirectory(info) {
            for name in try directoryNames(path) {
                // Names are raw bytes: a name that is not UTF-8 must still name the same file.
                let child =
                    path.withPlatformString { Array(UnsafeBufferPointer(start: $0, count: strlen($0))) } + [CChar(bitPattern: UInt8(ascii: "/"))]
                    + name.map { CChar(bitPattern: $0) } + [0]
                try removeTree(FilePath(platformString: child))
            }
            try systemCall("rmdir", path.string) { path.withPlatformString { rmdir($0) } }
        } else {
            try systemCall("unlink", path.string) { path.withPlatformString { unlink($0) } }
        }
    }

    /// The disk space `path` and everything under it take, in bytes (as `du` counts it; links not followed).
    public static func size(_ path: FilePath) -> Int64 {
        guard let info = status(path) else { return 0 }
        var total = Int64(info.st_blocks) * 512
        if isDirectory(info) {
            for name in (try? entries(path)) ?? [] { total += size(path.appending(name)) }
        }
        return total
    }

    static func makeDirectory(_ path: FilePath, mode: mode_t = 0o755) throws(SystemCallError) {
        try systemCall("mkdir", path.string) { path.withPlatformString { mkdir($0, mode) } }
    }

    /// `mkdir -p`: makes `path` and whatever of its parents is missing (mode 0755, less the umask). An existing
    /// directory is fine; anything else in the way fails as `mkdir` fails on it.
    static func makeDirectories(_ path: FilePath) throws(SystemCallError) {
        if let info = status(path), isDirectory(info) { return }
        let parent = path.removingLastComponent()
        if parent != path, !parent.isEmpty, status(parent) == nil { try makeDirectories(parent) }
        do {
            try makeDirectory(path)
        } catch  where error.errno == .fileExists {
            // Made meanwhile by someone else: fine if it is a directory.
            guard let info = status(path), isDirectory(info) else { throw error }
        }
    }

    /// The target of a symlink.
    static func linkTarget(_ path: FilePath) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = path.withPlatformString { readlink($0, &buffer, buffer.count - 1) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when two regular files hold the same bytes.
    static func sameContent(_ a: FilePath, _ b: FilePath) -> Bool {
        guard let first = FileHandle(forReadingAtPath: a.string), let second = FileHandle(forReadingAtPath: b.string) else { return false }
        defer {
            try? first.close()
            try? second.close()
        }
        while true {
            let x = (try? first.read(upToCount: 1 << 16)) ?? Data()
            let y = (try? second.read(upToCount: 1 << 16)) ?? Data()
            if x != y { return false }
            if x.isEmpty { return true }
        }
    }

    /// Names of the extended attributes of `path` (not following a symlink).
    static func attributeNames(_ path: FilePath) throws(InstallError) -> [String] {
        do { return try ExtendedAttributes.names(path) } catch { throw .system(error) }
    }

    static func hasAttribute(_ path: FilePath, _ name: String) throws(InstallError) -> Bool {
        do { return try ExtendedAttributes.contains(path, name) } catch { throw .system(error) }
    }

    static func removeAttribute(_ path: FilePath, _ name: String) throws(InstallError) {
        do { try ExtendedAttributes.remove(path, name) } catch { throw .system(error) }
    }

    /// `path` made absolute against the current directory.
    static func absolute(_ path: FilePath) -> FilePath {
        path.isAbsolute ? path.lexicallyNormalized() : FilePath(FileManager.default.currentDirectoryPath).pushing(path).lexicallyNormalized()
    }
}
