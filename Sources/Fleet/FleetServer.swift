import Formats
import Foundation
import Posix
import Serve
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// What `overlay serve` runs: HTTP and TFTP servers over one directory, answering with the fleet's boot files,
/// and the fleet re-read on SIGHUP, when its file changes, or when the manifests in the served directory change (an
/// overlay built or replaced there, a role's rpmdb made): what was built is served without a signal. A manifest
/// appears only after the file it names (build publishes the overlay first), so a half-written overlay is never
/// named; a transfer in flight keeps the file it opened, whatever replaces it. A fleet that no longer validates is
/// not taken: the previous one keeps being served.
///
/// Beside the boot files it keeps what each node fetched in its last boot (`BootLedger`, from the access log) and,
/// with a state directory, takes the reports booted nodes POST to `/report` (`ReportInbox`), naming that URL in the
/// boot files as `overlay.report=`; `/status.json` and `/` show how each node drifts from the fleet (`FleetStatus`).
public final class FleetServer {
    /// One line of what the server does, for its operator.
    public struct Event: Sendable, CustomStringConvertible {
        public enum Importance: Sendable, Comparable {
            /// Each listener as it starts: only when asked for detail.
            case detail
            /// Start, reload, stop.
            case normal
            /// A reload that was refused: always said.
            case warning
        }
        public let importance: Importance
        public let description: String
    }

    /// Where reports are kept and where nodes are told to send them.
    public struct Reports: Sendable {
        /// The state directory: `reports.jsonl` is kept there.
        public var state: FilePath
        /// The URL nodes reach the server at (`--advertise`); without it, boot files fetched over HTTP name the
        /// address their node used (its `Host` header) and those fetched over TFTP name none.
        public var advertise: ReportAddress?
        /// `reports.jsonl` is rotated once it passes this size.
        public var rotateBytes: Int

        public init(state: FilePath, advertise: ReportAddress? = nil, rotateBytes: Int = ReportLog.defaultRotateBytes) {
            self.state = state
            self.advertise = advertise
            self.rotateBytes = rotateBytes
        }
    }

    /// What checking a fleet before it is served found: `failures` refuse it (one sentence each), `notes` are said
    /// and do not (a role that could not be checked).
    public struct CheckResult: Sendable, Equatable {
        public var failures: [String]
        public var notes: [String]

        public init(failures: [String] = [], notes: [String] = []) {
            self.failures = failures
            self.notes = notes
        }
    }

    /// An address the server listens on.
    public struct Listener: Sendable, Equatable {
        /// "HTTP" or "TFTP".
        public let service: String
        public let host: String
        public let port: UInt16
    }

    public let directory: FilePath
    public let fleetFile: FilePath?
    private let catalog: FleetCatalog?
    /// What the servers have done, served as `GET /metrics`.
    public let metrics = ServeMetrics()
    /// What each client fetched in its last boot.
    public let ledger = BootLedger()
    /// The reports nodes sent, when the server takes them.
    public let inbox: ReportInbox?
    private let served: ServerCatalog
    private let httpServers: [(host: String, server: HTTPServer)]
    private let tftpServers: [(host: String, server: TFTPServer)]
    private let report: @Sendable (Event) -> Void
    /// Run on each fleet a reload reads before it is taken; nil takes every fleet that loads.
    private let check: ((Fleet) -> CheckResult)?
    /// The fleet file and the served manifests as last taken, and as last seen by `checkForChanges` (a change must
    /// hold for one look).
    private var watched: WatchedFiles?
    private var pending: WatchedFiles?

