import Posix
import Serve

/// What each client fetched in its last boot, kept in memory from the access log's entries: the boot files, the
/// kernel and every initrd, each with the sha256 it was served under, the bytes sent, the protocol, the time and
/// whether it arrived whole.
///
/// A boot is a client address's run of fetches that starts with a boot file (`boot.ipxe`, `ipxe/<mac>`,
/// `pxelinux.cfg/...`, `grub.cfg...`) after the kernel or an initrd was fetched, or with a boot file of another MAC.
/// A per-MAC boot file (`ipxe/<mac>`, `pxelinux.cfg/01-<mac>`, `grub.cfg-01-<mac>`) names the MAC; the kernel and
/// initrds that address fetches next are that MAC's. Only what the fleet serves is recorded (and overlays an earlier
/// fleet of this server named, so that a node still booting an old overlay is seen doing so), and at most
/// `maxClients` addresses and MACs are remembered, the longest silent forgotten first.
public final class BootLedger: Sendable {
    /// One file fetched.
    public struct Fetch: Sendable, Codable, Equatable {
        public var path: String
        /// `boot file`, `kernel`, `base`, `overlay`, `layer` or `rpmdb`.
        public var kind: String
        /// The plugin an overlay or layer holds, and its version.
        public var plugin: String?
        public var version: String?
        /// The sha256 the file was served under (its HTTP ETag), from its manifest.
        public var sha256: String?
        /// For a boot file: the role it boots (none for a refusal or `boot.ipxe`).
        public var role: String?
        /// `http` or `tftp`.
        public var proto: String
        /// The HTTP status or TFTP outcome (`200`, `404`, `ok`, `error 1`, `timeout`).
        public var status: String
        public var bytes: Int
        /// Whether the whole file reached the node.
        public var complete: Bool
        public var time: String
    }

    /// One client's last boot.
    public struct Boot: Sendable, Codable, Equatable {
        /// The address the fetches came from, without the port.
        public var client: String
        /// The MAC a per-MAC boot file named, colon-separated.
        public var mac: String?
        public var started: String
        public var lastSeen: String
        public var fetches: [Fetch]
    }

    /// What the fleet (or an earlier fleet) says a served path is.
    struct Item {
        var kind: String
        var mac: MACAddress?
        var role: String?
        var plugin: String?
        var version: String?
        var sha256: String?
    }

    public let maxClients: Int
    /// Fetches kept per boot; a boot needs a few boot files, a kernel and its initrds.
    public static let maxFetches = 64

    private struct State {
        var byClient: [String: Boot] = [:]
        var byMAC: [String: Boot] = [:]
        /// Overlays of this and earlier fleets, by path.
        var overlays: [String: Item] = [:]
    }

    private let state = Locked(State())

    public init(maxClients: Int = 4096) {
        self.maxClients = max(1, maxClients)
    }

    /// Learns the fleet's overlays, so that a node fetching one after the fleet moved on is still seen fetching it.
    public func remember(_ fleet: Fleet) {
        var items: [String: Item] = [:]
        for role in fleet.roles {
            for overlay in role.overlays {
                items[overlay.path] = Item(
                    kind: role.boot.layerNames[overlay.path] == nil ? "overlay" : "layer", plugin: overlay.manifest.name,
                    version: overlay.manifest.version, sha256: overlay.manifest.sha256)
            }
        }
        state.withLock { state in
            state.overlays.merge(items) { $1 }
            if state.overlays.count > 4 * maxClients { state.overlays = items }
        }
    }

