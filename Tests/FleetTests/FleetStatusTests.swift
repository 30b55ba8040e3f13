import Foundation
import Serve
import SystemPackage
import Testing

@testable import Fleet
import Formats
import Posix
import TestSupport

/// `FleetStatus`: how each node's last boot (what the server's access log saw it fetch) and last report (what it
/// POSTed) compare with its fleet. The boots and reports are real: a server in this process, curl fetching what a
/// node's iPXE script names and POSTing the report lines a node's init sends.
@Suite(.serialized) struct FleetStatusTests {
    static let (nodeA, nodeB, nodeC, stranger) = (
        FleetStatusCommandTests.nodeA, FleetStatusCommandTests.nodeB, FleetStatusCommandTests.nodeC, FleetStatusCommandTests.stranger
    )

    /// `FleetStatusCommandTests`'s three compute nodes, and a storage role.
    static let fleetText = FleetStatusCommandTests.fleetText + "\n[roles.storage]\nplugins = [\"cim\"]\n"

    /// A served fleet taking reports into a state directory, with its HTTP port.
    final class Served {
        let fixture: FleetFixture
        let server: FleetServer
        let state: FilePath

        init(fleet: String = FleetStatusTests.fleetText) throws {
            fixture = try FleetFixture()
            try fixture.addOverlay("cim", "1.0")
            try fixture.addOverlay("vdsm", "1.2")
            try fixture.writeFleet(fleet)
            state = FilePath(fixture.root.path).appending("state")
            server = try FleetServer(
                directory: fixture.served, fleetFile: fixture.fleetFile, http: ["127.0.0.1:0"], tftp: [], log: .disabled,
                reports: .init(state: state), report: { _ in })
            try server.start()
        }

        var base: String { "http://127.0.0.1:\(server.listeners[0].port)" }

        func boot(_ mac: String) throws { try fetchAsIPXE(mac, from: base) }

        /// POSTs report lines; returns the HTTP status.
        @discardableResult
        func report(_ lines: String) throws -> String {
            try curl("\(base)/report", "--data-binary", lines, "--output", "/dev/null", "--write-out", "%{http_code}")
        }

        func node(_ mac: String) throws -> FleetStatus.Node {
            try #require(server.status()?.nodes.first { $0.mac == mac })
        }

        func stop() {
            server.stop()
            fixture.remove()
        }
    }

    static func lines(_ mac: String, role: String = "compute", plugins: [String], extra: String = "") -> String {
        "NODE \(mac)\nROLE \(role)\nBASE oVirt Node 3.0\n" + plugins.map { "PLUGIN \($0)\n" }.joined() + extra + "OVERLAY-NODE READY\n"
    }

    /// Durations come from another server's status.json too: none of them may stop the reader.
    @Test func everyDurationReads() {
        #expect(FleetStatus.duration(125) == "2 min 5 s")
        #expect(FleetStatus.duration(90061) == "1 d 1 h")
        #expect(FleetStatus.duration(-5) == "0 s")
        #expect(FleetStatus.duration(.nan) == "0 s")
        #expect(FleetStatus.duration(.infinity) == "11574074074 d 1 h")
    }

