import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// One client connection: reads request heads under a deadline, answers each, and keeps the connection open
/// while the client wants it and behaves. It owns the accepted socket, closed when the connection goes away.
package final class HTTPConnection: Sendable {
    let server: HTTPServer
    let socket: OwnedFileDescriptor
    let client: SocketAddress

    init(server: HTTPServer, socket: consuming OwnedFileDescriptor, client: SocketAddress) {
        self.server = server
        self.socket = socket
        self.client = client
    }

    var fd: FileDescriptor { socket.descriptor }

    var limits: HTTPLimits { server.limits }

    func serve() {
        Socket.setTimeout(fd, SO_SNDTIMEO, milliseconds: limits.idleTimeoutMilliseconds)
        defer { lingeringClose() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        var first = true
        while true {
            let head: ArraySlice<UInt8>
            switch readHead(&buffer, firstRequest: first) {
            case .closed:
                return
            case .failed(let status):
                let started = monotonicMilliseconds()
                server.log.metrics?.began("http")
                let sent = sendError(status, method: "GET", keepAlive: false)
                record(method: "-", path: "", status: status, bytes: sent, started: started, detail: "malformed request head")
                return
            case .head(let end, let bodyStart):
                head = buffer[0..<end]
                // What follows the head: a POST's body, or the next pipelined request.
                var following = Array(buffer[bodyStart...])
                let keepAlive = answer(head, following: &following)
                buffer = following
                if !keepAlive { return }
            }
            first = false
        }
    }

    /// Half-closes and reads what the client still sends (an unread body, a pipelined request) for a moment
    /// before the descriptor is closed: closing with unread input would reset the connection and could destroy
    /// the response still on its way to the client.
    private func lingeringClose() {
        _ = shutdown(fd.rawValue, Int32(SHUT_WR))
        let deadline = monotonicMilliseconds() + 1000
        var drained = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while drained < 1 << 16 {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0, waitFor(fd, wakeup: server.listener.wakeup, milliseconds: remaining) == .ready else { return }
            let received = try? systemCall("recv", client.description, blocking: false) {
                chunk.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            }
            if received == .wouldBlock { continue }
            guard case .processed(let count) = received, count > 0 else { return }
            drained += count
        }
    }

    enum HeadResult {
        case closed
        case failed(HTTPStatus)
        case head(end: Int, bodyStart: Int)
    }

    /// Reads until a blank line ends the head. The first byte may take the idle timeout (keep-alive); the
    /// whole head must then arrive within the header timeout, however slowly the bytes trickle in.
    private func readHead(_ buffer: inout [UInt8], firstRequest: Bool) -> HeadResult {
        var deadline = monotonicMilliseconds() + (firstRequest ? limits.headerTimeoutMilliseconds : limits.idleTimeoutMilliseconds)
        var headStarted = !buffer.isEmpty
        if headStarted { deadline = monotonicMilliseconds() + limits.headerTimeoutMilliseconds }
        var scanned = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let found = Self.endOfHead(buffer, from: scanned) {
                return found.end > limits.maxHeaderBytes ? .failed(.badRequest) : .head(end: found.end, bodyStart: found.next)
            }
            scanned = max(0, buffer.count - 3)
            if buffer.count > limits.maxHeaderBytes { return .failed(.badRequest) }
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { return headStarted ? .failed(.requestTimeout) : .closed }
            switch waitFor(fd, wakeup: server.listener.wakeup, milliseconds: remaining) {
            case .woken: return .closed
            case .timedOut: return headStarted ? .failed(.requestTimeout) : .closed
            case .ready: break
            }
            let received = try? systemCall("recv", client.description, blocking: false) {
                chunk.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            }
            if received == .wouldBlock { continue }
            guard case .processed(let count) = received, count > 0 else { return .closed }
            if !headStarted {
                headStarted = true
                deadline = monotonicMilliseconds() + limits.headerTimeoutMilliseconds
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// The end of the head (before the blank line) and where the next bytes start; accepts bare LF line ends.
    package static func endOfHead(_ bytes: [UInt8], from start: Int) -> (end: Int, next: Int)? {
        var i = start
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\n") {
                if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\n") { return (i, i + 2) }
                if i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "\r"), bytes[i + 2] == UInt8(ascii: "\n") { return (i, i + 3) }
            }
            i += 1
        }
        return nil
    }

    /// Answers one request; returns whether the connection stays open. `following` holds the bytes received after
    /// the head; a POST takes its body from there.
    private func answer(_ head: ArraySlice<UInt8>, following: inout [UInt8]) -> Bool {
        let started = monotonicMilliseconds()
        server.log.metrics?.began("http")
        let request: HTTPRequest
        switch HTTPRequest.parse(head, maxHeaderCount: limits.maxHeaderCount) {
        case .failure(let status):
            let sent = sendError(status, method: "GET", keepAlive: false)
            record(method: "-", path: "", status: status, bytes: sent, started: started, detail: "malformed request")
            return false
        case .success(let parsed):
            request = parsed
        }
        let keepAlive = request.keepAlive
        if request.method == "POST", let target = postTarget(request) {
            return receivePost(request, path: target.path, limit: target.limit, following: &following, started: started)
        }
        switch request.method {
        case "GET", "HEAD":
            break
        case "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK":
            let sent = sendError(.methodNotAllowed, method: request.method, keepAlive: keepAlive, extra: "Allow: GET, HEAD\r\n")
            record(method: request.method, path: request.target, status: .methodNotAllowed, bytes: sent, started: started)
            return keepAlive
        default:
            let sent = sendError(.unknownMethod, method: request.method, keepAlive: keepAlive)
            record(method: request.method, path: request.target, status: .unknownMethod, bytes: sent, started: started)
            return keepAlive
        }
        guard let decoded = HTTPRequest.decodedPath(request.target) else {
            let sent = sendError(.badRequest, method: request.method, keepAlive: false)
            record(method: request.method, path: request.target, status: .badRequest, bytes: sent, started: started, detail: "bad path encoding")
            return false
        }
        guard let path = ServeRoot.normalize(decoded) else {
            let sent = sendError(.forbidden, method: request.method, keepAlive: keepAlive)
            record(method: request.method, path: request.target, status: .forbidden, bytes: sent, started: started, detail: "path leaves the root")
            return keepAlive
        }
        let pathText = String(decoding: path, as: UTF8.self)
        let outcome = respond(request, path: path, keepAlive: keepAlive)
        record(
            method: request.method, path: "/" + pathText, status: outcome.status, bytes: outcome.bytes, started: started, digest: outcome.digest,
            complete: request.method == "GET" && outcome.complete)
        return keepAlive && outcome.reusable
    }

    func record(
        method: String, path: String, status: HTTPStatus, bytes: Int, started: Int, detail: String = "", digest: String? = nil, complete: Bool = false
    ) {
        server.log.record(
            .init(
                proto: "http", client: client, method: method, path: path, status: String(status.rawValue), bytes: bytes,
                milliseconds: monotonicMilliseconds() - started, detail: detail, digest: digest, complete: complete))
    }

    struct Outcome {
        var status: HTTPStatus
        var bytes: Int
        var reusable = true
        /// The catalog's sha256 of the file, sent as its ETag.
        var digest: String? = nil
        /// Every byte of the whole representation went out (or 304: the client has it).
        var complete = false
    }

    /// Serves a generated document or a file: validators, conditional and range handling, then the body.
    private func respond(_ request: HTTPRequest, path: [UInt8], keepAlive: Bool) -> Outcome {
        let isHead = request.method == "HEAD"
        let name = String(validating: path, as: UTF8.self)
        let asking = ServeRequest(proto: "http", client: client, host: request.header("host"))
        if let name, let document = server.catalog?.generatedDocument(path: name, for: asking) {
            let range = HTTPRange.resolve(request, size: document.body.count, etag: nil)
            // The type and the fields go into header lines: no control characters may pass.
            let type = Self.headerText(document.contentType)
            var fields = ""
            for (field, value) in document.headers where !field.isEmpty && field.utf8.allSatisfy(HTTPRequest.isTokenByte) && Self.headerText(value) == value {
                fields += "\(field): \(value)\r\n"
            }
            return sendBody(
                .memory(document.body), contentType: type.isEmpty ? "application/octet-stream" : type, etag: nil, lastModified: nil, range: range,
                isHead: isHead, keepAlive: keepAlive, extraFields: fields)
        }
        let file: ServedFile
        switch server.root.open(path) {
        case .success(let opened): file = opened
        case .failure(.notFound):
            return Outcome(status: .notFound, bytes: sendError(.notFound, method: request.method, keepAlive: keepAlive))
        case .failure(.forbidden):
            return Outcome(status: .forbidden, bytes: sendError(.forbidden, method: request.method, keepAlive: keepAlive))
        }
        let etag: String
        var known: String?
        if let name, let digest = server.catalog?.knownDigest(path: name), !digest.isEmpty,
            digest.utf8.allSatisfy({ $0 > 0x20 && $0 != UInt8(ascii: "\"") && $0 < 0x7f })
        {
            etag = "\"\(digest)\""
            known = digest
        } else {
            etag =
                "\"\(String(file.inode, radix: 16))-\(String(file.size, radix: 16))-\(String(file.modified, radix: 16))\(String(file.modifiedNanoseconds, radix: 16))\""
        }
        let lastModified = HTTPDate.format(file.modified)
        if let condition = request.header("if-none-match"), HTTPRange.matches(condition, etag: etag) {
            let head = responseHead(.notModified, keepAlive: keepAlive, fields: "ETag: \(etag)\r\nLast-Modified: \(lastModified)\r\n")
            let sent = write(head)
            return Outcome(status: .notModified, bytes: 0, reusable: sent, digest: known, complete: sent)
        }
        let range = HTTPRange.resolve(request, size: file.size, etag: etag)
        var outcome = sendBody(
            .file(file), contentType: contentType(for: path), etag: etag, lastModified: lastModified, range: range, isHead: isHead, keepAlive: keepAlive)
        outcome.digest = known
        return outcome
    }

    /// Header text without control characters.
    static func headerText(_ text: String) -> String { String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }) }

    private func sendBody(
        _ source: TransferSource, contentType: String, etag: String?, lastModified: String?, range: HTTPRange.Decision, isHead: Bool, keepAlive: Bool,
        extraFields: String = ""
    ) -> Outcome {
        var fields = "Content-Type: \(contentType)\r\nAccept-Ranges: bytes\r\n\(extraFields)"
        if let etag { fields += "ETag: \(etag)\r\n" }
        if let lastModified { fields += "Last-Modified: \(lastModified)\r\n" }
        let status: HTTPStatus
        let offset: Int
        let length: Int
        switch range {
        case .whole:
            status = .ok
            offset = 0
            length = source.size
        case .part(let first, let last):
            status = .partialContent
            offset = first
            length = last - first + 1
            fields += "Content-Range: bytes \(first)-\(last)/\(source.size)\r\n"
        case .unsatisfiable:
            let body = "416 Range Not Satisfiable\n"
            let head = responseHead(
                .rangeNotSatisfiable, keepAlive: keepAlive,
                fields: "Content-Type: text/plain\r\nContent-Range: bytes */\(source.size)\r\nContent-Length: \(body.utf8.count)\r\n")
            _ = write(head + (isHead ? [] : Array(body.utf8)))
            return Outcome(status: .rangeNotSatisfiable, bytes: 0)
        }
        fields += "Content-Length: \(length)\r\n"
        let head = responseHead(status, keepAlive: keepAlive, fields: fields)
        if isHead || length == 0 {
            let sent = write(head)
            return Outcome(status: status, bytes: 0, reusable: sent, complete: sent && status == .ok)
        }
        switch source {
        case .memory(let bytes):
            let ok = write(head + bytes[offset..<(offset + length)])
            return Outcome(status: status, bytes: ok ? length : 0, reusable: ok, complete: ok && status == .ok)
        case .file(let file):
            guard write(head, more: true) else { return Outcome(status: status, bytes: 0, reusable: false) }
            let sent = sendFile(file, offset: offset, length: length)
            return Outcome(status: status, bytes: sent, reusable: sent == length, complete: sent == length && status == .ok)
        }
    }

    /// `sendfile(2)` from the page cache straight to the socket; a stalled client hits SO_SNDTIMEO.
    private func sendFile(_ file: ServedFile, offset: Int, length: Int) -> Int {
        var position = off_t(offset)
        var remaining = length
        while remaining > 0 {
            let sent = try? systemCall("sendfile", client.description, blocking: true) {
                sendfile(fd.rawValue, file.fd.rawValue, &position, min(remaining, 1 << 30))
            }
            // An error, the send timeout (EAGAIN on this blocking socket), or the file shrank: the connection cannot go on.
            guard case .processed(let sent) = sent, sent > 0 else { break }
            remaining -= sent
        }
        return length - remaining
    }

    func responseHead(_ status: HTTPStatus, keepAlive: Bool, fields: String) -> [UInt8] {
        let connection = keepAlive ? "" : "Connection: close\r\n"
        return Array("HTTP/1.1 \(status.rawValue) \(status.reason)\r\nDate: \(HTTPDate.now())\r\nServer: overlay\r\n\(fields)\(connection)\r\n".utf8)
    }

    /// A short plain-text error; returns the body bytes sent.
    func sendError(_ status: HTTPStatus, method: String, keepAlive: Bool, extra: String = "") -> Int {
        let body = Array("\(status.rawValue) \(status.reason)\n".utf8)
        let head = responseHead(status, keepAlive: keepAlive, fields: "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n\(extra)")
        let withBody = method != "HEAD"
        return write(head + (withBody ? body : [])) && withBody ? body.count : 0
    }

    /// Writes all of `bytes`; false when the client is gone or stalled past the idle timeout.
    @discardableResult
    func write(_ bytes: [UInt8], more: Bool = false) -> Bool {
        var offset = 0
        let flags = Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)
        while offset < bytes.count {
            // On this blocking socket EAGAIN is the send timeout running out: an error like the others.
            let sent = try? systemCall("send", client.description, blocking: true) {
                bytes.withUnsafeBytes { buffer in
                    buffer.baseAddress.map { send(fd.rawValue, $0 + offset, buffer.count - offset, flags) } ?? -1
                }
            }
            guard case .processed(let sent) = sent, sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}
