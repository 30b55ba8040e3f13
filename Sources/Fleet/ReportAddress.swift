import Posix

/// Where booted nodes send their reports: the URL a boot file puts on the kernel command line as
/// `overlay.report=<base>/report`.
///
/// The address a node reaches the server at is not always the one the server binds (behind NAT, QEMU's user
/// network: the server binds 127.0.0.1, the node sees 10.0.2.2), so, as nginx's `server_name` and Warewulf's
/// `ipaddr`/`port` do, it is either given (`overlay serve --advertise URL`) or, for a boot file fetched over HTTP,
/// taken from the request's own `Host` header: the address the node itself just used. Only characters that every
/// boot loader's script language passes through unchanged are accepted, since the URL is pasted into iPXE scripts,
/// PXELINUX and GRUB configs.
public struct ReportAddress: Sendable, Equatable, CustomStringConvertible {
    /// `http://HOST[:PORT][/PREFIX]`, without a trailing slash.
    public let base: String

    /// The URL nodes POST their reports to.
    public var reportURL: String { base + "/report" }

    public var description: String { base }

    /// The kernel parameter that names the URL.
    public var parameter: String { "overlay.report=" + reportURL }

    /// Parses `--advertise`: `http://` or `https://` (a proxy in front of the server may speak TLS), a host name,
    /// IPv4 address or `[IPv6]` address, an optional port and an optional path prefix.
    public init(advertise text: String) throws(ReportAddressError) {
        let lower = text.lowercased()
        let scheme = lower.hasPrefix("http://") ? "http://" : lower.hasPrefix("https://") ? "https://" : nil
        guard let scheme else { throw ReportAddressError(text: text, reason: "it does not start with http:// or https://") }
        let rest = text.dropFirst(scheme.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        var prefix = String(rest[slash...])
        while prefix.hasSuffix("/") { prefix.removeLast() }
        guard Self.isAuthority(authority) else {
            throw ReportAddressError(text: text, reason: "\"\(authority)\" is not a host with an optional port")
        }
        guard prefix.unicodeScalars.allSatisfy(Self.isPathScalar) else {
            throw ReportAddressError(text: text, reason: "its path may hold only letters, digits and / . _ ~ -")
        }
        base = scheme + authority + prefix
    }

    /// The address from an HTTP request's `Host` header; nil when the header is not a plain `host[:port]`.
    public init?(host: String) {
        guard Self.isAuthority(host) else { return nil }
        base = "http://" + host
    }

    /// `name`, `1.2.3.4` or `[v6]`, then an optional `:port` (1–65535).
    static func isAuthority(_ text: String) -> Bool {
        var host = Substring(text)
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return false }
            let inside = text[text.index(after: text.startIndex)..<close]
            guard !inside.isEmpty, inside.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }) else { return false }
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
            host = ""
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), let number = Int(port), (1...65535).contains(number) else { return false }
        }
        if text.hasPrefix("[") { return true }
        return (1...253).contains(host.utf8.count)
            && host.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "-") }
            && !host.hasPrefix("-") && !host.hasPrefix(".")
    }

    private static func isPathScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "/._~-".unicodeScalars.contains(scalar))
    }
}

/// An `--advertise` value that is not a URL nodes could be sent to.
public struct ReportAddressError: UserError, Equatable {
    public let text: String
    public let reason: String

    public var description: String {
        "--advertise \(text): \(reason); write the URL nodes reach this server at, for example http://10.0.0.1:8080"
    }
}
