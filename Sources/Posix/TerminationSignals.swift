#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// SIGINT and SIGTERM turned into bytes on a pipe, so that a thread can act on them outside a signal handler
/// (the self-pipe trick): the handler only `write(2)`s the signal number, which is async-signal-safe.
///
/// Handlers, not a blocked mask with `sigwait`: a mask is inherited by every thread and across `exec`, so
/// scriptlets and tools started by librpm or `Process` would begin with SIGINT blocked.
public enum TerminationSignals {
    nonisolated(unsafe) private static var pipeEnds: (read: Int32, write: Int32) = (-1, -1)

    /// Installs the handlers (with `SA_RESTART`, so other threads' system calls carry on), except for a signal
    /// the process was started with ignored, and unblocks both on the calling thread (threads started later
    /// inherit that). Call once, from the main thread, before `wait`.
    public static func install() throws(SystemCallError) {
        var ends: [Int32] = [-1, -1]
        try systemCall("pipe", "(for SIGINT and SIGTERM)") { pipe(&ends) }
        // Not inherited by the scriptlets and tools the process starts (pipe2 needs _GNU_SOURCE).
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        pipeEnds = (ends[0], ends[1])
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            let saved = errno
            var byte = UInt8(truncatingIfNeeded: signal)
            _ = write(TerminationSignals.pipeEnds.write, &byte, 1)
            errno = saved
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        // A mask inherited across exec (some launchers block SIGTERM) would hold the signals back for good.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, SIGINT)
        sigaddset(&unblocked, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        for signal in [SIGINT, SIGTERM] {
            // A signal ignored on entry stays ignored, as a shell's background job expects for SIGINT.
            var current = sigaction()
            try systemCall("sigaction", name(signal)) { sigaction(signal, nil, &current) }
            if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            try systemCall("sigaction", name(signal)) { sigaction(signal, &action, nil) }
        }
    }

    /// Blocks until one of the signals arrives and returns its number.
    public static func wait() -> Int32 {
        var byte: UInt8 = 0
        while true {
            if (try? systemCall("read", "(the signal pipe)") { read(pipeEnds.read, &byte, 1) }) == 1 { return Int32(byte) }
            // The pipe cannot close while the process runs; should reading fail, wait without spinning.
            pause()
        }
    }

    /// "SIGINT", "SIGTERM".
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }
}
