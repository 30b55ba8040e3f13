import Posix
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A read-only TFTP server (RFC 1350, options RFC 2347/2348/2349, windowsize RFC 7440) confined to one directory.
///
/// One thread receives requests on the listening port; each transfer runs on its own thread with its own socket
/// (its own port, the server's transfer ID), so a slow or lost client never holds up the others.
public final class TFTPServer: Sendable {
    let root: ServeRoot
    let socket: FileDescriptor
    let address: SocketAddress
    let catalog: (any ServeCatalog)?
    let log: AccessLog
    let limits: TFTPLimits
    let wakeup: Wakeup
    private let state = Mutex(State())

    private struct State {
        var listener: pthread_t?
        var started = false
        var stopped = false
        var socketClosed = false
        var active = 0
        /// Transfers by client endpoint, to recognise a client's resent RRQ.
        var transfers: [SocketAddress: TransferToken] = [:]
    }

    /// The port the server listens on (the one chosen by the system when bound to port 0).
    public var port: UInt16 { address.port }

    /// Opens `root` and binds the UDP socket; call `start()` or `run()` to serve.
    public init(root: FilePath, bind: SocketAddress, catalog: (any ServeCatalog)?, log: AccessLog, limits: TFTPLimits = .init()) throws {
        self.root = try ServeRoot(root)
        self.catalog = catalog
        self.log = log
        self.limits = limits
        wakeup = try Wakeup()
        do {
            socket = try Socket.bound(Int32(SOCK_DGRAM.rawValue), bind)
            // Room for a boot storm: hundreds of nodes powered on together send their RRQs in the same instant.
            // SO_RCVBUFFORCE passes rmem_max when the server runs as root; otherwise the kernel caps SO_RCVBUF.
            Socket.setOption(socket, SOL_SOCKET, SO_RCVBUF, 4 << 20)
            Socket.setOption(socket, SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        } catch {
            throw ServeError.socket(address: bind.description, reason: error)
        }
        var bound = bind
        bound.port = Socket.localAddress(socket)?.port ?? bind.port
        address = bound
    }

    /// Like `init(root:bind:...)` with the address as "ADDR:PORT".
    public convenience init(root: FilePath, bind: String, catalog: (any ServeCatalog)?, log: AccessLog, limits: TFTPLimits = .init()) throws {
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

    /// Starts serving on a dedicated thread and returns.
    public func start() throws {
        let go = state.withLock { state -> Bool in
            if state.started || state.stopped { return false }
            state.started = true
            return true
        }
        guard go else { return }
        let thread = try ServeThread.start(name: "TFTP listener", detached: false) { [self] in listen() }
        state.withLock { $0.listener = thread }
    }

    /// Starts serving and blocks until `stop()` is called from another thread.
    public func run() throws {
        try start()
        while true {
            if waitFor(wakeup.fd, wakeup: wakeup, milliseconds: -1) != .timedOut { break }
        }
        waitForListener()
    }

    /// Stops receiving requests, ends transfers in flight, and waits (up to a few seconds) for them to finish.
    public func stop() {
        state.withLock { $0.stopped = true }
        wakeup.signal()
        waitForListener()
        closeSocket()
        let deadline = monotonicMilliseconds() + 5000
        while state.withLock({ $0.active }) > 0 && monotonicMilliseconds() < deadline {
            usleep(5000)
        }
    }

    private func waitForListener() {
        let thread = state.withLock { state -> pthread_t? in
            defer { state.listener = nil }
            return state.listener
        }
        if let thread { ServeThread.join(thread) }
    }

    private func listen() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        while waitFor(socket, wakeup: wakeup, milliseconds: -1) == .ready {
            guard let (count, client) = Socket.receive(socket, into: buffer) else { continue }
            handle(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), from: client)
        }
    }

