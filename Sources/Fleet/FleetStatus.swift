import Formats

/// What `overlay serve` says of its fleet at `GET /status.json` (and shows at `GET /`, and `overlay fleet status`
/// prints): per role, its overlays; per node — every node the fleet lists, and every MAC not listed that fetched a
/// boot file or reported — what it should boot, what it fetched in its last boot, what it last reported, when it
/// was last seen, and where these differ (`drift`, see `NodeDrift`). README.md, "Node reports and drift",
/// documents the JSON.
public struct FleetStatus: Sendable, Codable {
    public struct Server: Sendable, Codable {
        /// When the server started, and now, in its own clock (UTC, ISO 8601 to the millisecond).
        public var started: String
        public var now: String
        public var uptimeSeconds: Double
        /// Whether the server takes reports (`--state`): without them no node can be missing one.
        public var reports: Bool
        /// The base URL boot files name in `overlay.report=` (`--advertise`); nil when only boot files fetched over
        /// HTTP name one, each the address its node used.
        public var advertise: String?

        public init(started: String, now: String, uptimeSeconds: Double, reports: Bool, advertise: String?) {
            self.started = started
            self.now = now
            self.uptimeSeconds = uptimeSeconds
            self.reports = reports
            self.advertise = advertise
        }
    }

    public struct Overlay: Sendable, Codable, Equatable {
        public var name: String
        public var version: String
        public var sha256: String
        public var file: String
        /// `overlay` (cpio) or `layer` (squashfs, erofs).
        public var kind: String
    }

    public struct Role: Sendable, Codable {
        public var name: String
        public var overlays: [Overlay]
        /// The MACs the fleet lists with this role.
        public var nodes: [String]
        /// Whether MACs not listed boot it.
        public var isDefault: Bool
    }

    /// One way a node differs from the fleet: its kind (a `DriftKind`'s name) and what differs, in words.
    public struct Drift: Sendable, Codable, Equatable, Hashable {
        public var kind: String
        public var detail: String

        public init(_ kind: DriftKind, _ detail: String) {
            self.kind = kind.rawValue
            self.detail = detail
        }
    }

    public struct Node: Sendable, Codable {
        /// Colon-separated; nil for a report that named no MAC from an address that fetched no node's boot file.
        public var mac: String?
        /// Whether the fleet lists the MAC in `[[nodes]]`.
        public var listed: Bool
        /// The role the fleet gives it: its own, or the default role for a MAC not listed; nil when it is refused.
        public var role: String?
        /// The later of its last fetch and its last report.
        public var lastSeen: String?
        public var fetched: BootLedger.Boot?
        public var reported: ReceivedReport?
        public var drift: [Drift]
    }

    public var server: Server
    /// The fleet file.
    public var fleet: String
    public var defaultRole: String?
    public var roles: [Role]
    public var nodes: [Node]
    /// How many nodes drift, in all and by kind (a node counts once under each of its kinds).
    public var driftNodes: Int
    public var driftKinds: [String: Int]

    /// The status of `fleet` given each MAC's last boot and last report, and the reports no MAC could be put to.
    public init(
        fleet: Fleet, boots: [MACAddress: BootLedger.Boot], reports: [MACAddress: ReceivedReport], unidentified: [ReceivedReport], server: Server
    ) {
        self.server = server
        self.fleet = fleet.file.string
        defaultRole = fleet.defaultRole
        roles = fleet.roles.map { role in
            Role(
                name: role.name,
                overlays: role.overlays.map {
                    Overlay(
                        name: $0.manifest.name, version: $0.manifest.version, sha256: $0.manifest.sha256, file: $0.path,
                        kind: role.boot.layerNames[$0.path] == nil ? "overlay" : "layer")
                }, nodes: fleet.nodes.filter { $0.role == role.name }.map(\.mac.description), isDefault: role.name == fleet.defaultRole)
        }
        let listed = Set(fleet.nodes.map(\.mac))
        let unlisted = Set(boots.keys).union(reports.keys).subtracting(listed).sorted()
        var nodes: [Node] = []
        for mac in fleet.nodes.map(\.mac) + unlisted {
            let roleName = fleet.node(mac)?.role ?? fleet.defaultRole
            let rules = NodeDrift(
                mac: mac, listed: listed.contains(mac), role: fleet.roles.first { $0.name == roleName }, reportsOn: server.reports)
            let boot = boots[mac]
            let report = reports[mac]
            nodes.append(
                Node(
                    mac: mac.description, listed: listed.contains(mac), role: roleName, lastSeen: [boot?.lastSeen, report?.time].compactMap { $0 }.max(),
                    fetched: boot, reported: report, drift: rules.drift(boot: boot, report: report)))
        }
        for report in unidentified {
            let rules = NodeDrift(mac: nil, listed: false, role: nil, reportsOn: server.reports)
            nodes.append(
                Node(mac: nil, listed: false, role: nil, lastSeen: report.time, fetched: nil, reported: report, drift: rules.drift(boot: nil, report: report)))
        }
        self.nodes = nodes
        driftNodes = nodes.filter { !$0.drift.isEmpty }.count
        var kinds: [String: Int] = [:]
        for node in nodes {
            for kind in Set(node.drift.map(\.kind)) { kinds[kind, default: 0] += 1 }
        }
        driftKinds = kinds
    }

    /// "3 of 5 nodes drift: 1 stale overlay, 1 never reported, 1 unknown MAC", or "no drift: 5 nodes as the fleet
    /// says".
    public var summary: String {
        if driftNodes == 0 { return "no drift: \(counted(nodes.count, "node")) as the fleet says" }
        let kinds = DriftKind.allCases.compactMap { kind in driftKinds[kind.rawValue].map { "\($0) \(kind.rawValue)" } }
        return "\(driftNodes) of \(counted(nodes.count, "node")) drift: " + kinds.joined(separator: ", ")
    }
}
