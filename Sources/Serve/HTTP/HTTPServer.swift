import Posix
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A read-only HTTP/1.1 server for GET and HEAD of files beneath one directory, and of documents the catalog
/// generates. Bodies go out with `sendfile(2)`.
///
/// One thread accepts; each connection is served on its own small-stack thread, with blocking calls bounded by
/// poll deadlines and socket timeouts, so the cooperative pool is never blocked.
public final class HTTPServer: Sendable {
    let root: ServeRoot
    let socket: FileDescriptor
    let address: SocketAddress
    let catalog: (any ServeCatalog)?
    let log: AccessLog
    let limits: HTTPLimits
    let wakeup: Wakeup
    private let state = Mutex(State())

    private struct State {
        var acceptor: pthread_t?
        var started = false
        var stopped = false
        var socketClosed = false
        var connections = Set<Int32>()
    }

    /// The port the server listens on (the one chosen by the system when bound to port 0).
    public var port: UInt16 { address.port }

    /// Opens `root`, binds and listens; call `start()` or `run()` to serve.
    public init(root: FilePath, bind: SocketAddress, catalog: (any ServeCatalog)?, log: AccessLog, limits: HTTPLimits = .init()) throws {
        self.root = try ServeRoot(root)
        self.catalog = catalog
        self.log = log
        self.limits = limits
        wakeup = try Wakeup()
        do {
            socket = try Socket.bound(Int32(SOCK_STREAM.rawValue), bind)
            try systemCall("listen", bind.description) { [socket] in Glibc.listen(socket.rawValue, 1024) }
        } catch {
            throw ServeError.socket(address: bind.description, reason: error)
        }
        var bound = bind
        bound.port = Socket.localAddress(socket)?.port ?? bind.port
        address = bound
    }

    /// Like `init(root:bind:...)` with the address as "ADDR:PORT".
    public convenience init(root: FilePath, bind: String, catalog: (any ServeCatalog)?, log: AccessLog, limits: HTTPLimits = .init()) throws {
        try self.init(root: root, bind: SocketAddress(bind), catalog: catalog, log: log, limits: limits)
    }

    deinit { stop() }

    /// Closes the listening socket once, after its thread has ended, so the port is free again.
    private func closeSocket() {
        let close = state.withLock { state -> Bool in
            defer { state.socketClosed = true }
            return !state.socketClosed
        }
        if close { _ = Glibc.close(socket.rawValue) }
    }

    /// Starts accepting on a dedicated thread and returns.
    public func start() throws {
        let go = state.withLock { state -> Bool in
            if state.started || state.stopped { return false }
            state.started = true
            return true
        }
        guard go else { return }
        let thread = try ServeThread.start(name: "HTTP acceptor", detached: false) { [self] in acceptLoop() }
        state.withLock { $0.acceptor = thread }
    }

    /// Starts serving and blocks until `stop()` is called from another thread.
    public func run() throws {
        try start()
        while waitFor(wakeup.fd, wakeup: wakeup, milliseconds: -1) == .timedOut {}
        waitForAcceptor()
    }

    /// Stops accepting, closes open connections, and waits (up to a few seconds) for their threads to end.
    public func stop() {
        let open = state.withLock { state -> [Int32] in
            state.stopped = true
            return Array(state.connections)
        }
        wakeup.signal()
        waitForAcceptor()
        closeSocket()
        for fd in open { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        let deadline = monotonicMilliseconds() + 5000
        while !state.withLock({ $0.connections.isEmpty }) && monotonicMilliseconds() < deadline {
            usleep(5000)
        }
    }

    private func waitForAcceptor() {
        let thread = state.withLock { state -> pthread_t? in
            defer { state.acceptor = nil }
            return state.acceptor
        }
        if let thread { ServeThread.join(thread) }
    }

    private func acceptLoop() {
        while waitFor(socket, wakeup: wakeup, milliseconds: -1) == .ready {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(socket.rawValue, $0, &length) }
            }
            guard fd >= 0 else {
                // EMFILE/ENFILE: back off a little instead of spinning on a full descriptor table.
                if errno == EMFILE || errno == ENFILE { usleep(10_000) }
                continue
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard let client = SocketAddress(storage) else {
                _ = close(fd)
                continue
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.connections.count < limits.maxConnections else { return false }
                state.connections.insert(fd)
                return true
            }
            guard admitted else {
                refuse(fd, client)
                continue
            }
            let connection = HTTPConnection(server: self, fd: FileDescriptor(rawValue: fd), client: client)
            do {
                try ServeThread.start(name: "HTTP connection", detached: true, stackSize: 256 * 1024) { [self] in
                    connection.serve()
                    _ = state.withLock { $0.connections.remove(fd) }
                    _ = close(fd)
                }
            } catch {
                _ = state.withLock { $0.connections.remove(fd) }
                refuse(fd, client)
            }
        }
    }

    /// Answers 503 to a connection over the cap, without waiting for its request, and closes it.
    private func refuse(_ fd: Int32, _ client: SocketAddress) {
        let body = "503 Service Unavailable: too many connections, try again later.\n"
        let response =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
        _ = Array(response.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        _ = close(fd)
        log.record(.init(proto: "http", client: client, method: "-", path: "", status: "503", bytes: 0, milliseconds: 0, detail: "connection limit"))
    }
}
