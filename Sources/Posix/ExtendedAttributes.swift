internal import CLinux
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The extended attributes of one file itself: a symbolic link's own, never its target's (`llistxattr(2)`,
/// `lgetxattr(2)`, `lremovexattr(2)`, through CLinux). A filesystem without extended attributes (`ENOTSUP`) has
/// none.
public enum ExtendedAttributes {
    /// The names of the attributes `path` has, in the order the filesystem lists them.
    public static func names(_ path: FilePath) throws(SystemCallError) -> [String] {
        while true {
            let size: Int
            do {
                size = try systemCall("llistxattr", path.string) { path.withPlatformString { clinux_llistxattr($0, nil, 0) } }
            } catch  where error.errno == .notSupported {
                return []
            }
            if size == 0 { return [] }
            var buffer = [CChar](repeating: 0, count: size)
            do {
                let count = try systemCall("llistxattr", path.string) { path.withPlatformString { clinux_llistxattr($0, &buffer, buffer.count) } }
                return buffer[0..<count].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            } catch  where error.errno == .outOfRange {
                continue  // an attribute was added between the two calls: ask for the size again
            }
        }
    }

    /// Whether `path` has the attribute `name` (`ENODATA` means it has not; other failures are errors).
    public static func contains(_ path: FilePath, _ name: String) throws(SystemCallError) -> Bool {
        do {
            try systemCall("lgetxattr", "\(name) of \(path)") { path.withPlatformString { clinux_lgetxattr($0, name, nil, 0) } }
            return true
        } catch  where error.errno.rawValue == ENODATA || error.errno == .notSupported {
            return false
        }
    }

    /// Removes the attribute `name` from `path`.
    public static func remove(_ path: FilePath, _ name: String) throws(SystemCallError) {
        try systemCall("lremovexattr", "\(name) of \(path)") { path.withPlatformString { clinux_lremovexattr($0, name) } }
    }
}