    /// Answers or drops one packet on the listening port; nothing a client sends here can stop the server.
    private func handle(_ packet: UnsafeRawBufferPointer, from client: SocketAddress) {
        guard packet.count >= 2 else { return }
        let opcode = UInt16(packet[0]) << 8 | UInt16(packet[1])
        switch TFTPOpcode(rawValue: opcode) {
        case .readRequest:
            guard let request = TFTPRequest.parse(packet, maxField: limits.maxPathLength) else {
                reply(client, .illegalOperation, "malformed request", method: "RRQ", path: "")
                return
            }
            // A client that resends its RRQ before hearing from us (a slow first reply) must not start a second
            // transfer: its duplicate would talk to the client from another port. Once the client has answered
            // its transfer, an RRQ from the same port is a new request (OVMF's size probe, then the real one).
            let token = TransferToken()
            let admission = state.withLock { state -> Admission in
                if let current = state.transfers[client], !current.hasHeard(from: client) { return .duplicate }
                guard state.active < limits.maxTransfers, !state.stopped else { return .busy }
                state.active += 1
                state.transfers[client] = token
                return .admitted
            }
            switch admission {
            case .duplicate:
                return
            case .busy:
                reply(client, .undefined, "server busy, try again later", method: "RRQ", path: String(decoding: request.filename, as: UTF8.self))
                return
            case .admitted:
                break
            }
            let finished: @Sendable () -> Void = { [self] in
                state.withLock { state in
                    state.active -= 1
                    if state.transfers[client] === token { state.transfers[client] = nil }
                }
            }
            do {
                try ServeThread.start(name: "TFTP transfer", detached: true, stackSize: 128 * 1024) { [self] in
                    TFTPTransfer(server: self, client: client, request: request, token: token).run()
                    finished()
                }
            } catch {
                finished()
                reply(client, .undefined, "server busy, try again later", method: "RRQ", path: String(decoding: request.filename, as: UTF8.self))
            }
        case .writeRequest:
            let name = TFTPRequest.parse(packet, maxField: limits.maxPathLength).map { String(decoding: $0.filename, as: UTF8.self) } ?? ""
            reply(client, .accessViolation, "this server is read-only", method: "WRQ", path: name)
        case .data, .ack, .error, .optionAck:
            return  // stray packets of a finished or unknown transfer: nothing to answer
        case nil:
            reply(client, .illegalOperation, "unknown opcode \(opcode)", method: "?", path: "")
        }
    }

    private enum Admission {
        case admitted
        case duplicate
        case busy
    }

    private func reply(_ client: SocketAddress, _ code: TFTPErrorCode, _ message: String, method: String, path: String) {
        let packet = TFTPPacket.error(code, message)
        _ = packet.withUnsafeBytes { Socket.send(socket, $0, to: client) }
        log.record(
            .init(proto: "tftp", client: client, method: method, path: path, status: "error \(code.rawValue)", bytes: 0, milliseconds: 0, detail: message))
    }
}

/// Whether a transfer has heard from its client yet, asked by the listener when the same client sends an RRQ.
final class TransferToken: Sendable {
    let heard = Atomic<Bool>(false)
    /// The transfer's socket; -2 before the transfer has one, -1 after it finished.
    private let socket = Mutex<Int32>(-2)

    func attach(_ fd: FileDescriptor) { socket.withLock { $0 = fd.rawValue } }
    func detach() { socket.withLock { $0 = -1 } }

    /// True once the transfer took a packet from `client`, or one is already waiting on its socket: a client
    /// that ends a transfer (ERROR 8 after a size probe) and at once asks again from the same port is making a
    /// new request, even when the transfer thread has not read the ERROR yet.
    func hasHeard(from client: SocketAddress) -> Bool {
        if heard.load(ordering: .relaxed) { return true }
        return socket.withLock { fd -> Bool in
            if fd == -2 { return false }  // still starting: the client cannot have answered it yet
            if fd == -1 { return true }  // finished: anything new is a new request
            var byte: UInt8 = 0
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT), $0, &length) }
            }
            return count >= 0 && SocketAddress(storage) == client
        }
    }
}
