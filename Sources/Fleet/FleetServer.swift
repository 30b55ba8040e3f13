import Formats
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
    private let httpServers: [(host: String, server: HTTPServer)]
    private let tftpServers: [(host: String, server: TFTPServer)]
    private let report: @Sendable (Event) -> Void
    /// The fleet file and the served manifests as last taken, and as last seen by `checkForChanges` (a change must
    /// hold for one look).
    private var watched: WatchedFiles?
    private var pending: WatchedFiles?

    /// Loads the fleet (when one is given) and binds every address ("ADDR:PORT"; port 0 lets the system choose);
    /// nothing is served before `start()`. With neither `http` nor `tftp`, HTTP binds 0.0.0.0:8080 and TFTP
    /// 0.0.0.0:69.
    public init(
        directory: FilePath, fleetFile: FilePath?, http: [String], tftp: [String], log: AccessLog,
        report: @escaping @Sendable (Event) -> Void
    ) throws {
        self.directory = directory
        self.fleetFile = fleetFile
        self.report = report
        if let fleetFile {
            let fleet = try Fleet.load(file: fleetFile, servedDirectory: directory)
            watched = WatchedFiles(fleetFile: fleetFile, directory: directory, roleDatabases: fleet.roleDatabaseDirectory)
            pending = watched
            catalog = FleetCatalog(fleet)
        } else {
            catalog = nil
        }
        let (http, tftp) = http.isEmpty && tftp.isEmpty ? (["0.0.0.0:8080"], ["0.0.0.0:69"]) : (http, tftp)
        let served = ServerCatalog(fleet: catalog, metrics: metrics)
        let log = log.counting(into: metrics)
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
    }

    /// Stops every server; transfers in flight end.
    public func stop() {
        for (_, server) in httpServers { server.stop() }
        for (_, server) in tftpServers { server.stop() }
    }

    /// Re-reads the fleet file now; a fleet that does not validate is reported and the previous one kept.
    public func reload(reason: String) {
        guard let catalog, let fleetFile else { return }
        watched = WatchedFiles(fleetFile: fleetFile, directory: directory, roleDatabases: catalog.fleet.roleDatabaseDirectory)
        pending = watched
        do {
            let fleet = try Fleet.load(file: fleetFile, servedDirectory: directory)
            catalog.replace(fleet)
            report(Event(importance: .normal, description: "reloaded the fleet (\(reason)): \(fleet.summary)"))
            for note in fleet.notes { report(Event(importance: .warning, description: note)) }
        } catch {
            report(Event(importance: .warning, description: "reload (\(reason)) failed, still serving the previous fleet: \(error)"))
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

/// What the servers ask before they look in the served directory: `metrics`, then the fleet's boot files (each one
/// handed to a node counted as a boot of its role).
final class ServerCatalog: ServeCatalog {
    let fleet: FleetCatalog?
    let metrics: ServeMetrics

    init(fleet: FleetCatalog?, metrics: ServeMetrics) {
        self.fleet = fleet
        self.metrics = metrics
    }

    func generatedDocument(path: String) -> GeneratedDocument? {
        let key = String(path.drop(while: { $0 == "/" }))
        if key == "metrics" {
            return GeneratedDocument(body: Array(metrics.exposition().utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        guard let fleet else { return nil }
        let current = fleet.fleet
        guard let document = current.document(at: key) else { return nil }
        if let role = current.bootRole(at: key) { metrics.booted(role: role) }
        return GeneratedDocument(body: Array(document.body.utf8), contentType: document.contentType)
    }

    func knownDigest(path: String) -> String? { fleet?.knownDigest(path: path) }
}

/// The serve catalog backed by the current fleet; a reload swaps the fleet under the lock and requests already
/// answered keep what they got.
final class FleetCatalog: ServeCatalog {
    private let current: Locked<Fleet>

    init(_ fleet: Fleet) { current = Locked(fleet) }

    var fleet: Fleet { current.withLock { $0 } }

    func replace(_ fleet: Fleet) { current.withLock { $0 = fleet } }

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