    /// Loads the fleet (when one is given) and binds every address ("ADDR:PORT"; port 0 lets the system choose);
    /// nothing is served before `start()`. With neither `http` nor `tftp`, HTTP binds 0.0.0.0:8080 and TFTP
    /// 0.0.0.0:69.
    /// With `reports` (which needs a fleet), reports are taken and kept in its state directory, read back first.
    /// `check` vets every fleet a reload reads (the one given at start is the caller's to check): a fleet it fails is
    /// refused as one that does not load is.
    public init(
        directory: FilePath, fleetFile: FilePath?, http: [String], tftp: [String], log: AccessLog, reports: Reports? = nil,
        check: ((Fleet) -> CheckResult)? = nil, report: @escaping @Sendable (Event) -> Void
    ) throws {
        self.directory = directory
        self.fleetFile = fleetFile
        self.check = check
        self.report = report
        if let fleetFile {
            let fleet = try Fleet.load(file: fleetFile, servedDirectory: directory)
            watched = WatchedFiles(fleetFile: fleetFile, directory: directory, roleDatabases: fleet.roleDatabaseDirectory)
            pending = watched
            catalog = FleetCatalog(fleet)
            ledger.remember(fleet)
        } else {
            catalog = nil
        }
        if let reports, catalog != nil {
            let events = report
            inbox = ReportInbox(
                log: try ReportLog(directory: reports.state, rotateBytes: reports.rotateBytes), metrics: metrics,
                warn: { events(Event(importance: .warning, description: $0)) })
        } else {
            inbox = nil
        }
        let (http, tftp) = http.isEmpty && tftp.isEmpty ? (["0.0.0.0:8080"], ["0.0.0.0:69"]) : (http, tftp)
        let served = ServerCatalog(fleet: catalog, metrics: metrics, ledger: ledger, inbox: inbox, advertise: reports?.advertise)
        self.served = served
        let ledger = ledger
        let catalog = catalog
        let log = log.counting(into: metrics).observed { entry in ledger.record(entry, fleet: catalog?.fleet) }
        httpServers = try http.map { address in
            (Self.host(address), try Self.listen("HTTP", address) { try HTTPServer(root: directory, bind: $0, catalog: served, log: log) })
        }
        tftpServers = try tftp.map { address in
            (Self.host(address), try Self.listen("TFTP", address) { try TFTPServer(root: directory, bind: $0, catalog: served, log: log) })
        }
    }

    deinit { stop() }

    /// Every address listened on, HTTP first, with the ports the system chose.
    public var listeners: [Listener] {
        httpServers.map { Listener(service: "HTTP", host: $0.host, port: $0.server.port) }
            + tftpServers.map { Listener(service: "TFTP", host: $0.host, port: $0.server.port) }
    }

    /// The fleet being served, if any.
    public var fleet: Fleet? { catalog?.fleet }

    /// Starts every server on its own threads and returns.
    public func start() throws {
        for (host, server) in httpServers {
            try server.start()
            report(Event(importance: .detail, description: "HTTP listening on \(host):\(server.port)"))
        }
        for (host, server) in tftpServers {
            try server.start()
            report(Event(importance: .detail, description: "TFTP listening on \(host):\(server.port)"))
        }
        var services: [String] = []
        for service in ["HTTP", "TFTP"] {
            let addresses = listeners.filter { $0.service == service }.map { "\($0.host):\($0.port)" }
            if !addresses.isEmpty { services.append("\(service) on " + addresses.joined(separator: ", ")) }
        }
        report(
            Event(
                importance: .normal,
                description: "serving \(directory) over \(services.joined(separator: " and "))"
                    + (catalog.map { "; " + $0.fleet.summary } ?? "; no fleet, files only")))
        for note in catalog?.fleet.notes ?? [] { report(Event(importance: .warning, description: note)) }
        if let inbox { reportStart(inbox) }
    }

    /// What the state directory held, and which nodes cannot say where to report.
    private func reportStart(_ inbox: ReportInbox) {
        let log = inbox.log
        let file = log.directory.appending(ReportLog.fileName)
        report(
            Event(
                importance: .normal,
                description:
                    "taking node reports at /report, kept in \(file); read back \(counted(log.contents.reports.count, "report")) of \(counted(inbox.latest.count, "node"))"
            ))
        if log.contents.tornBytes > 0 {
            report(Event(importance: .warning, description: "\(file) ended in a line a crash cut short; its \(log.contents.tornBytes) bytes were removed"))
        }
        if log.contents.unreadable > 0 {
            report(Event(importance: .warning, description: "\(counted(log.contents.unreadable, "line")) of \(file) did not read as a report and were skipped"))
        }
        if served.advertise == nil && !tftpServers.isEmpty {
            report(
                Event(
                    importance: .warning,
                    description:
                        "nodes booted over TFTP will not report: a boot file fetched over TFTP has no Host header to name this server by; give --advertise URL"
                ))
        }
    }