    @Test func aNodeThatBootsAndReportsItsRoleDoesNotDriftAndTheOthersSayHowTheyDo() throws {
        let served = try Served()
        defer { served.stop() }
        try served.boot(Self.nodeA)
        #expect(try served.report(Self.lines(Self.nodeA, plugins: ["cim 1.0", "vdsm 1.2"])) == "200")
        try served.boot(Self.nodeB)
        #expect(try served.report(Self.lines(Self.nodeB, plugins: ["cim 1.0", "vdsm 1.1"])) == "200")
        #expect(try served.report(Self.lines(Self.stranger, plugins: ["cim 1.0"])) == "200")

        let a = try served.node(Self.nodeA)
        #expect(a.drift == [])
        #expect(a.listed && a.role == "compute")
        let fetched = try #require(a.fetched)
        #expect(fetched.mac == Self.nodeA && fetched.client == "127.0.0.1")
        #expect(
            fetched.fetches.map(\.path) == ["ipxe/52-54-00-00-00-0a", "vmlinuz", "base.cpio.zst", "overlays/cim-1.0.cpio.zst", "overlays/vdsm-1.2.cpio.zst"])
        #expect(fetched.fetches.map(\.kind) == ["boot file", "kernel", "base", "overlay", "overlay"])
        #expect(fetched.fetches.allSatisfy { $0.complete && $0.proto == "http" && $0.status == "200" })
        let vdsm = try #require(served.server.fleet?.roles.first { $0.name == "compute" }?.overlays.last)
        #expect(fetched.fetches.last?.sha256 == vdsm.manifest.sha256)
        #expect(fetched.fetches.last?.bytes == 7)
        #expect(a.reported?.report.plugins.map(\.description) == ["cim@1.0", "vdsm@1.2"])
        #expect(a.reported?.client == "127.0.0.1")
        #expect(a.lastSeen == a.reported?.time)

