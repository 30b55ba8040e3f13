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

    /// A log that writes nothing.
    public static let disabled = AccessLog(nil)

    private init(_ none: FileDescriptor?) {
        fileDescriptor = none
        format = .plain
    }

    /// One finished request or transfer.
    struct Entry {
        var proto: String  // "http" or "tftp"
        var client: SocketAddress
        var method: String  // "GET", "HEAD", "RRQ", ...
        var path: String
        var status: String  // "200", "404", "ok", "error 1", ...
        var bytes: Int
        var milliseconds: Int
        var detail: String = ""  // negotiated TFTP options, a refusal reason
        var retransmits = 0  // TFTP windows sent again
    }

    func record(_ entry: Entry) {
        metrics?.ended(proto: entry.proto, status: entry.status, bytes: entry.bytes, retransmits: entry.retransmits)
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

    /// UTC time to the millisecond, ISO 8601.
    static func timestamp() -> String {
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
