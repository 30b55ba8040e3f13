#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 address and port, parsed from "ADDR:PORT" ("127.0.0.1:8080", "[::1]:6969", ":69" for all).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address as text, without brackets ("127.0.0.1", "::1").
    public let host: String
    public var port: UInt16
    var storage: Storage

    enum Storage: Sendable, Hashable {
        case v4(UInt32)  // network byte order
        case v6([UInt8])  // 16 bytes
    }

    public init(host: String, port: UInt16) throws(ServeError) {
        self.host = host
        self.port = port
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            storage = .v4(v4.s_addr)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            storage = .v6(withUnsafeBytes(of: &v6) { Array($0) })
        } else {
            throw .badAddress(host)
        }
    }

    /// Parses "ADDR:PORT"; an empty ADDR means every IPv4 address.
    public init(_ text: String) throws(ServeError) {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badAddress(text) }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .badAddress(text) }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .badAddress(text) }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        if hostPart.isEmpty { hostPart = "0.0.0.0" }
        guard let port = UInt16(portPart) else { throw .badAddress(text) }
        do {
            try self.init(host: String(hostPart), port: port)
        } catch {
            throw .badAddress(text)
        }
    }

    public var description: String {
        if case .v6 = storage { return "[\(host)]:\(port)" }
        return "\(host):\(port)"
    }

    var family: Int32 {
        if case .v6 = storage { return AF_INET6 }
        return AF_INET
    }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(let raw):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = raw
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let bytes):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads an address a system call filled in; nil for families other than IPv4/IPv6.
    init?(_ raw: sockaddr_storage) {
        var copy = raw
        switch Int32(raw.ss_family) {
        case AF_INET:
            let sin = withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee } }
            guard let text = Self.presentation(AF_INET, sin.sin_addr) else { return nil }
            host = text
            port = UInt16(bigEndian: sin.sin_port)
            storage = .v4(sin.sin_addr.s_addr)
        case AF_INET6:
            let sin6 = withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee } }
            guard let text = Self.presentation(AF_INET6, sin6.sin6_addr) else { return nil }
            host = text
            port = UInt16(bigEndian: sin6.sin6_port)
            storage = .v6(withUnsafeBytes(of: sin6.sin6_addr) { Array($0) })
        default:
            return nil
        }
    }

    /// An `in_addr`/`in6_addr` of `family` as text, by `inet_ntop(3)`.
    private static func presentation<Address>(_ family: Int32, _ address: Address) -> String? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = withUnsafeBytes(of: address) { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        guard written != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
