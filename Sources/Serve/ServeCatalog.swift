/// A document made for one request (a boot script, a per-MAC config) instead of a file from the root.
public struct GeneratedDocument: Sendable {
    public var body: [UInt8]
    public var contentType: String

    public init(body: [UInt8], contentType: String) {
        self.body = body
        self.contentType = contentType
    }
}

/// What the servers ask, per request, before they look in the root directory. The answers may change at any
/// time (a fleet reload): the servers never cache them.
public protocol ServeCatalog: Sendable {
    /// A document generated for this request path (boot scripts such as "boot.ipxe", "ipxe/52-54-00-12-34-56",
    /// "pxelinux.cfg/01-52-54-00-12-34-56"), or nil to serve the file from the root directory.
    func generatedDocument(path: String) -> GeneratedDocument?
    /// The content digest (sha256 hex) to use as a strong ETag for a file, when known (from an overlay manifest).
    func knownDigest(path: String) -> String?
}