    /// Records one access log entry: a GET or a TFTP read of something the fleet serves.
    public func record(_ entry: AccessLog.Entry, fleet: Fleet?) {
        guard entry.method == "GET" || entry.method == "RRQ", let fleet else { return }
        let path = String(entry.path.drop { $0 == "/" })
        let client = entry.client.host
        let time = AccessLog.timestamp()
        let served = fleet.servedItem(at: path)
        state.withLock { state in
            guard let item = served ?? state.overlays[path] else { return }
            let fetch = Fetch(
                path: path, kind: item.kind, plugin: item.plugin, version: item.version, sha256: entry.digest ?? item.sha256, role: item.role,
                proto: entry.proto, status: entry.status, bytes: entry.bytes, complete: entry.complete, time: time)
            var boot = state.byClient[client]
            if item.kind == "boot file" {
                let newMAC = item.mac.map(\.description)
                if let current = boot, !current.fetches.contains(where: { $0.kind != "boot file" }),
                    newMAC == nil || current.mac == nil || current.mac == newMAC
                {
                    boot = current
                } else {
                    boot = Boot(client: client, mac: nil, started: time, lastSeen: time, fetches: [])
                }
                if let newMAC { boot?.mac = newMAC }
            }
            guard var boot else { return }  // a file fetched without a boot file first: not a boot
            if boot.fetches.count < Self.maxFetches { boot.fetches.append(fetch) }
            boot.lastSeen = time
            state.byClient[client] = boot
            if let mac = boot.mac { state.byMAC[mac] = boot }
            Self.trim(&state.byClient, to: maxClients)
            Self.trim(&state.byMAC, to: maxClients)
        }
    }

    /// The MAC whose boot files `client` (an address without port) fetched last.
    public func mac(ofClient client: String) -> MACAddress? {
        state.withLock { $0.byClient[client]?.mac }.flatMap(MACAddress.init)
    }

    /// Each MAC's last boot.
    public var boots: [MACAddress: Boot] {
        let byMAC = state.withLock { $0.byMAC }
        var boots: [MACAddress: Boot] = [:]
        for (text, boot) in byMAC { if let mac = MACAddress(text) { boots[mac] = boot } }
        return boots
    }

    private static func trim(_ boots: inout [String: Boot], to limit: Int) {
        while boots.count > limit, let oldest = boots.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key { boots[oldest] = nil }
    }
}

extension Fleet {
    /// The MAC a per-node boot file's path names: `ipxe/<mac>`, `pxelinux.cfg/01-<mac>`, `[…/]grub.cfg-01-<mac>`.
    public static func bootFileMAC(at path: String) -> MACAddress? {
        let key = String(path.drop { $0 == "/" })
        let last = key.split(separator: "/").last.map(String.init) ?? key
        if key.hasPrefix("ipxe/") { return MACAddress(String(key.dropFirst("ipxe/".count))) }
        if key.hasPrefix("pxelinux.cfg/01-") { return MACAddress(String(key.dropFirst("pxelinux.cfg/01-".count))) }
        if last.hasPrefix("grub.cfg-01-") { return MACAddress(String(last.dropFirst("grub.cfg-01-".count))) }
        return nil
    }

    /// What `path` is to this fleet: a boot file (with the MAC it names and the role it boots), the kernel, a base
    /// initrd, an overlay or layer, a role's rpmdb; nil for anything else.
    func servedItem(at path: String) -> BootLedger.Item? {
        let mac = Self.bootFileMAC(at: path)
        if mac != nil || document(at: path) != nil || path.hasPrefix("pxelinux.cfg/") || path.split(separator: "/").last?.hasPrefix("grub.cfg") == true {
            return BootLedger.Item(kind: "boot file", mac: mac, role: bootRole(at: path))
        }
        for role in roles {
            if path == role.boot.kernel { return BootLedger.Item(kind: "kernel") }
            guard role.boot.initrds.contains(path) else { continue }
            if let overlay = role.overlays.first(where: { $0.path == path }) {
                return BootLedger.Item(
                    kind: role.boot.layerNames[path] == nil ? "overlay" : "layer", plugin: overlay.manifest.name, version: overlay.manifest.version,
                    sha256: overlay.manifest.sha256)
            }
            let kind = path.hasPrefix(roleDatabaseDirectory + "/") ? "rpmdb" : "base"
            return BootLedger.Item(kind: kind, sha256: digest(of: path))
        }
        return nil
    }
}
