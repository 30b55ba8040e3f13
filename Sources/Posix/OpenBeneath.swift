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
    public static let noXDev = ResolveFlags(rawValue: 0x01)
    public static let noMagicLinks = ResolveFlags(rawValue: 0x02)
    public static let noSymlinks = ResolveFlags(rawValue: 0x04)
    public static let beneath = ResolveFlags(rawValue: 0x08)
    public static let inRoot = ResolveFlags(rawValue: 0x10)
}

/// linux/openat2.h's `struct open_how`: three 64-bit fields, in this order.
private struct OpenHow {
    var flags: UInt64
    var mode: UInt64
    var resolve: UInt64
}

/// `SYS_openat2` is 437 on every Linux architecture (it was added after the syscall tables were unified).
private let sysOpenat2 = 437

/// glibc 2.36 has no `openat2` wrapper and Swift cannot call the variadic `syscall(2)` directly. On the Linux
/// ABIs Swift runs on (x86_64, aarch64) integer variadic arguments travel exactly like fixed ones, so
/// `syscall` is called through a fixed-signature C function pointer.
private typealias SyscallFunction = @convention(c) (Int, Int32, UnsafePointer<CChar>, UnsafeRawPointer, Int) -> Int

private let syscallFunction: SyscallFunction? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall") else { return nil }
    return unsafeBitCast(symbol, to: SyscallFunction.self)
}()

/// Opens `path` relative to the directory `directory` with `openat2(2)`, so that the kernel, not string
/// checks, keeps the resolution inside the directory (`RESOLVE_BENEATH`) and refuses symbolic links
/// (`RESOLVE_NO_SYMLINKS`). `path` is raw bytes without a NUL. The caller owns the descriptor returned.
public func openBeneath(
    _ directory: FileDescriptor, _ path: [UInt8], flags: Int32 = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
    resolve: ResolveFlags = [.beneath, .noSymlinks, .noMagicLinks]
) throws(SystemCallError) -> OwnedFileDescriptor {
    let subject = String(decoding: path, as: UTF8.self)
    guard let call = syscallFunction else {
        throw SystemCallError(call: "openat2", subject: subject, errno: .noFunction)
    }
    var how = OpenHow(flags: UInt64(UInt32(bitPattern: flags)), mode: 0, resolve: resolve.rawValue)
    var cPath = path.map { CChar(bitPattern: $0) }
    cPath.append(0)
    let fd = try systemCall("openat2", subject) {
        cPath.withUnsafeBufferPointer { name in
            guard let base = name.baseAddress else {
                Glibc.errno = EINVAL
                return -1
            }
            return withUnsafePointer(to: &how) { howPointer in
                call(sysOpenat2, directory.rawValue, base, UnsafeRawPointer(howPointer), MemoryLayout<OpenHow>.size)
            }
        }
    }
    return OwnedFileDescriptor(rawValue: Int32(fd))
}
