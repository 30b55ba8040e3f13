/// Bounds on what the TFTP server accepts and how hard it tries.
public struct TFTPLimits: Sendable {
    /// Transfers in flight at once; requests beyond this get ERROR 0 "server busy".
    public var maxTransfers: Int
    /// The largest blksize granted (RFC 2348 allows 8–65464); also clamped to the path MTU.
    public var maxBlockSize: Int
    /// The largest windowsize granted (RFC 7440).
    public var maxWindowSize: Int
    /// The longest wait for an ACK before resending, unless the client asks for another timeout (RFC 2349); also
    /// the wait before a transfer has measured a round trip. Once it has, the server resends after the measured
    /// round trip plus its variation (RFC 6298), within `minTimeoutMilliseconds` and this.
    public var timeoutMilliseconds: Int
    /// The shortest wait for an ACK before resending, however fast the round trips.
    public var minTimeoutMilliseconds: Int
    /// How patient the server is with a silent client: it gives a transfer up once the client has sent nothing new
    /// for as long as this many resends at the full timeout would wait (each waiting twice the one before, up to
    /// 8 times the timeout).
    public var maxRetries: Int
    /// Longest file name accepted in a request.
    public var maxPathLength: Int
    /// Largest file sent in netascii mode (converted in memory).
    public var maxNetasciiBytes: Int

    public init(
        maxTransfers: Int = 1024, maxBlockSize: Int = 65464, maxWindowSize: Int = 64, timeoutMilliseconds: Int = 1000,
        minTimeoutMilliseconds: Int = 100, maxRetries: Int = 5, maxPathLength: Int = 512, maxNetasciiBytes: Int = 4 << 20
    ) {
        self.maxTransfers = maxTransfers
        self.maxBlockSize = max(8, min(maxBlockSize, 65464))
        self.maxWindowSize = max(1, min(maxWindowSize, 65535))
        self.timeoutMilliseconds = max(10, timeoutMilliseconds)
        self.minTimeoutMilliseconds = max(1, minTimeoutMilliseconds)
        self.maxRetries = max(0, maxRetries)
        self.maxPathLength = maxPathLength
        self.maxNetasciiBytes = maxNetasciiBytes
    }
}
