import Posix
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
    let listener: Listener<Connections>
    let catalog: (any ServeCatalog)?
    let log: AccessLog
    let limits: HTTPLimits

    struct Connections {
        var open = Set<Int32>()
    }

    /// The port the server listens on (the one chosen by the system when bound to port 0).
    public var port: UInt16 { listener.address.port }

    /// Opens `root`, binds and listens; call `start()` or `run()` to serve.
    public init(root: FilePath, bind: SocketAddress, catalog: (any ServeCatalog)?, log: AccessLog, limits: HTTPLimits = .init()) throws {
        self.root = try ServeRoot(root)
        self.catalog = catalog
        self.log = log
        self.limits = limits
        listener = try Listener(type: Int32(SOCK_STREAM.rawValue), bind: bind, sessions: Connections()) { socket throws(SystemCallError) in
            try systemCall("listen", bind.description) { Glibc.listen(socket.rawValue, 1024) }
        }
    }

    /// Like `init(root:bind:...)` with the address as "ADDR:PORT".
    public convenience init(root: FilePath, bind: String, catalog: (any ServeCatalog)?, log: AccessLog, limits: HTTPLimits = .init()) throws {
        try self.init(root: root, bind: SocketAddress(bind), catalog: catalog, log: log, limits: limits)
    }

    deinit { stop() }

    /// Starts accepting on a dedicated thread and returns.
    public func start() throws {
        try listener.start(name: "HTTP acceptor") { [self] in acceptLoop() }
    }

    /// Starts serving and blocks until `stop()` is called from another thread.
    public func run() throws {
        try start()
        listener.waitUntilStopped()
    }

    /// Stops accepting, closes open connections, and waits (up to a few seconds) for their threads to end.
    public func stop() {
        let open = listener.stop { Array($0.open) }
        for fd in open { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        listener.waitForSessions { $0.open.isEmpty }
    }

    private func acceptLoop() {
        let socket = listener.socket
        while waitFor(socket, wakeup: listener.wakeup, milliseconds: -1) == .ready {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let accepted: Int32
            do {
                accepted = try systemCall("accept", listener.address.description) {
                    withUnsafeMutablePointer(to: &storage) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(socket.rawValue, $0, &length) }
                    }
                }
            } catch {
                // EMFILE/ENFILE: back off a little instead of spinning on a full descriptor table.
                if error.errno == .tooManyOpenFiles || error.errno == .tooManyOpenFilesInSystem { usleep(10_000) }
                continue
            }
            let owned = OwnedFileDescriptor(rawValue: accepted)
            let fd = owned.rawValue
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard let client = SocketAddress(storage) else { continue }  // closed as `owned` goes
            let admitted = listener.withLock { state -> Bool in
                guard !state.stopped, state.sessions.open.count < limits.maxConnections else { return false }
                state.sessions.open.insert(fd)
                return true
            }
            guard admitted else {
                refuse(owned.descriptor, client)
                continue
            }
            let connection = HTTPConnection(server: self, socket: owned, client: client)
            do {
                // The thread holds the only other reference to `connection`: the socket is closed once it lets go,
                // after the descriptor left the open set, so `stop` never shuts down a number reused since.
                try PosixThread.detach(name: "HTTP connection", stackSize: 256 * 1024) { [self] in
                    connection.serve()
                    _ = listener.withLock { $0.sessions.open.remove(fd) }
                }
            } catch {
                _ = listener.withLock { $0.sessions.open.remove(fd) }
                refuse(connection.socket.descriptor, client)
            }
        }
    }

    /// Answers 503 to a connection over the cap, without waiting for its request; its owner then closes it.
    private func refuse(_ fd: FileDescriptor, _ client: SocketAddress) {
        let body = "503 Service Unavailable: too many connections, try again later.\n"
        let response =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
        _ = Array(response.utf8).withUnsafeBytes { send(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        log.metrics?.began("http")
        log.record(.init(proto: "http", client: client, method: "-", path: "", status: "503", bytes: 0, milliseconds: 0, detail: "connection limit"))
    }
}
