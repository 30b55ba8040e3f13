import Fleet
import Formats
import Foundation

/// What `overlay fleet status` prints: a line about the server, a table with one row per node (MAC, role, last seen,
/// what its last boot fetched, the plugins it last reported, its drift kinds), each drift in words under its node,
/// and the summary.
struct FleetStatusTable {
    let status: FleetStatus
    let server: String

    init(_ status: FleetStatus, server: String) {
        self.status = status
        self.server = server
    }

    func text() -> String {
        let reports = status.server.reports ? "reports on" : "reports off (serve without --state)"
        var out = "\(server) serves \(status.fleet): up \(FleetStatus.duration(status.server.uptimeSeconds)), \(reports)\n"
        let header = ["MAC", "ROLE", "LAST SEEN", "FETCHED", "REPORTED", "DRIFT"]
        let rows = status.nodes.map { node in
            [
                node.mac ?? node.reported?.client ?? "?", node.role ?? "(refused)", lastSeen(node.lastSeen), fetched(node.fetched), reported(node.reported),
                node.drift.isEmpty ? "-" : orderedKinds(node.drift).joined(separator: ", "),
            ]
        }
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                column == cells.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        out += line(header)
        for (node, row) in zip(status.nodes, rows) {
            out += line(row)
            for drift in node.drift { out += "    \(drift.kind): \(drift.detail)\n" }
        }
        return out + status.summary + "\n"
    }

    private func orderedKinds(_ drift: [FleetStatus.Drift]) -> [String] {
        var seen: Set<String> = []
        return drift.map(\.kind).filter { seen.insert($0).inserted }
    }

    /// "12 s ago", measured on the server's clock; "never".
    private func lastSeen(_ time: String?) -> String {
        guard let time else { return "never" }
        guard let then = Self.date(time), let now = Self.date(status.server.now) else { return time }
        return FleetStatus.duration(now.timeIntervalSince(then)) + " ago"
    }

    private func fetched(_ boot: BootLedger.Boot?) -> String {
        guard let boot else { return "-" }
        let partial = boot.fetches.filter { !$0.complete }.count
        var protocols: [String] = []
        for fetch in boot.fetches where !protocols.contains(fetch.proto) { protocols.append(fetch.proto) }
        return counted(boot.fetches.count, "file") + (partial == 0 ? "" : ", \(partial) incomplete") + " (\(protocols.joined(separator: ", ")))"
    }

    private func reported(_ received: ReceivedReport?) -> String {
        guard let received else { return "-" }
        let plugins = received.report.plugins
        return plugins.isEmpty ? "no plugins" : plugins.map { "\($0.name) \($0.version)" }.joined(separator: ", ")
    }

    private static func date(_ text: String) -> Date? {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return parser.date(from: text)
    }
}
