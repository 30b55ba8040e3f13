internal import CRPM
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
                try systemCall("unshare", "(a private mount namespace)") { overlay_rpm_unshare_mounts_and_root() }
                try systemCall("mount", "/ (making it private)") { mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) }
                try systemCall("unshare", "(a private PID namespace)") { overlay_rpm_unshare_pids() }
                var keepalive: Int32 = -1
                let first = try systemCall("fork", "(the PID namespace's first process)") { overlay_rpm_fork_namespace_init(&keepalive) }
                defer { endNamespace(first: first, keepalive: OwnedFileDescriptor(rawValue: keepalive)) }
                return try body()
            }
        } catch let error as SystemCallError {
            throw InstallError.system(error)
        }
    }
}

/// Ends the PID namespace the scriptlets ran in: its first process sees end-of-file and exits, and the kernel
/// kills whatever a scriptlet left running there. Reaps it, waiting a few seconds at most (a process that will
/// not die stays a zombie until the build exits, rather than hanging it).
private func endNamespace(first: Int32, keepalive: consuming OwnedFileDescriptor) {
    try? keepalive.close()
    for _ in 0..<500 {
        guard let reaped = try? systemCall("waitpid", "\(first)", { waitpid(first, nil, WNOHANG) }), reaped != first else { return }
        usleep(10_000)
    }
}
