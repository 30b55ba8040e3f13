/// A document made for one request (a boot script, a per-MAC config, a status page) instead of a file from the root.
public struct GeneratedDocument: Sendable {
    public var body: [UInt8]
    public var contentType: String
    /// Header fields sent with it over HTTP besides the usual ones (a status page's `Content-Security-Policy`).
    /// Names and values holding control characters are dropped.
    public var headers: [(name: String, value: String)]

    public init(body: [UInt8], contentType: String, headers: [(name: String, value: String)] = []) {
        self.body = body
        self.contentType = contentType
        self.headers = headers
    }
}

/// Who asks for a document: the protocol, the client's address and, over HTTP, the `Host` header it sent (the
/// address the client itself used to reach the server, which a document may name so that the client comes back).
public struct ServeRequest: Sendable {
    /// "http" or "tftp".
    public var proto: String
    public var client: SocketAddress
    /// The `Host` header of an HTTP request, as sent; nil over TFTP or when the request had none.
    public var host: String?

    public init(proto: String, client: SocketAddress, host: String? = nil) {
        self.proto = proto
        self.client = client
        self.host = host
    }
}

/// The answer to a POST: a status (200, 400, 404, 429, …), a short plain-text body, and `Retry-After` when the
/// client should wait before it sends again.
public struct PostReply: Sendable, Equatable {
    public var status: Int
    public var body: String
    public var retryAfterSeconds: Int?

    public init(status: Int, body: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// What the servers ask, per request, before they look in the root directory. The answers may change at any
/// time (a fleet reload): the servers never cache them.
public protocol ServeCatalog: Sendable {
    /// A document generated for this request path (boot scripts such as "boot.ipxe", "ipxe/52-54-00-12-34-56",
    /// "pxelinux.cfg/01-52-54-00-12-34-56"), or nil to serve the file from the root directory.
    func generatedDocument(path: String) -> GeneratedDocument?
    /// The same, knowing who asks; by default `generatedDocument(path:)`.
    func generatedDocument(path: String, for request: ServeRequest) -> GeneratedDocument?
    /// The content digest (sha256 hex) to use as a strong ETag for a file, when known (from an overlay manifest).
    func knownDigest(path: String) -> String?
    /// The largest body a POST to `path` may carry, or nil when `path` takes no POST (405, as every path by default).
    func postLimit(path: String) -> Int?
    /// Answers a POST to a path whose `postLimit` is not nil, with its whole body (at most that many bytes).
    func post(path: String, body: [UInt8], from request: ServeRequest) -> PostReply
}

extension ServeCatalog {
    public func generatedDocument(path: String, for request: ServeRequest) -> GeneratedDocument? { generatedDocument(path: path) }

    public func postLimit(path: String) -> Int? { nil }

    public func post(path: String, body: [UInt8], from request: ServeRequest) -> PostReply {
        PostReply(status: 404, body: "404 Not Found\n")
    }
}
