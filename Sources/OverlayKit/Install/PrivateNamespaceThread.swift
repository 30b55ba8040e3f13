import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A thread of its own for an rpm transaction, with a private mount namespace and private root and working
/// directory (`unshare(CLONE_NEWNS | CLONE_FS)`).
///
/// rpm `chroot`s into the target root for the whole transaction; in a process with other threads that would
/// move every thread's root. Unsharing `CLONE_FS` keeps the chroot on this thread (and the scriptlets it
/// forks). Unsharing the mount namespace (with `/` made private, so nothing propagates back) keeps the overlay
/// mount invisible to the rest of the system, and the kernel drops it when the thread ends even if cleanup
/// is skipped: no mount can leak. The scriptlets are born in a PID namespace whose first process lives only as
/// long as the thread (or the build, if it is killed): no scriptlet, nor anything it started in the background,
/// outlives it, and with them goes the last hold on the mount namespace.
enum PrivateNamespaceThread {
    /// Runs `body` on a new thread in a private namespace, waits for it, and returns its result or rethrows
    /// its error.
    static func run<T>(_ body: @escaping () throws -> T) throws -> T {
        do {
            return try PosixThread.run(name: "rpm transaction") { () throws -> T in
                try unshare([.mountNamespace, .rootAndWorkingDirectory])
                try systemCall("mount", "/ (making it private)") { mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) }
                return try PIDNamespace.run(body)
            }
        } catch let error as SystemCallError {
            throw InstallError.system(error)
        }
    }
}