        #expect(try served.node(Self.nodeB).drift == [.init(.staleOverlay, "reported vdsm 1.1; the role has vdsm 1.2")])
        #expect(
            try served.node(Self.nodeC).drift == [.init(.neverReported, "no report, and no boot seen since the server started")])
        let stranger = try served.node(Self.stranger)
        #expect(!stranger.listed && stranger.role == nil)
        #expect(stranger.drift == [.init(.unknownMAC, "not in [[nodes]], and the fleet has no default role: it is refused")])

        let status = try #require(served.server.status())
        #expect(status.nodes.map(\.mac) == [Self.nodeA, Self.nodeB, Self.nodeC, Self.stranger])
        #expect(status.driftNodes == 3)
        #expect(status.driftKinds == ["stale overlay": 1, "never reported": 1, "unknown MAC": 1])
        #expect(status.summary == "3 of 4 nodes drift: 1 unknown MAC, 1 stale overlay, 1 never reported")
        #expect(status.roles.map(\.name) == ["compute", "storage"])
        #expect(status.roles[0].overlays.map { "\($0.name) \($0.version) \($0.kind)" } == ["cim 1.0 overlay", "vdsm 1.2 overlay"])
        #expect(status.roles[0].nodes == [Self.nodeA, Self.nodeB, Self.nodeC])
        #expect(status.server.reports)
    }

    /// A node that booted the role's old overlay (the fleet moved on to vdsm 1.3 since) drifts by what it fetched
    /// and by what it reported; one that fetched an overlay only in part is missing it.
    @Test func whatANodeFetchedIsComparedWithTheRoleItHasNow() throws {
        let served = try Served()
        defer { served.stop() }
        try served.boot(Self.nodeA)
        try served.report(Self.lines(Self.nodeA, plugins: ["cim 1.0", "vdsm 1.2"]))
        try served.fixture.addOverlay("vdsm", "1.3")
        try served.fixture.writeFleet(Self.fleetText.replacingOccurrences(of: "\"vdsm\"", with: "\"vdsm@1.3\""))
        served.server.reload(reason: "test")
        #expect(
            try served.node(Self.nodeA).drift == [
                .init(.staleOverlay, "fetched vdsm 1.2; the role has vdsm 1.3"), .init(.staleOverlay, "reported vdsm 1.2; the role has vdsm 1.3"),
            ])

        // Booted again: the new script names vdsm 1.3, whose download stops after its first bytes.
        _ = try curl("\(served.base)/ipxe/52-54-00-00-00-0a")
        _ = try curl("\(served.base)/vmlinuz")
        _ = try curl("\(served.base)/overlays/vdsm-1.3.cpio.zst", "--range", "0-2")
        let drift = try served.node(Self.nodeA).drift
        #expect(drift.contains(.init(.missingOverlay, "did not fetch cim 1.0 (overlays/cim-1.0.cpio.zst)")))
        #expect(drift.contains(.init(.missingOverlay, "vdsm 1.3 did not arrive whole (http 206, 3 bytes)")))
        #expect(drift.contains { $0.kind == "never reported" && $0.detail.hasPrefix("booted again at ") })
    }

    @Test func aReportOfAnotherRoleAnExtraPluginOrItsOwnMismatchIsDrift() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("vdsm", "1.2")
        let fleet = try fixture.load(Self.fleetText + "\n[defaults]\nrole = \"storage\"\n")
        let server = FleetStatus.Server(started: "2026-12-03T10:00:00.000Z", now: "2026-12-03T10:05:00.000Z", uptimeSeconds: 300, reports: true, advertise: nil)
        func received(_ text: String) throws -> ReceivedReport {
            ReceivedReport(time: "2026-12-03T10:01:00.000Z", client: "10.0.0.7", report: try NodeReport.parse(Array(text.utf8)))
        }
        let a = try #require(MACAddress(Self.nodeA))
        let stranger = try #require(MACAddress(Self.stranger))
        let reports = [
            a: try received(
                Self.lines(
                    Self.nodeA, role: "storage", plugins: ["cim 1.0", "monitor 2.0", "vdsm 1.2"],
                    extra: "EXPECTED cim@1.0,vdsm@1.2\nMISMATCH unexpected monitor@2.0\n")),
            stranger: try received(Self.lines(Self.stranger, role: "storage", plugins: ["cim 1.0"])),
        ]
        let status = FleetStatus(fleet: fleet, boots: [:], reports: reports, unidentified: [try received("OVERLAY-NODE READY\n")], server: server)
        #expect(
            status.nodes.first?.drift == [
                .init(.wrongRole, "reported role storage; the fleet gives it role compute"),
                .init(.unexpectedPlugin, "reported monitor 2.0, which role compute does not have"),
                .init(.mismatch, "the node says: unexpected monitor@2.0"),
            ])
        // A MAC not listed boots the default role: it drifts only by not being listed.
        let unlisted = try #require(status.nodes.first { $0.mac == Self.stranger })
        #expect(unlisted.role == "storage")
        #expect(unlisted.drift == [.init(.unknownMAC, "not in [[nodes]]: it boots the default role storage")])
        let anonymous = try #require(status.nodes.last)
        #expect(anonymous.mac == nil)
        #expect(anonymous.drift == [.init(.unknownMAC, "a report without a NODE line from 10.0.0.7 that fetched no node's boot file")])
        #expect(status.driftKinds["never reported"] == 2)

        // Without reports (no --state), a node that never reported does not drift.
        let quiet = FleetStatus(
            fleet: fleet, boots: [:], reports: [:], unidentified: [],
            server: .init(started: server.started, now: server.now, uptimeSeconds: 300, reports: false, advertise: nil))
        #expect(quiet.driftNodes == 0)
        #expect(quiet.summary == "no drift: 3 nodes as the fleet says")
    }

    /// The JSON `/status.json` serves reads back as the same status (`overlay fleet status` decodes it).
    @Test func theStatusJSONReadsBack() throws {
        let served = try Served()
        defer { served.stop() }
        try served.boot(Self.nodeA)
        try served.report(Self.lines(Self.nodeA, plugins: ["cim 1.0", "vdsm 1.2"], extra: "UPTIME 8.52\n"))
        let json = try curl("\(served.base)/status.json", "--include")
        #expect(json.contains("Content-Type: application/json\r\n"))
        let body = try #require(json.components(separatedBy: "\r\n\r\n").last)
        let decoded = try JSONDecoder().decode(FleetStatus.self, from: Data(body.utf8))
        #expect(decoded.nodes.map(\.mac) == [Self.nodeA, Self.nodeB, Self.nodeC])
        #expect(decoded.nodes[0].reported?.report.uptime == 8.52)
        #expect(decoded.nodes[0].fetched?.fetches.count == 5)
        #expect(decoded.driftNodes == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        // No default role: the key is absent.
        #expect(Set(object.keys) == ["server", "fleet", "roles", "nodes", "driftNodes", "driftKinds"])
    }
}
