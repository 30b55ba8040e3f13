#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import SystemPackage

/// The names in the directory at `path`, as raw bytes (Linux names need not be UTF-8), without "." and "..",
/// in the order `readdir(3)` returns them.
///
/// Each name is read in place up to its NUL: glibc sizes a `dirent` to its name, so copying the whole
/// 256-byte `d_name` field reads past the end of a short entry.
public func directoryNames(_ path: FilePath) throws(SystemCallError) -> [[UInt8]] {
    guard let handle = path.withPlatformString({ opendir($0) }) else {
        throw SystemCallError(call: "opendir", subject: path.string, errno: Errno(rawValue: errno))
    }
    defer { closedir(handle) }
    var names: [[UInt8]] = []
    while true {
        errno = 0
        guard let entry = readdir(handle) else {
            if errno != 0 { throw SystemCallError(call: "readdir", subject: path.string, errno: Errno(rawValue: errno)) }
            return names
        }
        let name = withUnsafePointer(to: &entry.pointee.d_name) { field in
            field.withMemoryRebound(to: UInt8.self, capacity: 1) { start in
                Array(UnsafeBufferPointer(start: start, count: strlen(UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self))))
            }
        }
        if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
        names.append(name)
    }
}
