import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The directory both servers serve from: an open descriptor, so that every lookup is resolved by the kernel
/// beneath it (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), never by comparing path strings.
package final class ServeRoot: Sendable {
    let path: FilePath
    let fd: OwnedFileDescriptor

    init(_ path: FilePath) throws(ServeError) {
        self.path = path
        do {
            fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw .rootNotDirectory(path: path.string, reason: (error as? Errno)?.posixDescription ?? "\(error)")
        }
        // Every lookup depends on openat2 (Linux 5.6+): refuse to start rather than refuse every request later.
        do {
            _ = try openBeneath(fd.descriptor, Array(".".utf8), flags: O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        } catch {
            throw .kernelTooOld(reason: error.description)
        }
    }

    /// A request path cleaned up for lookup: separators collapsed, "." dropped, leading "/" removed. Nil when a
    /// component is "..", the path holds a NUL, or it is longer than `maxLength`: such requests never reach a file.
    package static func normalize(_ raw: [UInt8], maxLength: Int = 1024) -> [UInt8]? {
        guard raw.count <= maxLength, !raw.contains(0) else { return nil }
        var parts: [ArraySlice<UInt8>] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) { return nil }
            parts.append(part)
        }
        return Array(parts.joined(separator: [UInt8(ascii: "/")]))
    }

    /// Opens a regular file at a normalized path beneath the root.
    func open(_ path: [UInt8]) -> Result<ServedFile, FileRefusal> {
        if path.isEmpty { return .failure(.notFound) }
        let fd: OwnedFileDescriptor
        do {
            fd = try openBeneath(self.fd.descriptor, path)
        } catch {
            switch error.errno {
            case .noSuchFileOrDirectory, .notDirectory, .fileNameTooLong: return .failure(.notFound)
            default: return .failure(.forbidden)  // EXDEV (escapes the root), ELOOP (a symlink), EACCES, ...
            }
        }
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            return .failure(.notFound)
        }
        // Opened non-blocking so a FIFO could not hang the open; a regular file reads the same either way.
        let flags = fcntl(fd.rawValue, F_GETFL)
        if flags >= 0 { _ = fcntl(fd.rawValue, F_SETFL, flags & ~O_NONBLOCK) }
        return .success(
            ServedFile(
                fd: fd, size: Int(info.st_size), inode: UInt64(info.st_ino),
                modified: info.st_mtim.tv_sec, modifiedNanoseconds: info.st_mtim.tv_nsec))
    }
}

/// Why a path was not served.
enum FileRefusal: Error {
    case notFound
    case forbidden
}

/// An open regular file beneath the root, closed when the last transfer or response using it lets go.
final class ServedFile {
    let fd: OwnedFileDescriptor
    let size: Int
    let inode: UInt64
    let modified: Int
    let modifiedNanoseconds: Int

    init(fd: consuming OwnedFileDescriptor, size: Int, inode: UInt64, modified: Int, modifiedNanoseconds: Int) {
        self.fd = fd
        self.size = size
        self.inode = inode
        self.modified = modified
        self.modifiedNanoseconds = modifiedNanoseconds
    }
}

/// A Content-Type from a file name's extension; boot files are mostly text or opaque bytes.
package func contentType(for path: [UInt8]) -> String {
    let name = path.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? ""
    guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
    switch name[name.index(after: dot)...].lowercased() {
    case "ipxe", "cfg", "conf", "txt", "sh", "repo", "toml", "list": return "text/plain; charset=utf-8"
    case "json": return "application/json"
    case "html", "htm": return "text/html; charset=utf-8"
    case "iso": return "application/x-iso9660-image"
    case "efi": return "application/efi"
    default: return "application/octet-stream"
    }
}
