import Posix

#if canImport(Glibc)
    import Glibc
#endif

/// POST to a path the catalog takes (a node's report): a small body framed by `Content-Length` only, read whole
/// under a deadline, then handed to the catalog, whose reply closes the connection. Every other path answers 405 as
/// before.
extension HTTPConnection {
    /// The decoded path of a POST and the largest body its catalog takes there; nil when the catalog takes none.
    func postTarget(_ request: HTTPRequest) -> (path: String, limit: Int)? {
        guard let decoded = HTTPRequest.decodedPath(request.target), let path = ServeRoot.normalize(decoded),
            let name = String(validating: path, as: UTF8.self), let limit = server.catalog?.postLimit(path: name)
        else { return nil }
        return (name, limit)
    }

    /// Reads the body and answers with the catalog's reply. Chunked bodies and bodies without a length get 411, one
    /// longer than `limit` 413 (before a byte of it is read), a body that does not arrive within the header timeout
    /// 408. `Expect: 100-continue` is answered before the body is read. Returns false: the connection closes.
    func receivePost(_ request: HTTPRequest, path: String, limit: Int, following: inout [UInt8], started: Int) -> Bool {
        func refuse(_ status: HTTPStatus, _ reason: String) -> Bool {
            let sent = sendText(status, "\(status.rawValue) \(status.reason): \(reason)\n")
            record(method: "POST", path: "/" + path, status: status, bytes: sent, started: started, detail: reason)
            return false
        }
        if request.header("transfer-encoding") != nil {
            return refuse(.lengthRequired, "send the body with a Content-Length, not chunked")
        }
        guard let lengthText = request.header("content-length"), let length = Int(lengthText) else {
            return refuse(.lengthRequired, "a Content-Length is required")
        }
        guard length <= limit else {
            return refuse(.contentTooLarge, "the body is \(length) bytes, more than the \(limit) this path takes")
        }
        if following.count < length, request.header("expect")?.lowercased() == "100-continue" {
            guard write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return false }
        }
        guard let body = readBody(length: length, following: &following) else {
            return refuse(.requestTimeout, "the body did not arrive within \(limits.headerTimeoutMilliseconds / 1000) s")
        }
        let reply = server.catalog?.post(path: path, body: body, from: ServeRequest(proto: "http", client: client, host: request.header("host")))
        guard let reply else { return refuse(.notFound, "nothing takes a POST here") }
        let status = HTTPStatus(rawValue: reply.status) ?? .internalServerError
        let extra = reply.retryAfterSeconds.map { "Retry-After: \($0)\r\n" } ?? ""
        let sent = sendText(status, reply.body, extraFields: extra)
        let detail = status == .ok ? "" : Self.headerText(reply.body)
        record(method: "POST", path: "/" + path, status: status, bytes: sent, started: started, detail: detail)
        return false
    }

    /// `length` bytes: those already received after the head, then what arrives within the header timeout.
    private func readBody(length: Int, following: inout [UInt8]) -> [UInt8]? {
        var body = Array(following.prefix(length))
        following.removeFirst(body.count)
        let deadline = monotonicMilliseconds() + limits.headerTimeoutMilliseconds
        var chunk = [UInt8](repeating: 0, count: 4096)
        while body.count < length {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0, waitFor(fd, wakeup: server.listener.wakeup, milliseconds: remaining) == .ready else { return nil }
            let wanted = min(chunk.count, length - body.count)
            let received = try? systemCall("recv", client.description, blocking: false) {
                chunk.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, wanted, Int32(MSG_DONTWAIT)) }
            }
            if received == .wouldBlock { continue }
            guard case .processed(let count) = received, count > 0 else { return nil }
            body += chunk[0..<count]
        }
        return body
    }

    /// A plain-text answer that closes the connection; returns the body bytes sent.
    private func sendText(_ status: HTTPStatus, _ text: String, extraFields: String = "") -> Int {
        let body = Array(text.utf8)
        let head = responseHead(
            status, keepAlive: false, fields: "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n\(extraFields)")
        return write(head + body) ? body.count : 0
    }
}
