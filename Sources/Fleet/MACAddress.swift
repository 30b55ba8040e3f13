/// An Ethernet MAC address as a node's boot firmware reports it.
///
/// Fleet files may write `52:54:00:12:34:56` or `52-54-00-12-34-56`, in either case; the address is kept as six
/// bytes and printed in the spellings the boot loaders ask for.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Parses six two-digit hex bytes separated all by `:` or all by `-`. Returns nil for anything else.
    public init?(_ text: String) {
        let separator: Character
        if text.contains(":") {
            separator = ":"
        } else if text.contains("-") {
            separator = "-"
        } else {
            return nil
        }
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// The address of lab node `number` (its low 16 bits): 52:54:00:1a:XX:XX, in QEMU's range.
    public static func lab(_ number: Int) -> MACAddress {
        MACAddress(bytes: [0x52, 0x54, 0x00, 0x1a, UInt8(truncatingIfNeeded: number >> 8), UInt8(truncatingIfNeeded: number)])
    }

    /// Lowercase, colon-separated: `52:54:00:12:34:56` (ISC dhcpd, GRUB's `$net_default_mac`).
    public var description: String { spelled(separator: ":") }

    /// Lowercase, hyphen-separated: `52-54-00-12-34-56` (iPXE's `${mac:hexhyp}`, PXELINUX and GRUB file names).
    public var hyphenated: String { spelled(separator: "-") }

    private func spelled(separator: String) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: separator)
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
