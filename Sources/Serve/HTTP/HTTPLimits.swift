/// Bounds that keep the HTTP server responsive under slow or hostile clients.
public struct HTTPLimits: Sendable {
    /// Open connections at once; more get 503 and are closed.
    public var maxConnections: Int
    /// Time allowed from a request's first byte to the end of its headers (against slowloris).
    public var headerTimeoutMilliseconds: Int
    /// Time a keep-alive connection may wait for its next request, and a send may stall, before it is closed.
    public var idleTimeoutMilliseconds: Int
    /// Largest request head (request line plus headers); larger gets 400.
    public var maxHeaderBytes: Int
    /// Most header lines in one request.
    public var maxHeaderCount: Int

    public init(
        maxConnections: Int = 2048, headerTimeoutMilliseconds: Int = 10_000, idleTimeoutMilliseconds: Int = 30_000,
        maxHeaderBytes: Int = 16384, maxHeaderCount: Int = 100
    ) {
        self.maxConnections = max(1, maxConnections)
        self.headerTimeoutMilliseconds = max(10, headerTimeoutMilliseconds)
        self.idleTimeoutMilliseconds = max(10, idleTimeoutMilliseconds)
        self.maxHeaderBytes = max(256, maxHeaderBytes)
        self.maxHeaderCount = max(1, maxHeaderCount)
    }
}
