import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// One line per HTTP request or TFTP transfer, written with a single `write(2)` so lines from concurrent
/// clients never interleave. Plain text for people, or JSON lines for log collectors.
public struct AccessLog: Sendable {
    public enum Format: Sendable {
        case plain
        case json
    }

    public let fileDescriptor: FileDescriptor?
    public let format: Format
    /// Counted as each line is recorded, whether or not it is written.
    public private(set) var metrics: ServeMetrics?
    /// Handed each entry as it is recorded, whether or not it is written.
    public private(set) var observer: (@Sendable (Entry) -> Void)?

    /// Logs to `fileDescriptor` (not closed by the log) in `format`.
    public init(_ fileDescriptor: FileDescriptor, format: Format = .plain) {
        self.fileDescriptor = fileDescriptor
        self.format = format
    }

    /// The same log, also counting into `metrics` (which must hear `began` for each request or transfer).
    public func counting(into metrics: ServeMetrics) -> AccessLog {
        var log = self
        log.metrics = metrics
        return log
    }

    /// The same log, also handing every entry to `observer` (on the thread that served it) as it is recorded.
    public func observed(by observer: @escaping @Sendable (Entry) -> Void) -> AccessLog {
        var log = self
        log.observer = observer
        return log
    }

    /// A log that writes nothing.
    public static let disabled = AccessLog(nil)

    private init(_ none: FileDescriptor?) {
        fileDescriptor = none
        format = .plain
    }

    /// One finished request or transfer.
    public struct Entry: Sendable {
        /// "http" or "tftp".
        public internal(set) var proto: String
        public internal(set) var client: SocketAddress
        /// "GET", "HEAD", "RRQ", ...
        public internal(set) var method: String
        public internal(set) var path: String
        /// "200", "404", "ok", "error 1", ...
        public internal(set) var status: String
        /// Bytes of content sent.
        public internal(set) var bytes: Int
        public internal(set) var milliseconds: Int
        /// Negotiated TFTP options, a refusal reason.
        public internal(set) var detail: String = ""
        /// TFTP windows sent again.
        public internal(set) var retransmits = 0
        /// The sha256 the catalog knows for the file sent (the ETag over HTTP), when it knows one.
        public internal(set) var digest: String? = nil
        /// The whole file or document reached the client: HTTP 200 with every byte sent (or 304, the client has
        /// it), a TFTP transfer whose last block was acknowledged.
        public internal(set) var complete = false
    }

    func record(_ entry: Entry) {
        metrics?.ended(proto: entry.proto, status: entry.status, bytes: entry.bytes, retransmits: entry.retransmits)
        observer?(entry)
        guard let fd = fileDescriptor else { return }
        let line: String
        switch format {
        case .plain:
            let detail = entry.detail.isEmpty ? "" : " \(entry.detail)"
            line =
                "\(Self.timestamp()) \(entry.proto) \(entry.client) \(entry.method) \(Self.printable(entry.path)) \(entry.status) \(entry.bytes) \(entry.milliseconds)ms\(detail)\n"
        case .json:
            var fields = [
                "\"time\":\(Self.json(Self.timestamp()))", "\"proto\":\(Self.json(entry.proto))",
                "\"client\":\(Self.json(entry.client.description))", "\"method\":\(Self.json(entry.method))",
                "\"path\":\(Self.json(entry.path))", "\"status\":\(Self.json(entry.status))", "\"bytes\":\(entry.bytes)",
                "\"ms\":\(entry.milliseconds)",
            ]
            if !entry.detail.isEmpty { fields.append("\"detail\":\(Self.json(entry.detail))") }
            line = "{" + fields.joined(separator: ",") + "}\n"
        }
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = try? systemCall("write", "(the access log)", blocking: true) {
                bytes.withUnsafeMutableBytes { buffer in
                    buffer.baseAddress.map { write(fd.rawValue, $0 + offset, buffer.count - offset) } ?? -1
                }
            }
            guard case .processed(let written) = written, written > 0 else { return }
            offset += written
        }
    }

    /// UTC time to the millisecond, ISO 8601 (`2026-12-03T10:15:30.123Z`): such times sort as text.
    public static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = ts.tv_nsec / 1_000_000
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)Z"
    }

    /// A path as one shell-safe token: control characters, spaces and quotes escaped.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x21 || scalar.value == 0x7f || scalar == "\"" || scalar == "\\" {
                out += "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out.isEmpty ? "-" : out
    }

    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += "\\u" + String(scalar.value, radix: 16).leftPadded(4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
