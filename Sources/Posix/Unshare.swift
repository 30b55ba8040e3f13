internal import CLinux
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What `unshare(2)` gives the calling thread a private copy of (sched.h's `CLONE_*` flags).
public struct UnshareFlags: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `CLONE_NEWNS`: a mount namespace of its own; mounts made afterwards are invisible elsewhere.
    public static let mountNamespace = UnshareFlags(rawValue: clinux_clone_newns)
    /// `CLONE_FS`: a root directory, working directory and umask of its own, so `chdir` and `chroot` move only
    /// this thread.
    public static let rootAndWorkingDirectory = UnshareFlags(rawValue: clinux_clone_fs)
    /// `CLONE_NEWPID`: the processes this thread forks afterwards are born in a new PID namespace.
    public static let pidNamespace = UnshareFlags(rawValue: clinux_clone_newpid)

    /// The flags as the manual names them: `CLONE_NEWNS|CLONE_FS`.
    public var description: String {
        let names: [(UnshareFlags, String)] = [(.mountNamespace, "CLONE_NEWNS"), (.rootAndWorkingDirectory, "CLONE_FS"), (.pidNamespace, "CLONE_NEWPID")]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
    }
}

/// `unshare(2)` for the calling thread (glibc declares it only under `_GNU_SOURCE`; `clinux_unshare` calls it).
public func unshare(_ flags: UnshareFlags) throws(SystemCallError) {
    try systemCall("unshare", "(\(flags))") { clinux_unshare(flags.rawValue) }
}
