import Posix

#if canImport(Glibc)
    import Glibc
#endif

/// How often one client address may send a report: a token bucket per address, `rate` reports a second with bursts
/// of `burst` (a node sends one report per boot; a loop sending more is refused with 429 and `Retry-After`, as
/// nginx's `limit_req` does). At most `maxClients` addresses are remembered: when the table is full, addresses
/// whose bucket has filled up again are forgotten first (they would be admitted anyway), then the longest idle.
public final class ReportRateLimit: Sendable {
    public let rate: Double
    public let burst: Double
    public let maxClients: Int

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let buckets = Locked([String: Bucket]())

    public init(rate: Double = 1, burst: Int = 5, maxClients: Int = 4096) {
        self.rate = max(rate, 0.001)
        self.burst = Double(max(burst, 1))
        self.maxClients = max(maxClients, 1)
    }

    /// Takes one token for `client` (an address without port): nil when the report may go on, else the seconds to
    /// wait before the next one would be taken.
    public func admit(_ client: String, now: Double = ReportRateLimit.seconds()) -> Int? {
        buckets.withLock { buckets -> Int? in
            var bucket = buckets[client] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + max(0, now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1 {
                buckets[client] = bucket
                return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
            }
            bucket.tokens -= 1
            if buckets[client] == nil && buckets.count >= maxClients { forget(in: &buckets, now: now) }
            buckets[client] = bucket
            return nil
        }
    }

    private func forget(in buckets: inout [String: Bucket], now: Double) {
        let refill = burst / rate
        buckets = buckets.filter { now - $0.value.updated < refill }
        while buckets.count >= maxClients, let oldest = buckets.min(by: { $0.value.updated < $1.value.updated })?.key {
            buckets[oldest] = nil
        }
    }

    /// Monotonic seconds.
    public static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
