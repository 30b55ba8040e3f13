import Posix

/// What a booted node says it has: the one contract between a node's init, the server that gathers reports, the
/// lab that reads a test node's console, and the tests. README.md, "What a node reports", documents it for those who
/// write an init; `ReportInbox` takes it at `overlay serve --state`'s `/report`.
///
/// A report is UTF-8 text, one `KEYWORD value` line each, at most `maxBytes` bytes and `maxLines` lines. The node
/// prints the lines on its console and sends the same lines as the body of an HTTP POST to `overlay.report=URL`:
///
///     NODE 52:54:00:12:34:56            the MAC it booted from (BOOTIF=), once, first
///     ROLE compute                      the role the boot configuration named (overlay.role=), once
///     BASE oVirt Node 3.0               os-release NAME and VERSION of the running root, once
///     LAYER 01-vdsm-1.0.squashfs erofs  each layer image mounted, its file (without overlay-layer-) and type
///     LAYER-FAILED <file>: <why>        a layer image it could not mount
///     PLUGIN vdsm 1.0                   each /etc/ovirt.plugins.d entry: NAME and VERSION, sorted
///     NO PLUGINS                        in place of PLUGIN lines when the registry is empty
///     EXPECTED cim@1.0,vdsm@1.0         what the boot configuration said it should have (overlay.expect=)
///     MISMATCH <what differs>           printed when the registry is not what was expected
///     UPTIME 8.52                       seconds from kernel start to the end of the report
///     OVERLAY-NODE READY                last
///
/// Every line but `OVERLAY-NODE READY` is optional; a body with an unknown keyword, a repeated single line, a
/// malformed value or anything after the last line is refused as a whole, naming the line. On a console the
/// report's lines are mixed with the kernel's and the firmware's: `parse(console:)` keeps only the lines of the
/// last report.
public struct NodeReport: Sendable, Equatable {
    public struct Plugin: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var name: String
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }

        /// `name@version`, as `overlay.expect=` lists them.
        public var description: String { "\(name)@\(version)" }

        public static func < (lhs: Plugin, rhs: Plugin) -> Bool { (lhs.name, lhs.version) < (rhs.name, rhs.version) }
    }

    public struct Layer: Sendable, Equatable {
        public var file: String
        /// `squashfs` or `erofs`; nil for a layer that failed to mount.
        public var type: String?
        /// Why it failed to mount; nil for a mounted layer.
        public var failure: String?
    }

    public var node: MACAddress?
    public var role: String?
    public var base: String?
    public var layers: [Layer] = []
    public var plugins: [Plugin] = []
    public var expected: [Plugin]?
    public var mismatch: String?
    public var uptime: Double?

    public static let maxBytes = 4096
    public static let maxLines = 128
    /// The last line of every report.
    public static let readyLine = "OVERLAY-NODE READY"

    public init(
        node: MACAddress? = nil, role: String? = nil, base: String? = nil, layers: [Layer] = [], plugins: [Plugin] = [],
        expected: [Plugin]? = nil, mismatch: String? = nil, uptime: Double? = nil
    ) {
        self.node = node
        self.role = role
        self.base = base
        self.layers = layers
        self.plugins = plugins
        self.expected = expected
        self.mismatch = mismatch
        self.uptime = uptime
    }

    /// The report's lines, as a node prints and sends them.
    public var text: String {
        var lines: [String] = []
        if let node { lines.append("NODE \(node)") }
        if let role { lines.append("ROLE \(role)") }
        if let base { lines.append("BASE \(base)") }
        for layer in layers {
            if let failure = layer.failure {
                lines.append("LAYER-FAILED \(layer.file): \(failure)")
            } else {
                lines.append("LAYER \(layer.file) \(layer.type ?? "")")
            }
        }
        lines += plugins.isEmpty ? ["NO PLUGINS"] : plugins.map { "PLUGIN \($0.name) \($0.version)" }
        if let expected { lines.append("EXPECTED " + expected.map(\.description).joined(separator: ",")) }
        if let mismatch { lines.append("MISMATCH \(mismatch)") }
        if let uptime { lines.append("UPTIME \(Self.seconds(uptime))") }
        lines.append(Self.readyLine)
        return lines.map { $0 + "\n" }.joined()
    }

    /// Where the plugins a node has differ from what it was expected to have; nil when they agree or nothing was
    /// expected.
    public var difference: String? {
        guard let expected else { return nil }
        let (has, wants) = (Set(plugins), Set(expected))
        let missing = expected.filter { !has.contains($0) }
        let extra = plugins.filter { !wants.contains($0) }
        guard !missing.isEmpty || !extra.isEmpty else { return nil }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing " + missing.map(\.description).joined(separator: ",")) }
        if !extra.isEmpty { parts.append("unexpected " + extra.map(\.description).joined(separator: ",")) }
        return parts.joined(separator: "; ")
    }

    /// Parses a report body: every line must be one of the contract's, in a body of at most `maxBytes`.
    public static func parse(_ body: [UInt8]) throws(NodeReportError) -> NodeReport {
        guard body.count <= maxBytes else { throw .init(line: nil, reason: "the report is \(body.count) bytes, more than the \(maxBytes) a report may have") }
        guard let text = String(validating: body, as: UTF8.self) else { throw .init(line: nil, reason: "the report is not UTF-8 text") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count <= maxLines else {
            throw .init(line: nil, reason: "the report has \(lines.count) lines, more than the \(maxLines) a report may have")
        }
        var parser = Parser()
        for (index, line) in lines.enumerated() {
            if parser.ready { throw .init(line: index + 1, reason: "text follows \"\(readyLine)\", which ends a report") }
            try parser.take(line, number: index + 1)
        }
        guard parser.ready else { throw .init(line: nil, reason: "the report does not end with \"\(readyLine)\"") }
        return parser.report
    }

    /// The last complete report on a node's console: the lines from the last `NODE` (or the console's start) up to
    /// `OVERLAY-NODE READY`, skipping lines that are not the contract's (firmware, kernel, shell); nil when no
    /// report was finished. Carriage returns are ignored.
    public static func parse(console: String) -> NodeReport? {
        var found: NodeReport?
        var parser = Parser()
        for raw in console.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.filter { $0 != "\r" }
            if line.hasPrefix("NODE ") { parser = Parser() }
            guard let keyword = Keyword(line: String(line)) else { continue }
            do {
                try parser.take(String(line), number: 0)
            } catch {
                // A line of ours in a form we cannot read (the console cut it): the report it belongs to is not
                // complete.
                parser = Parser()
                continue
            }
            if keyword == .ready {
                found = parser.report
                parser = Parser()
            }
        }
        return found
    }

    /// `overlay.expect=` values: `name@version` separated by commas; nil for malformed text.
    public static func plugins(expected text: String) -> [Plugin]? {
        if text.isEmpty { return [] }
        var plugins: [Plugin] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, isToken(parts[0]), isToken(parts[1]) else { return nil }
            plugins.append(Plugin(name: String(parts[0]), version: String(parts[1])))
        }
        return plugins
    }

    /// A node's longest plausible uptime, some 31 years: a larger UPTIME is refused.
    public static let maxUptime: Double = 999_999_999

    /// `8.52`: seconds to the hundredth. Any value renders, one a report could not hold (a state file edited by
    /// hand) as Swift writes it.
    static func seconds(_ value: Double) -> String {
        guard value.isFinite, value.magnitude <= maxUptime else { return "\(value)" }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    /// Plugin names and versions, role names, layer files and types: letters, digits and `. _ + - ~ ^ :`, 1–128.
    static func isToken(_ text: Substring) -> Bool {
        (1...128).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "~"), UInt8(ascii: "^"), UInt8(ascii: ":"): true
                default: false
                }
            }
    }

    /// Free text (BASE, MISMATCH, a layer's failure): printable, 1–256 bytes.
    static func isText(_ text: Substring) -> Bool {
        (1...256).contains(text.utf8.count) && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    enum Keyword: String {
        case node = "NODE"
        case role = "ROLE"
        case base = "BASE"
        case layer = "LAYER"
        case layerFailed = "LAYER-FAILED"
        case plugin = "PLUGIN"
        case noPlugins = "NO PLUGINS"
        case expected = "EXPECTED"
        case mismatch = "MISMATCH"
        case uptime = "UPTIME"
        case ready = "OVERLAY-NODE READY"

        init?(line: String) {
            if line == Keyword.noPlugins.rawValue || line == Keyword.ready.rawValue {
                self.init(rawValue: line)
                return
            }
            guard let space = line.firstIndex(of: " ") else { return nil }
            self.init(rawValue: String(line[..<space]))
            if self == .noPlugins || self == .ready { return nil }
        }
    }

    /// Reads a report line by line.
    struct Parser {
        var report = NodeReport()
        var ready = false
        private var seen: Set<Keyword> = []

        mutating func take(_ line: String, number: Int) throws(NodeReportError) {
            let at: Int? = number > 0 ? number : nil
            guard let keyword = Keyword(line: line) else {
                let shown = line.count > 40 ? String(line.prefix(40)) + "…" : line
                throw .init(
                    line: at,
                    reason:
                        "\"\(ErrorText.oneLine(shown))\" is not a report line (NODE, ROLE, BASE, LAYER, LAYER-FAILED, PLUGIN, NO PLUGINS, EXPECTED, MISMATCH, UPTIME, \(readyLine))"
                )
            }
            let value = line.dropFirst(keyword.rawValue.count + 1)
            let once: Set<Keyword> = [.node, .role, .base, .noPlugins, .expected, .mismatch, .uptime]
            if once.contains(keyword), seen.contains(keyword) { throw .init(line: at, reason: "\(keyword.rawValue) appears twice") }
            seen.insert(keyword)
            func bad(_ what: String) -> NodeReportError { .init(line: at, reason: "\(keyword.rawValue): \(what)") }
            switch keyword {
            case .node:
                guard let mac = MACAddress(String(value)) else { throw bad("\"\(ErrorText.oneLine(String(value.prefix(40))))\" is not a MAC address") }
                report.node = mac
            case .role:
                guard value.utf8.count <= 128, ServedPath.isPlainName(String(value)) else { throw bad("the role name is not a name fleet.toml allows") }
                report.role = String(value)
            case .base:
                guard isText(value) else { throw bad("the base name is empty, too long or not printable") }
                report.base = String(value)
            case .layer:
                let parts = value.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, isToken(parts[0]), parts[1] == "squashfs" || parts[1] == "erofs" else {
                    throw bad("expected \"LAYER <file> squashfs|erofs\"")
                }
                report.layers.append(Layer(file: String(parts[0]), type: String(parts[1]), failure: nil))
            case .layerFailed:
                guard let colon = value.firstIndex(of: ":"), isToken(value[..<colon]), isText(value[value.index(after: colon)...].drop { $0 == " " }) else {
                    throw bad("expected \"LAYER-FAILED <file>: <why>\"")
                }
                let why = value[value.index(after: colon)...].drop { $0 == " " }
                report.layers.append(Layer(file: String(value[..<colon]), type: nil, failure: String(why)))
            case .plugin:
                let parts = value.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, isToken(parts[0]), isToken(parts[1]) else { throw bad("expected \"PLUGIN <name> <version>\"") }
                guard !seen.contains(.noPlugins) else { throw bad("a plugin is listed after NO PLUGINS") }
                report.plugins.append(Plugin(name: String(parts[0]), version: String(parts[1])))
            case .noPlugins:
                guard report.plugins.isEmpty else { throw .init(line: at, reason: "NO PLUGINS follows PLUGIN lines") }
            case .expected:
                guard let plugins = plugins(expected: String(value)) else { throw bad("expected a list like cim@1.0,vdsm@1.0") }
                report.expected = plugins
            case .mismatch:
                guard isText(value) else { throw bad("the text is empty, too long or not printable") }
                report.mismatch = String(value)
            case .uptime:
                guard value.utf8.count <= 16, let seconds = Double(value), seconds.isFinite, seconds >= 0 else {
                    throw bad("\"\(ErrorText.oneLine(String(value.prefix(20))))\" is not a number of seconds")
                }
                guard seconds <= NodeReport.maxUptime else { throw bad("\(value) seconds is longer than a node can have been up") }
                report.uptime = seconds
            case .ready:
                ready = true
            }
        }

    }
}

/// A report that does not follow the contract: which line, and what is wrong with it.
public struct NodeReportError: Error, Equatable, CustomStringConvertible {
    public let line: Int?
    public let reason: String

    public init(line: Int?, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
}
