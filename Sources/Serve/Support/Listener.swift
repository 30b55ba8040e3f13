import Posix
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A server's bound socket and its lifecycle: one thread waits on the socket from `start` until `stop`, which
/// wakes it, joins it and then closes the socket once, so the port is free again.
///
/// `Sessions` is the server's own bookkeeping (open connections, transfers); it shares the lifecycle's lock so
/// that admitting a session and stopping the server cannot cross.
final class Listener<Sessions: Sendable>: Sendable {
    /// The bound socket, for the listening thread's calls; valid until `stop` closes it after that thread ended.
    let socket: FileDescriptor
    /// The address bound, with the port the system chose when asked for port 0.
    let address: SocketAddress
    /// Signalled by `stop`; every poll of the server's threads includes it.
    let wakeup: Wakeup
    private let state: Mutex<State>

    struct State: ~Copyable {
        var sessions: Sessions
        fileprivate(set) var stopped = false
        fileprivate var started = false
        fileprivate var thread: PosixThread<Void>?
        /// The socket's owner; nil once `stop` closed it.
        fileprivate var owned: OwnedFileDescriptor?
    }

    /// Binds a socket of `type` (SOCK_STREAM/SOCK_DGRAM) on `bind` and lets `prepare` set it up (listen, buffer
    /// sizes); a failure of either is a `ServeError.socket` naming the address.
    init(type: Int32, bind: SocketAddress, sessions: Sessions, prepare: (FileDescriptor) throws(SystemCallError) -> Void) throws {
        wakeup = try Wakeup()
        let bound = try Self.bound(type, bind, prepare)
        socket = bound.descriptor
        var local = bind
        local.port = Socket.localAddress(socket)?.port ?? bind.port
        address = local
        state = Mutex(State(sessions: sessions, owned: bound))
    }

    /// A socket bound and set up; a failure closes it (not half set up, and not leaked).
    private static func bound(
        _ type: Int32, _ bind: SocketAddress, _ prepare: (FileDescriptor) throws(SystemCallError) -> Void
    ) throws(ServeError) -> OwnedFileDescriptor {
        do throws(SystemCallError) {
            let socket = try Socket.bound(type, bind)
            try prepare(socket.descriptor)
            return socket
        } catch {
            throw .socket(address: bind.description, reason: error)
        }
    }

    /// Runs `body` under the lock that also guards `stopped`.
    func withLock<R: Sendable>(_ body: (inout State) -> R) -> R {
        state.withLock { body(&$0) }
    }

    /// Starts `loop` on a dedicated joinable thread named `name`, once; does nothing after `stop`.
    func start(name: String, _ loop: @escaping @Sendable () -> Void) throws {
        try state.withLock { state throws(ServeError) in
            if state.started || state.stopped { return }
            state.started = true
            do throws(SystemCallError) {
                state.thread = try PosixThread(name: name, stackSize: 256 * 1024, loop)
            } catch {
                throw .thread(what: name, code: error.errno.rawValue)
            }
        }
    }

    /// Blocks until `stop()` is called from another thread and the listening thread has ended.
    func waitUntilStopped() {
        while waitFor(wakeup.fd.descriptor, wakeup: wakeup, milliseconds: -1) == .timedOut {}
        joinThread()
    }

    /// Marks the listener stopped, running `body` on the sessions in the same critical section, then wakes and
    /// joins the listening thread and closes the socket. Returns what `body` returned.
    @discardableResult
    func stop<R: Sendable>(_ body: (inout Sessions) -> R) -> R {
        let result = state.withLock { state -> R in
            state.stopped = true
            return body(&state.sessions)
        }
        wakeup.signal()
        joinThread()
        closeSocket()
        return result
    }

    /// Waits up to a few seconds for `idle` to hold, for sessions still ending after `stop`.
    func waitForSessions(until idle: (Sessions) -> Bool) {
        let deadline = monotonicMilliseconds() + 5000
        while !state.withLock({ idle($0.sessions) }) && monotonicMilliseconds() < deadline {
            usleep(5000)
        }
    }

    private func joinThread() {
        let thread = state.withLock { $0.thread.take() }
        if let thread { try? thread.join() }
    }

    /// Closes the socket once, after its thread has ended.
    private func closeSocket() {
        let owned = state.withLock { $0.owned.take() }
        if let owned { try? owned.close() }
    }
}
