/// The kinds of drift, in the order they are listed.
public enum DriftKind: String, Sendable, CaseIterable {
    /// A MAC the fleet does not list fetched a boot file or reported.
    case unknownMAC = "unknown MAC"
    /// The node fetched another role's boot file, or reported another role.
    case wrongRole = "wrong role"
    /// The node fetched or reported a version (or, fetched, a digest) of a plugin that the role no longer names.
    case staleOverlay = "stale overlay"
    /// An overlay of the role that the node's last boot did not fetch whole, or that its report does not list.
    case missingOverlay = "missing overlay"
    /// The node fetched or reported a plugin its role does not have at all.
    case unexpectedPlugin = "unexpected plugin"
    /// The server takes reports, and the node has not sent one (or not since its last boot).
    case neverReported = "never reported"
    /// The node's own `MISMATCH` line: what it was told to expect is not what it has.
    case mismatch = "mismatch"
}

/// How one node's last boot and last report compare with what the fleet says it should boot: the rules behind
/// `FleetStatus`'s `drift`.
///
/// What a node fetched is compared with its role's overlays by plugin name, version and sha256 (the digest it was
/// served under); what it reported, by plugin name and version (a report names no digests). A node with no role (a
/// MAC not listed, and no default role) is only an unknown MAC.
struct NodeDrift {
    let mac: MACAddress?
    let listed: Bool
    /// The role the fleet gives the node now.
    let role: Fleet.Role?
    let reportsOn: Bool

    func drift(boot: BootLedger.Boot?, report: ReceivedReport?) -> [FleetStatus.Drift] {
        var found: [FleetStatus.Drift] = []
        if !listed {
            if mac == nil {
                found.append(.init(.unknownMAC, "a report without a NODE line from \(report?.client ?? "an address") that fetched no node's boot file"))
            } else if let role {
                found.append(.init(.unknownMAC, "not in [[nodes]]: it boots the default role \(role.name)"))
            } else {
                found.append(.init(.unknownMAC, "not in [[nodes]], and the fleet has no default role: it is refused"))
            }
        }
        guard let role else { return found }
        if let boot { found += fetched(boot, role: role) }
        if let report {
            found += reported(report.report, role: role)
            if let boot, boot.started > report.time, reportsOn {
                found.append(.init(.neverReported, "booted again at \(boot.started) and has not reported since its report of \(report.time)"))
            }
        } else if reportsOn && listed {
            found.append(
                .init(
                    .neverReported,
                    boot.map { "fetched its boot files at \($0.started) and has not reported" } ?? "no report, and no boot seen since the server started"))
        }
        var seen: Set<FleetStatus.Drift> = []
        let order = DriftKind.allCases.map(\.rawValue)
        return found.filter { seen.insert($0).inserted }.enumerated().sorted {
            let (a, b) = (order.firstIndex(of: $0.element.kind) ?? 0, order.firstIndex(of: $1.element.kind) ?? 0)
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
    }

    /// The last boot against the role: the boot file's role, then each overlay fetched and each one the role has.
    private func fetched(_ boot: BootLedger.Boot, role: Fleet.Role) -> [FleetStatus.Drift] {
        var found: [FleetStatus.Drift] = []
        let bootRoles = Set(boot.fetches.compactMap(\.role))
        for other in bootRoles.sorted() where other != role.name {
            found.append(.init(.wrongRole, "fetched the boot file of role \(other); the fleet gives it role \(role.name)"))
        }
        // A boot whose boot file named no role (a refusal, or boot.ipxe alone) fetched nothing to compare.
        guard !bootRoles.isEmpty else { return found }
        let plugins = boot.fetches.filter { $0.plugin != nil }
        for fetch in plugins {
            guard let name = fetch.plugin, let version = fetch.version else { continue }
            guard let wanted = role.overlays.first(where: { $0.manifest.name == name }) else {
                found.append(.init(.unexpectedPlugin, "fetched \(name) \(version), which role \(role.name) does not have"))
                continue
            }
            if wanted.manifest.version != version {
                found.append(.init(.staleOverlay, "fetched \(name) \(version); the role has \(name) \(wanted.manifest.version)"))
            } else if let digest = fetch.sha256, digest != wanted.manifest.sha256 {
                found.append(
                    .init(
                        .staleOverlay,
                        "fetched \(name) \(version) as sha256:\(digest.prefix(12))…; its manifest now says sha256:\(wanted.manifest.sha256.prefix(12))…"))
            }
        }
        for wanted in role.overlays where !plugins.contains(where: { $0.plugin == wanted.manifest.name }) {
            found.append(.init(.missingOverlay, "did not fetch \(wanted.manifest.name) \(wanted.manifest.version) (\(wanted.path))"))
        }
        for wanted in role.overlays {
            let tries = plugins.filter { $0.plugin == wanted.manifest.name && $0.version == wanted.manifest.version }
            if !tries.isEmpty && !tries.contains(where: \.complete), let last = tries.last {
                found.append(
                    .init(
                        .missingOverlay,
                        "\(wanted.manifest.name) \(wanted.manifest.version) did not arrive whole (\(last.proto) \(last.status), \(last.bytes) bytes)"))
            }
        }
        return found
    }

    /// The last report against the role: its role, its plugins, and its own verdict.
    private func reported(_ report: NodeReport, role: Fleet.Role) -> [FleetStatus.Drift] {
        var found: [FleetStatus.Drift] = []
        if let reportedRole = report.role, reportedRole != role.name {
            found.append(.init(.wrongRole, "reported role \(reportedRole); the fleet gives it role \(role.name)"))
        }
        for plugin in report.plugins {
            guard let wanted = role.overlays.first(where: { $0.manifest.name == plugin.name }) else {
                found.append(.init(.unexpectedPlugin, "reported \(plugin.name) \(plugin.version), which role \(role.name) does not have"))
                continue
            }
            if wanted.manifest.version != plugin.version {
                found.append(.init(.staleOverlay, "reported \(plugin.name) \(plugin.version); the role has \(plugin.name) \(wanted.manifest.version)"))
            }
        }
        for wanted in role.overlays where !report.plugins.contains(where: { $0.name == wanted.manifest.name }) {
            found.append(.init(.missingOverlay, "did not report \(wanted.manifest.name) \(wanted.manifest.version)"))
        }
        if let mismatch = report.mismatch {
            found.append(.init(.mismatch, "the node says: \(mismatch)"))
        }
        return found
    }
}
