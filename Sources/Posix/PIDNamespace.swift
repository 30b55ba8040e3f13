internal import CLinux
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A PID namespace for the processes a thread forks, which lives no longer than the work it was made for.
public enum PIDNamespace {
    /// Runs `body` with every process the calling thread forks born in a new PID namespace, and ends the namespace
    /// when `body` returns or throws: the kernel then kills every process left in it, so nothing started there,
    /// nor anything that went on in the background, outlives `body`. Call it on a thread of its own (a
    /// `PosixThread`): the thread's children stay in that namespace afterwards.
    ///
    /// `unshare(CLONE_NEWPID)` applies to children only, so the namespace's first process is forked here
    /// (`clinux_fork_namespace_init`): it closes every descriptor but the read end of a pipe and waits for
    /// end-of-file on it, while this thread holds the write end. When the write end closes, at the end of `body`
    /// or when this process dies, even by SIGKILL, the first process exits and the namespace ends with it.
    public static func run<R>(_ body: () throws -> R) throws -> R {
        try unshare(.pidNamespace)
        var keepalive: Int32 = -1
        let first = try systemCall("fork", "(the PID namespace's first process)") { clinux_fork_namespace_init(&keepalive) }
        defer { end(first: first, keepalive: OwnedFileDescriptor(rawValue: keepalive)) }
        return try body()
    }

    /// Closes the write end, so the first process sees end-of-file and exits, and reaps it, waiting a few seconds
    /// at most (a process that will not die stays a zombie until this process exits, rather than hanging it).
    private static func end(first: pid_t, keepalive: consuming OwnedFileDescriptor) {
        try? keepalive.close()
        for _ in 0..<500 {
            guard let reaped = try? systemCall("waitpid", "\(first)", { waitpid(first, nil, WNOHANG) }), reaped != first else { return }
            usleep(10_000)
        }
    }
}
