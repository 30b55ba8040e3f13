import Posix
import Serve

/// The reports booted nodes POST to `/report` (see `NodeReport`), and the last one of each node.
///
/// A report is taken when its address is within the rate limit and its body follows the contract; it is then
/// appended to the state directory's `ReportLog` (fsynced before the node hears back) and becomes its node's latest.
/// The `NODE` line names the node; a report without one is put to the MAC whose boot files that address last
/// fetched, or else kept by address. Nothing a node sends is trusted further: the address it came from is kept beside
/// it, and the number of nodes and addresses remembered is bounded.
public final class ReportInbox: Sendable {
    public let log: ReportLog
    public let limit: ReportRateLimit
    private let metrics: ServeMetrics
    private let warn: @Sendable (String) -> Void
    private let state: Locked<State>
    /// Nodes (and addresses of reports without a `NODE` line) remembered at most; the oldest report goes first.
    public static let maxNodes = 8192

    private struct State {
        var latest: [MACAddress: ReceivedReport] = [:]
        var unidentified: [String: ReceivedReport] = [:]
        var lastFailure: String?
    }

    /// Takes what `log` held at start as each node's latest report. `warn` hears a failure to keep a report once,
    /// until keeping works again.
    public init(log: ReportLog, limit: ReportRateLimit = ReportRateLimit(), metrics: ServeMetrics, warn: @escaping @Sendable (String) -> Void) {
        self.log = log
        self.limit = limit
        self.metrics = metrics
        self.warn = warn
        var state = State()
        for report in log.contents.reports { Self.keep(report, as: report.report.node, in: &state) }
        self.state = Locked(state)
    }

    /// Answers one POST body from `client`: 429 with the seconds to wait when the address sends too often, 400 with
    /// the contract's sentence for a malformed report, 500 when the report cannot be written to the state directory
    /// (it is still shown), else 200. `macOf` names the MAC whose boot files an address fetched last, for a report
    /// without a `NODE` line.
    public func receive(_ body: [UInt8], from client: SocketAddress, macOf: (String) -> MACAddress?) -> PostReply {
        let address = client.host
        if let wait = limit.admit(address) {
            metrics.reported("limited")
            return PostReply(
                status: 429, body: "429 Too Many Requests: \(address) sent more than \(Int(limit.burst)) reports in a row; send again in \(wait) s\n",
                retryAfterSeconds: wait)
        }
        let report: NodeReport
        do {
            report = try NodeReport.parse(body)
        } catch {
            metrics.reported("refused")
            return PostReply(status: 400, body: "\(error.description)\n")
        }
        let received = ReceivedReport(time: AccessLog.timestamp(), client: address, report: report)
        let mac = report.node ?? macOf(address)
        var failure: String?
        do {
            try log.append(received)
        } catch {
            failure = error.description
        }
        let warning = state.withLock { state -> String? in
            Self.keep(received, as: mac, in: &state)
            defer { state.lastFailure = failure }
            return failure != nil && failure != state.lastFailure ? failure : nil
        }
        if let warning { warn(warning + "; reports are shown but not kept until this is fixed") }
        let from = mac.map { "node \($0)" } ?? "\(address) (no NODE line)"
        if let failure {
            metrics.reported("refused")
            return PostReply(status: 500, body: "500 Internal Server Error: the report from \(from) could not be kept: \(failure)\n")
        }
        metrics.reported("accepted")
        return PostReply(status: 200, body: "accepted the report from \(from)\n")
    }

    /// Each node's latest report, by the MAC it named (or its address's).
    public var latest: [MACAddress: ReceivedReport] { state.withLock { $0.latest } }

    /// The latest report of each address whose reports named no MAC and that fetched no node's boot files.
    public var unidentified: [ReceivedReport] { state.withLock { Array($0.unidentified.values) }.sorted { $0.client < $1.client } }

    private static func keep(_ report: ReceivedReport, as mac: MACAddress?, in state: inout State) {
        if let mac {
            state.latest[mac] = report
            if state.latest.count > maxNodes, let oldest = state.latest.min(by: { $0.value.time < $1.value.time })?.key {
                state.latest[oldest] = nil
            }
        } else {
            state.unidentified[report.client] = report
            if state.unidentified.count > maxNodes, let oldest = state.unidentified.min(by: { $0.value.time < $1.value.time })?.key {
                state.unidentified[oldest] = nil
            }
        }
    }
}