    /// How each node drifts from the fleet now; nil without a fleet.
    public func status() -> FleetStatus? { served.status() }

    /// Stops every server; transfers in flight end.
    public func stop() {
        for (_, server) in httpServers { server.stop() }
        for (_, server) in tftpServers { server.stop() }
    }

    /// Re-reads the fleet file now; a fleet that does not validate, or fails `check`, is reported (a line per
    /// failure) and the previous one kept.
    public func reload(reason: String) {
        guard let catalog, let fleetFile else { return }
        watched = WatchedFiles(fleetFile: fleetFile, directory: directory, roleDatabases: catalog.fleet.roleDatabaseDirectory)
        pending = watched
        let refused = "reload (\(reason)) failed, still serving the previous fleet"
        do {
            let fleet = try Fleet.load(file: fleetFile, servedDirectory: directory)
            if let result = check?(fleet) {
                for note in result.notes { report(Event(importance: .warning, description: note)) }
                guard result.failures.isEmpty else {
                    for failure in result.failures { report(Event(importance: .warning, description: "\(refused): \(failure)")) }
                    return
                }
            }
            catalog.replace(fleet)
            ledger.remember(fleet)
            report(Event(importance: .normal, description: "reloaded the fleet (\(reason)): \(fleet.summary)"))
            for note in fleet.notes { report(Event(importance: .warning, description: note)) }
        } catch {
            report(Event(importance: .warning, description: "\(refused): \(error)"))
        }
    }

    /// Looks at the fleet file and the served manifests once. The fleet is reloaded once they changed and then
    /// stayed the same from one look to the next, so that an editor's half-written file, or a build's overlay
    /// published a moment before its manifest, is not taken for the new fleet.
    public func checkForChanges() {
        guard let catalog, let fleetFile else { return }
        let now = WatchedFiles(fleetFile: fleetFile, directory: directory, roleDatabases: catalog.fleet.roleDatabaseDirectory)
        if now != watched && now == pending, let watched {
            reload(reason: now.change(since: watched, fleetFile: fleetFile))
        }
        pending = now
    }

    /// Serves until SIGINT or SIGTERM: starts the servers, re-reads the fleet on SIGHUP and when its file or the
    /// served manifests change (looked at every second), and stops cleanly. The signals are blocked before any server thread exists, so
    /// every thread inherits the mask and only this loop receives them: no work happens in a signal handler.
    public func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        Self.raiseOpenFileLimit()
        try start()
        var timeout = timespec(tv_sec: 1, tv_nsec: 0)
        loop: while true {
            let received = sigtimedwait(&signals, nil, &timeout)
            switch received {
            case SIGINT, SIGTERM:
                report(Event(importance: .normal, description: "stopping on \(received == SIGINT ? "SIGINT" : "SIGTERM")"))
                break loop
            case SIGHUP:
                reload(reason: "SIGHUP")
            default:
                checkForChanges()  // a timeout (or EINTR)
            }
        }
        stop()
        report(Event(importance: .normal, description: "stopped"))
    }

    private static func listen<Server>(_ service: String, _ address: String, _ make: (String) throws -> Server) throws -> Server {
        do {
            return try make(address)
        } catch ServeError.socket(_, let reason) where reason.errno == .permissionDenied {
            throw FleetServerError.privilegedPort(service: service, address: address, reason: reason.errno.posixDescription)
        }
    }

    private static func host(_ address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }

    /// A boot storm holds a descriptor per connection and transfer: lift the soft limit to the hard one
    /// (1024 by default, which a thousand clients exceed), as nginx's worker_rlimit_nofile does.
    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

public enum FleetServerError: UserError, Sendable {
    /// A port below 1024 without the privilege to bind it.
    case privilegedPort(service: String, address: String, reason: String)

