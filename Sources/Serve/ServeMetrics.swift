import Posix

/// What the servers have done since they started, as counters and gauges a Prometheus server scrapes from
/// `GET /metrics` (text exposition format 0.0.4): requests and bytes per protocol and status, transfers in flight,
/// TFTP windows sent again after a timeout and transfers given up, boots per role (a node's boot file handed
/// out), node reports by result, and the nodes whose state drifts from the fleet's. Updated by the access log and the
/// servers; read at any time.
public final class ServeMetrics: Sendable {
    private struct State {
        var requests: [Key: Int] = [:]
        var bytes: [String: Int] = [:]
        var inFlight: [String: Int] = ["http": 0, "tftp": 0]
        var tftpRetransmits = 0
        var tftpTimeouts = 0
        var boots: [String: Int] = [:]
        var reports: [String: Int] = [:]
        var driftNodes = 0
        var driftKinds: [String: Int] = [:]
    }

    private struct Key: Hashable, Comparable {
        var proto: String
        var status: String
        static func < (a: Key, b: Key) -> Bool { (a.proto, a.status) < (b.proto, b.status) }
    }

    private let state = Locked(State())

    public init() {}

    /// A request or transfer began (`proto`: "http" or "tftp").
    public func began(_ proto: String) { state.withLock { $0.inFlight[proto, default: 0] += 1 } }

    /// A request or transfer that `began` ended, as the access log records it.
    func ended(proto: String, status: String, bytes: Int, retransmits: Int = 0) {
        state.withLock {
            $0.inFlight[proto, default: 0] -= 1
            $0.requests[Key(proto: proto, status: status), default: 0] += 1
            $0.bytes[proto, default: 0] += bytes
            $0.tftpRetransmits += retransmits
            if proto == "tftp" && status == "timeout" { $0.tftpTimeouts += 1 }
        }
    }

    /// A node of `role` was handed its boot file.
    public func booted(role: String) { state.withLock { $0.boots[role, default: 0] += 1 } }

    /// What became of a node's report: "accepted", "refused" (malformed) or "limited" (sent too often).
    public func reported(_ result: String) { state.withLock { $0.reports[result, default: 0] += 1 } }

    /// How many nodes drift from the fleet now, in all and by kind of drift (a node may count under several kinds).
    public func drift(nodes: Int, byKind: [String: Int]) {
        state.withLock {
            $0.driftNodes = nodes
            $0.driftKinds = byKind
        }
    }

    /// The Prometheus text exposition.
    public func exposition() -> String {
        let now = state.withLock { $0 }
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for sample in samples { lines.append("\(name)\(sample.labels.isEmpty ? "" : "{\(sample.labels)}") \(sample.value)") }
        }
        family(
            "overlay_requests_total", "counter", "HTTP requests and TFTP transfers answered, by protocol and status.",
            now.requests.keys.sorted().map { ("proto=\(Self.quoted($0.proto)),status=\(Self.quoted($0.status))", now.requests[$0] ?? 0) })
        family(
            "overlay_errors_total", "counter", "Requests answered with an error (HTTP 4xx/5xx, a TFTP error, abort or timeout), by protocol.",
            ["http", "tftp"].map { proto in
                ("proto=\(Self.quoted(proto))", now.requests.filter { $0.key.proto == proto && Self.isError($0.key) }.values.reduce(0, +))
            })
        family(
            "overlay_sent_bytes_total", "counter", "Bytes of content sent, by protocol.",
            ["http", "tftp"].map { ("proto=\(Self.quoted($0))", now.bytes[$0] ?? 0) })
        family(
            "overlay_transfers_in_flight", "gauge", "Requests and transfers being answered now, by protocol.",
            ["http", "tftp"].map { ("proto=\(Self.quoted($0))", now.inFlight[$0] ?? 0) })
        family("overlay_tftp_retransmits_total", "counter", "TFTP windows sent again after the client stayed silent.", [("", now.tftpRetransmits)])
        family("overlay_tftp_timeouts_total", "counter", "TFTP transfers given up because the client stopped answering.", [("", now.tftpTimeouts)])
        family(
            "overlay_boots_total", "counter", "Boot files (iPXE, PXELINUX, GRUB) handed to a node, by the node's role.",
            now.boots.keys.sorted().map { ("role=\(Self.quoted($0))", now.boots[$0] ?? 0) })
        family(
            "overlay_reports_total", "counter", "Reports POSTed by booted nodes, by result: accepted, refused (malformed) or limited (sent too often).",
            ["accepted", "refused", "limited"].map { ("result=\(Self.quoted($0))", now.reports[$0] ?? 0) })
        family("overlay_drift_nodes", "gauge", "Nodes whose role, overlays or report differ from the fleet's, or that never reported.", [("", now.driftNodes)])
        family(
            "overlay_drift_kind_nodes", "gauge", "Nodes with each kind of drift (wrong role, stale overlay, missing overlay, ...).",
            now.driftKinds.keys.sorted().map { ("kind=\(Self.quoted($0))", now.driftKinds[$0] ?? 0) })
        return lines.joined(separator: "\n") + "\n"
    }

    private static func isError(_ key: Key) -> Bool {
        if key.proto == "http" { return key.status.first.map { $0 == "4" || $0 == "5" } ?? false }
        return key.status != "ok"
    }

    /// A label value: backslash, double quote and line feed escaped.
    private static func quoted(_ value: String) -> String {
        var out = "\""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }
}
