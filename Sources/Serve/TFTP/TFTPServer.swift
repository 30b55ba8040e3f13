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
    let listener: Listener<Transfers>
    let catalog: (any ServeCatalog)?
    let log: AccessLog
    let limits: TFTPLimits

    struct Transfers {
        var active = 0
        /// Transfers by client endpoint, to recognise a client's resent RRQ.
        var byClient: [SocketAddress: TransferToken] = [:]
    }

    /// The port the server listens on (the one chosen by the system when bound to port 0).
    public var port: UInt16 { listener.address.port }

    /// Opens `root` and binds the UDP socket; call `start()` or `run()` to serve.
    public init(root: FilePath, bind: SocketAddress, catalog: (any ServeCatalog)?, log: AccessLog, limits: TFTPLimits = .init()) throws {
        self.root = try ServeRoot(root)
        self.catalog = catalog
        self.log = log
        self.limits = limits
        listener = try Listener(type: Int32(SOCK_DGRAM.rawValue), bind: bind, sessions: Transfers()) { socket in
            // Room for a boot storm: hundreds of nodes powered on together send their RRQs in the same instant.
            // SO_RCVBUFFORCE passes rmem_max when the server runs as root; otherwise the kernel caps SO_RCVBUF.
            Socket.setOption(socket, SOL_SOCKET, SO_RCVBUF, 4 << 20)
            Socket.setOption(socket, SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        }
    }

    /// Like `init(root:bind:...)` with the address as "ADDR:PORT".
    public convenience init(root: FilePath, bind: String, catalog: (any ServeCatalog)?, log: AccessLog, limits: TFTPLimits = .init()) throws {
        try self.init(root: root, bind: SocketAddress(bind), catalog: catalog, log: log, limits: limits)
    }

    deinit { stop() }

    /// Starts serving on a dedicated thread and returns.
    public func start() throws {
        try listener.start(name: "TFTP listener") { [self] in listen() }
    }

    /// Starts serving and blocks until `stop()` is called from another thread.
    public func run() throws {
        try start()
        listener.waitUntilStopped()
    }

    /// Stops receiving requests, ends transfers in flight, and waits (up to a few seconds) for them to finish.
    public func stop() {
        listener.stop { _ in }
        listener.waitForSessions { $0.active == 0 }
    }

    private func listen() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        let socket = listener.socket
        while waitFor(socket, wakeup: listener.wakeup, milliseconds: -1) == .ready {
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
            let admission = listener.withLock { state -> Admission in
                if let current = state.sessions.byClient[client], !current.hasHeard(from: client) { return .duplicate }
                guard state.sessions.active < limits.maxTransfers, !state.stopped else { return .busy }
                state.sessions.active += 1
                state.sessions.byClient[client] = token
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
                listener.withLock { state in
                    state.sessions.active -= 1
                    if state.sessions.byClient[client] === token { state.sessions.byClient[client] = nil }
                }
            }
            do {
                try PosixThread.detach(name: "TFTP transfer", stackSize: 128 * 1024) { [self] in
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
        _ = packet.withUnsafeBytes { Socket.send(listener.socket, $0, to: client) }
        log.metrics?.began("tftp")
        log.record(
            .init(proto: "tftp", client: client, method: method, path: path, status: "error \(code.rawValue)", bytes: 0, milliseconds: 0, detail: message))
    }
}

/// Whether a transfer has heard from its client yet, asked by the listener when the same client sends an RRQ.
final class TransferToken: Sendable {
    let heard = Atomic<Bool>(false)
    /// The transfer's socket; -2 before the transfer has one, -1 after it finished.
    private let socket = Locked<Int32>(-2)

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