    public var description: String {
        switch self {
        case .privilegedPort(let service, let address, let reason):
            "cannot listen for \(service) on \(address): \(reason); ports below 1024 need root or CAP_NET_BIND_SERVICE, or choose another port with --\(service.lowercased()) ADDR:PORT"
        }
    }
}

extension Fleet {
    /// "fleet F: 2 nodes, 2 roles, unknown MACs boot role compute", as `serve` says it at start and on reload.
    public var summary: String {
        let fallback = defaultRole.map { "unknown MACs boot role \($0)" } ?? "unknown MACs are refused"
        return "fleet \(file): \(counted(nodes.count, "node")), \(counted(roles.count, "role")), \(fallback)"
    }
}

/// What the servers ask before they look in the served directory: `metrics`, with a fleet `status.json` and the
/// status page at `/`, then the fleet's boot files (each one handed to a node counted as a boot of its role, and
/// naming where to report when reports are taken); a POST to `/report` goes to the inbox.
final class ServerCatalog: ServeCatalog {
    let fleet: FleetCatalog?
    let metrics: ServeMetrics
    let ledger: BootLedger
    let inbox: ReportInbox?
    let advertise: ReportAddress?
    private let started = (wall: AccessLog.timestamp(), monotonic: ReportRateLimit.seconds())

    init(fleet: FleetCatalog?, metrics: ServeMetrics, ledger: BootLedger, inbox: ReportInbox?, advertise: ReportAddress?) {
        self.fleet = fleet
        self.metrics = metrics
        self.ledger = ledger
        self.inbox = inbox
        self.advertise = advertise
    }

    func generatedDocument(path: String) -> GeneratedDocument? { nil }

