import Serve

/// Bytes as an HTTP connection receives them: each request head is cut at its blank line (bare LF accepted) and
/// parsed, as many as the bytes hold (pipelining), under the server's default limits; a parsed request is asked
/// everything the server asks of it before it opens a file: keep-alive, the decoded and normalized path, the
/// content type, If-None-Match and the range.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let limits = HTTPLimits()
    var buffer = Array(UnsafeBufferPointer(start: data, count: size))
    while let found = HTTPConnection.endOfHead(buffer, from: 0) {
        precondition(found.end < found.next && found.next <= buffer.count)
        guard found.end <= limits.maxHeaderBytes else { return 0 }  // 400, connection closed
        guard case .success(let request) = HTTPRequest.parse(buffer[0..<found.end], maxHeaderCount: limits.maxHeaderCount) else { return 0 }
        check(request)
        guard request.keepAlive else { return 0 }
        buffer.removeSubrange(0..<found.next)
    }
    return 0
}

private func check(_ request: HTTPRequest) {
    precondition(!request.method.isEmpty && !request.target.isEmpty)
    precondition(request.minorVersion == 0 || request.minorVersion == 1)
    // The server writes none of these back unchecked, but a parsed header never holds a line break or a NUL.
    for (name, value) in request.headers {
        precondition(!name.isEmpty && name == name.lowercased())
        precondition(!value.utf8.contains { $0 == 0 || $0 == 0x0a || $0 == 0x0d })
    }
    _ = request.keepAlive
    if let decoded = HTTPRequest.decodedPath(request.target) {
        precondition(!decoded.contains(0))
        if let path = ServeRoot.normalize(decoded) {
            checkBeneathRoot(path)
            _ = contentType(for: path)
        }
    }
    let etag = "\"3f-1000-65f1a2b3\""
    if let condition = request.header("if-none-match") {
        _ = HTTPRange.matches(condition, etag: etag)
    }
    for size in [0, 1, 4096] {
        if case .part(let first, let last) = HTTPRange.resolve(request, size: size, etag: etag) {
            precondition(0 <= first && first <= last && last < size, "range \(first)-\(last) of \(size) bytes")
        }
    }
}

/// A path the server opens beneath its root: relative, no empty, "." or ".." component, no NUL.
private func checkBeneathRoot(_ path: [UInt8]) {
    precondition(!path.contains(0))
    guard !path.isEmpty else { return }
    for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
        precondition(!component.isEmpty && !component.elementsEqual([0x2e]) && !component.elementsEqual([0x2e, 0x2e]), "path leaves the root")
    }
}
