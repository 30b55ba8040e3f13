internal import CLinux
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `openat2(2)`'s `RESOLVE_*` flags (linux/openat2.h).
public struct ResolveFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let noXDev = ResolveFlags(rawValue: UInt64(RESOLVE_NO_XDEV))
    public static let noMagicLinks = ResolveFlags(rawValue: UInt64(RESOLVE_NO_MAGICLINKS))
    public static let noSymlinks = ResolveFlags(rawValue: UInt64(RESOLVE_NO_SYMLINKS))
    public static let beneath = ResolveFlags(rawValue: UInt64(RESOLVE_BENEATH))
    public static let inRoot = ResolveFlags(rawValue: UInt64(RESOLVE_IN_ROOT))
}

/// Opens `path` relative to the directory `directory` with `openat2(2)`, so that the kernel, not string checks,
/// keeps the resolution inside the directory (`RESOLVE_BENEATH`) and refuses symbolic links
/// (`RESOLVE_NO_SYMLINKS`). `path` is raw bytes without a NUL; `mode` is a new file's permissions when `flags` hold
/// `O_CREAT`. The caller owns the descriptor returned. glibc 2.36 has no `openat2` wrapper: `clinux_openat2` makes
/// the system call.
public func openBeneath(
    _ directory: FileDescriptor, _ path: [UInt8], flags: Int32 = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode: UInt32 = 0,
    resolve: ResolveFlags = [.beneath, .noSymlinks, .noMagicLinks]
) throws(SystemCallError) -> OwnedFileDescriptor {
    var cPath = path.map { CChar(bitPattern: $0) }
    cPath.append(0)
    let fd = try systemCall("openat2", String(decoding: path, as: UTF8.self)) {
        clinux_openat2(directory.rawValue, cPath, UInt64(UInt32(bitPattern: flags)), UInt64(mode), resolve.rawValue)
    }
    return OwnedFileDescriptor(rawValue: fd)
}