    func generatedDocument(path: String, for request: ServeRequest) -> GeneratedDocument? {
        let key = String(path.drop(while: { $0 == "/" }))
        if key == "metrics" {
            if let status = status() { metrics.drift(nodes: status.driftNodes, byKind: status.driftKinds) }
            return GeneratedDocument(body: Array(metrics.exposition().utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        guard let fleet else { return nil }
        if key == "status.json", let status = status(), let json = try? JSONEncoder.manifest.encode(status) {
            return GeneratedDocument(body: Array(json) + [UInt8(ascii: "\n")], contentType: "application/json", headers: [("Cache-Control", "no-store")])
        }
        if key.isEmpty, let status = status() {
            return GeneratedDocument(body: Array(StatusPage.html(status).utf8), contentType: StatusPage.contentType, headers: StatusPage.headers)
        }
        let current = fleet.fleet(reportingTo: reportAddress(for: request))
        guard let document = current.document(at: key) else { return nil }
        if let role = current.bootRole(at: key) { metrics.booted(role: role) }
        return GeneratedDocument(body: Array(document.body.utf8), contentType: document.contentType)
    }

    /// Where a boot file fetched by `request` tells its node to report: `--advertise`, else over HTTP the address
    /// the node used; nil when reports are off.
    private func reportAddress(for request: ServeRequest) -> ReportAddress? {
        guard inbox != nil else { return nil }
        if let advertise { return advertise }
        guard request.proto == "http", let host = request.host else { return nil }
        return ReportAddress(host: host)
    }

    func knownDigest(path: String) -> String? { fleet?.knownDigest(path: path) }

    func postLimit(path: String) -> Int? { path == "report" && inbox != nil ? NodeReport.maxBytes : nil }

    func post(path: String, body: [UInt8], from request: ServeRequest) -> PostReply {
        guard let inbox else { return PostReply(status: 404, body: "404 Not Found\n") }
        return inbox.receive(body, from: request.client) { ledger.mac(ofClient: $0) }
    }

    func status() -> FleetStatus? {
        guard let fleet = fleet?.fleet else { return nil }
        let server = FleetStatus.Server(
            started: started.wall, now: AccessLog.timestamp(), uptimeSeconds: ((ReportRateLimit.seconds() - started.monotonic) * 1000).rounded() / 1000,
            reports: inbox != nil,
            advertise: advertise?.base)
        return FleetStatus(
            fleet: fleet, boots: ledger.boots, reports: inbox?.latest ?? [:], unidentified: inbox?.unidentified ?? [], server: server)
    }
}

/// The serve catalog backed by the current fleet; a reload swaps the fleet under the lock and requests already
/// answered keep what they got. The fleet's boot files naming a report address are made once per address and kept
/// until the next reload (a few addresses at most: the ones nodes reach the server by).
final class FleetCatalog: ServeCatalog {
    private struct State {
        var fleet: Fleet
        /// Counts reloads, so that boot files made from a fleet a reload replaced meanwhile are not kept.
        var generation = 0
        var reporting: [String: Fleet] = [:]
    }

    private let state: Locked<State>
    private static let maxReportAddresses = 16

    init(_ fleet: Fleet) { state = Locked(State(fleet: fleet)) }

    var fleet: Fleet { state.withLock { $0.fleet } }

    func replace(_ fleet: Fleet) {
        state.withLock {
            $0.fleet = fleet
            $0.generation += 1
            $0.reporting = [:]
        }
    }

    /// The current fleet with boot files that name `report`.
    func fleet(reportingTo report: ReportAddress?) -> Fleet {
        let (fleet, generation, made) = state.withLock { state in (state.fleet, state.generation, report.flatMap { state.reporting[$0.base] }) }
        guard let report else { return fleet }
        if let made { return made }
        let reporting = fleet.reporting(to: report)
        state.withLock {
            if $0.generation == generation && $0.reporting.count < Self.maxReportAddresses { $0.reporting[report.base] = reporting }
        }
        return reporting
    }

    func generatedDocument(path: String) -> GeneratedDocument? {
        fleet.document(at: path).map { GeneratedDocument(body: Array($0.body.utf8), contentType: $0.contentType) }
    }

    func knownDigest(path: String) -> String? { fleet.digest(of: path) }
}

/// What identifies one version of a file without reading it: device, inode, size, modification and change times.
/// A rename over the file (how editors save) changes the inode; an in-place write changes the times.
/// What the server watches: the fleet file, and every manifest in the served directory (overlays' and the base's, as
/// the fleet finds them, and the roles' rpmdb manifests).
struct WatchedFiles: Equatable {
    let fleet: FileSignature?
    let manifests: [String: FileSignature]

    init(fleetFile: FilePath, directory: FilePath, roleDatabases: String) {
        fleet = FileSignature(fleetFile)
        var manifests: [String: FileSignature] = [:]
        for relative in ServedManifests.manifestPaths(directory) + ServedManifests.jsonFiles(in: roleDatabases, under: directory) {
            if let signature = FileSignature(directory.appending(relative)) { manifests[relative] = signature }
        }
        self.manifests = manifests
    }

    /// Why a reload happens, in words: the fleet file changed, or which manifests came, went or changed.
    func change(since old: WatchedFiles, fleetFile: FilePath) -> String {
        if fleet != old.fleet { return "\(fleetFile) changed" }
        var parts: [String] = []
        let added = manifests.keys.filter { old.manifests[$0] == nil }.sorted()
        let removed = old.manifests.keys.filter { manifests[$0] == nil }.sorted()
        let changed = manifests.keys.filter { old.manifests[$0] != nil && old.manifests[$0] != manifests[$0] }.sorted()
        if !added.isEmpty { parts.append("\(added.joined(separator: ", ")) added") }
        if !changed.isEmpty { parts.append("\(changed.joined(separator: ", ")) changed") }
        if !removed.isEmpty { parts.append("\(removed.joined(separator: ", ")) removed") }
        return "served manifests: " + parts.joined(separator: "; ")
    }
}

struct FileSignature: Equatable {
    let values: [Int]

    init?(_ path: FilePath) {
        var status = stat()
        guard path.withPlatformString({ stat($0, &status) }) == 0 else { return nil }
        values = [
            Int(status.st_dev), Int(status.st_ino), Int(status.st_size), Int(status.st_mtim.tv_sec), Int(status.st_mtim.tv_nsec),
            Int(status.st_ctim.tv_sec), Int(status.st_ctim.tv_nsec),
        ]
    }
}
