#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Owns a read-only mapping of a whole file (`mmap`), unmapped in `deinit`: the initramfs reader finds where
/// each concatenated member starts and ends by looking at the bytes themselves.
final class MappedFile {
    let path: FilePath
    let bytes: UnsafeRawBufferPointer

    init(_ path: FilePath) throws {
        self.path = path
        let fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        var info = stat()
        _ = try systemCall("fstat", path.string) { fstat(fd.rawValue, &info) }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd.rawValue, 0)
        if address == MAP_FAILED {
            throw SystemCallError(call: "mmap", subject: path.string, errno: Errno(rawValue: errno))
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
