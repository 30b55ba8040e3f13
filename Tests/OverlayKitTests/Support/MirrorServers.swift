import Foundation
import Glibc
import Synchronization

/// A TCP listener on 127.0.0.1 and a free port, with a thread that takes each connection and hands it to
/// `serve`; stopping closes the listener and every connection it took.
class LoopbackTCPServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    private let connections = Mutex<[Int32]>([])

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound, listen(fd, 64) == 0 else {
            if fd >= 0 { close(fd) }
            throw CocoaError(.fileWriteUnknown)
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            acceptLoop()
            done.signal()
        }
    }

    /// Handles one accepted connection on the accepting thread; the server closes it afterwards unless `keeps`.
    func serve(_ connection: Int32) {}

    /// Whether a connection stays open after `serve` returns (a silent mirror holds them until `stop`).
    var keepsConnections: Bool { false }

    var isRunning: Bool { running.load(ordering: .relaxed) }

    private func acceptLoop() {
        while isRunning {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) == 1 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            serve(connection)
            if keepsConnections {
                connections.withLock { $0.append(connection) }
            } else {
                close(connection)
            }
        }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        done.wait()
        close(listener)
        for connection in connections.withLock({ $0 }) { close(connection) }
    }
}

/// A mirror that accepts every connection and never says a word.
final class SilentMirror: LoopbackTCPServer, @unchecked Sendable {
    override var keepsConnections: Bool { true }
}

/// A mirror that serves a directory over HTTP/1.1 slowly: each answer starts after `firstByteDelay` seconds, and
/// the bodies of files whose name ends in `dribbledSuffix` come in `pieces` parts with `pieceDelay` seconds between
/// them; requests for names ending in `stallingSuffix` get no answer at all (the connection is closed after `stall`
/// seconds). Each answer's duration, from request to last byte, is recorded by path.
final class SlowMirror: LoopbackTCPServer, @unchecked Sendable {
    let directory: URL
    let firstByteDelay: Double
    let dribbledSuffix: String
    let pieces: Int
    let pieceDelay: Double
    let stallingSuffix: String?
    let stall: Double
    private let served = Mutex<[(path: String, seconds: Double)]>([])

    init(
        directory: URL, firstByteDelay: Double = 0, dribbledSuffix: String = "", pieces: Int = 1, pieceDelay: Double = 0,
        stallingSuffix: String? = nil, stall: Double = 0
    ) throws {
        self.stallingSuffix = stallingSuffix
        self.stall = stall
        self.directory = directory
        self.firstByteDelay = firstByteDelay
        self.dribbledSuffix = dribbledSuffix
        self.pieces = pieces
        self.pieceDelay = pieceDelay
        try super.init()
    }

    /// The paths served so far and how long each answer took.
    var answers: [(path: String, seconds: Double)] { served.withLock { $0 } }

    override func serve(_ connection: Int32) {
        let started = Date()
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: head, as: UTF8.self).contains("\r\n\r\n") {
            var poller = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 5000) == 1 else { return }
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            head += buffer[0..<count]
        }
        let requestLine = String(decoding: head, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = requestLine.split(separator: " ")
        guard parts.count >= 2, parts[0] == "GET" else { return }
        let path = String(parts[1].drop(while: { $0 == "/" }))
        if let stallingSuffix, path.hasSuffix(stallingSuffix) {
            Thread.sleep(forTimeInterval: stall)
            return
        }
        Thread.sleep(forTimeInterval: firstByteDelay)
        guard let body = try? Data(contentsOf: directory.appendingPathComponent(path)) else {
            send(connection, Data("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        }
        send(connection, Data("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8))
        if path.hasSuffix(dribbledSuffix) {
            let size = (body.count + pieces - 1) / pieces
            for (index, start) in stride(from: 0, to: body.count, by: size).enumerated() {
                if index > 0 { Thread.sleep(forTimeInterval: pieceDelay) }
                send(connection, body[start..<min(start + size, body.count)])
            }
        } else {
            send(connection, body)
        }
        let seconds = Date().timeIntervalSince(started)
        served.withLock { $0.append((path, seconds)) }
    }

    private func send(_ connection: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = Glibc.send(connection, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { return }
                offset += sent
            }
        }
    }
}
