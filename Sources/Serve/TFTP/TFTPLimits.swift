/// Bounds on what the TFTP server accepts and how hard it tries.
public struct TFTPLimits: Sendable {
    /// Transfers in flight at once; requests beyond this get ERROR 0 "server busy".
    public var maxTransfers: Int
    /// The largest blksize granted (RFC 2348 allows 8–65464); also clamped to the path MTU.
    public var maxBlockSize: Int
    /// The largest windowsize granted (RFC 7440).
    public var maxWindowSize: Int
    /// Wait for an ACK before resending, unless the client asks for another timeout (RFC 2349).
    public var timeoutMilliseconds: Int
    /// Resends of the same block or window before the transfer is given up.
    public var maxRetries: Int
    /// Longest file name accepted in a request.
    public var maxPathLength: Int
    /// Largest file sent in netascii mode (converted in memory).
    public var maxNetasciiBytes: Int

    public init(
        maxTransfers: Int = 1024, maxBlockSize: Int = 65464, maxWindowSize: Int = 64, timeoutMilliseconds: Int = 1000,
        maxRetries: Int = 5, maxPathLength: Int = 512, maxNetasciiBytes: Int = 4 << 20
    ) {
        self.maxTransfers = maxTransfers
        self.maxBlockSize = max(8, min(maxBlockSize, 65464))
        self.maxWindowSize = max(1, min(maxWindowSize, 65535))
        self.timeoutMilliseconds = max(10, timeoutMilliseconds)
        self.maxRetries = max(0, maxRetries)
        self.maxPathLength = maxPathLength
        self.maxNetasciiBytes = maxNetasciiBytes
    }
}
