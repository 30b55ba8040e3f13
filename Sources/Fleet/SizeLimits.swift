/// How big a role's initrds may be, from fleet.toml's `max_initrd` (the compressed files the boot loader loads, summed)
/// and `max_unpacked` (what the unpacked cpio archives take in the node's RAM), per role or under `[defaults]`.
public struct SizeLimits: Sendable, Equatable {
    /// Bytes; nil: no limit set.
    public var initrd: Int64?
    public var unpacked: Int64?

    public init(initrd: Int64? = nil, unpacked: Int64? = nil) {
        self.initrd = initrd
        self.unpacked = unpacked
    }

    /// `self`, with what it leaves unset taken from `defaults`.
    public func over(_ defaults: SizeLimits) -> SizeLimits {
        SizeLimits(initrd: initrd ?? defaults.initrd, unpacked: unpacked ?? defaults.unpacked)
    }

    /// "512M", "2G", "1.5G", "4096": bytes, with K, M, G, T as powers of 1024 (an optional trailing "B" or "iB" is
    /// allowed); nil for anything else, zero or a size beyond 8 EiB.
    public static func parse(_ text: String) -> Int64? {
        var digits = Substring(text.filter { $0 != " " }.uppercased())
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        var scale: Double = 1
        if let last = digits.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            scale = Double(1 << (10 * power))
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }), let number = Double(digits), number > 0 else { return nil }
        let bytes = (number * scale).rounded()
        guard bytes >= 1, bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}
