import Foundation
import SystemPackage
import Testing

import Fleet
import TestSupport

/// `/status.json` and `overlay fleet status` against `overlay serve --state`, both the binary users run: node A boots
/// and reports exactly its role, node B reports an older vdsm, node C never reports, and a MAC the fleet does not
/// list reports.
@Suite(.serialized) struct FleetStatusCommandTests {
    static let (nodeA, nodeB, nodeC, stranger) = ("52:54:00:00:00:0a", "52:54:00:00:00:0b", "52:54:00:00:00:0c", "52:54:00:99:99:99")

    static let fleetText =
        FleetFixture.header + """
            [roles.compute]
            plugins = ["cim", "vdsm"]

            [[nodes]]
            mac  = "\(nodeA)"
            role = "compute"

            [[nodes]]
            mac  = "\(nodeB)"
            role = "compute"

            [[nodes]]
            mac  = "\(nodeC)"
            role = "compute"

            """

    static func report(_ mac: String, _ plugins: [String]) -> String {
        "NODE \(mac)\nROLE compute\nBASE oVirt Node 3.0\n" + plugins.map { "PLUGIN \($0)\n" }.joined() + "UPTIME 8.52\nOVERLAY-NODE READY\n"
    }

    static func boot(_ mac: String, from serve: ServeProcess) throws { try fetchAsIPXE(mac, from: serve.base) }

    /// Serves `fleetText` with reports on, and has the nodes boot and report as the suite says.
    static func servedFleet(_ fixture: FleetFixture, fleet: String = fleetText) throws -> ServeProcess {
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("vdsm", "1.2")
        try fixture.writeFleet(fleet)
        let state = FilePath(fixture.root.path).appending("state").string
        return try ServeProcess(["--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--state", state], in: fixture.root)
    }

    @Test func statusJSONAndFleetStatusSayWhichNodesDrift() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let serve = try Self.servedFleet(fixture)
        defer { serve.terminate() }
        try Self.boot(Self.nodeA, from: serve)
        #expect(try serve.post(Self.report(Self.nodeA, ["cim 1.0", "vdsm 1.2"])).status == 200)
        try Self.boot(Self.nodeB, from: serve)
        #expect(try serve.post(Self.report(Self.nodeB, ["cim 1.0", "vdsm 1.1"])).status == 200)
        #expect(try serve.post(Self.report(Self.stranger, ["cim 1.0"])).status == 200)

        let json = try serve.request("/status.json")
        #expect(json.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any])
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["mac"] as? String } == [Self.nodeA, Self.nodeB, Self.nodeC, Self.stranger])
        let drift = nodes.map { ($0["drift"] as? [[String: String]] ?? []).map { "\($0["kind"] ?? ""): \($0["detail"] ?? "")" } }
        #expect(
            drift == [
                [], ["stale overlay: reported vdsm 1.1; the role has vdsm 1.2"], ["never reported: no report, and no boot seen since the server started"],
                ["unknown MAC: not in [[nodes]], and the fleet has no default role: it is refused"],
            ])
        #expect(object["driftNodes"] as? Int == 3)
        #expect(object["driftKinds"] as? [String: Int] == ["stale overlay": 1, "never reported": 1, "unknown MAC": 1])
        let server = try #require(object["server"] as? [String: Any])
        #expect(server["reports"] as? Bool == true)
        #expect((server["uptimeSeconds"] as? Double ?? -1) >= 0)
        let reported = try #require(nodes[0]["reported"] as? [String: Any])
        #expect(reported["client"] as? String == "127.0.0.1")
        #expect((reported["report"] as? [String: Any])?["uptime"] as? Double == 8.52)
        let fetched = try #require(nodes[1]["fetched"] as? [String: Any])
        #expect(
            (fetched["fetches"] as? [[String: Any]])?.map { $0["path"] as? String } == [
                "ipxe/52-54-00-00-00-0b", "vmlinuz", "base.cpio.zst", "overlays/cim-1.0.cpio.zst", "overlays/vdsm-1.2.cpio.zst",
            ])

        let shown = try OverlayCommand.run(["fleet", "status", "--server", serve.base])
        #expect(shown.status == 3, "\(shown.stderr)")
        #expect(shown.stderr == "")
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("\(serve.base) serves \(fixture.fleetFile): up ") == true)
        #expect(lines.first?.hasSuffix(", reports on") == true)
        #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true) == ["MAC", "ROLE", "LAST", "SEEN", "FETCHED", "REPORTED", "DRIFT"])
        func row(_ mac: String) -> [String] {
            (lines.first { $0.hasPrefix(mac) } ?? "").components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        #expect(row(Self.nodeA).dropFirst(2).first?.hasSuffix(" ago") == true)
        #expect(Array(row(Self.nodeA).suffix(3)) == ["5 files (http)", "cim 1.0, vdsm 1.2", "-"])
        #expect(Array(row(Self.nodeB).suffix(3)) == ["5 files (http)", "cim 1.0, vdsm 1.1", "stale overlay"])
        #expect(row(Self.nodeC) == [Self.nodeC, "compute", "never", "-", "-", "never reported"])
        #expect(Array(row(Self.stranger).suffix(3)) == ["-", "cim 1.0", "unknown MAC"])
        #expect(lines.contains("    stale overlay: reported vdsm 1.1; the role has vdsm 1.2"))
        #expect(lines.last == "3 of 4 nodes drift: 1 unknown MAC, 1 stale overlay, 1 never reported")

        let asJSON = try OverlayCommand.run(["fleet", "status", "--server", serve.base + "/", "--json"])
        #expect(asJSON.status == 3)
        let decoded = try JSONDecoder().decode(FleetStatus.self, from: Data(asJSON.stdout.utf8))
        #expect(decoded.nodes.map(\.drift.count) == [0, 1, 1, 1])
    }

    @Test func aFleetWithoutDriftExitsZeroAndAServerThatIsNotThereOne() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let serve = try Self.servedFleet(
            fixture, fleet: FleetFixture.header + "[roles.compute]\nplugins = [\"cim\", \"vdsm\"]\n\n[[nodes]]\nmac = \"\(Self.nodeA)\"\nrole = \"compute\"\n")
        try Self.boot(Self.nodeA, from: serve)
        #expect(try serve.post(Self.report(Self.nodeA, ["cim 1.0", "vdsm 1.2"])).status == 200)
        let shown = try OverlayCommand.run(["fleet", "status", "--server", serve.base])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.hasSuffix("\nno drift: 1 node as the fleet says\n"))
        #expect(try curl(serve.base + "/metrics").contains("\noverlay_drift_nodes 0\n"))
        #expect(serve.terminate() == 0)

        // The server has stopped: one sentence, exit 1.
        let gone = try OverlayCommand.run(["fleet", "status", "--server", serve.base])
        #expect(gone.status == 1)
        #expect(gone.stderr.hasPrefix("overlay: cannot get \(serve.base)/status.json: "))
        #expect(gone.stderr.hasSuffix("; check --server and that overlay serve --fleet runs there\n"))
        #expect(gone.stderr.filter { $0 == "\n" }.count == 1)

        // A server without a fleet has no status.
        let files = try ServeProcess(["--dir", fixture.served.string], in: fixture.root)
        defer { files.terminate() }
        let noFleet = try OverlayCommand.run(["fleet", "status", "--server", files.base])
        #expect(noFleet.status == 1)
        #expect(
            noFleet.stderr
                == "overlay: cannot get \(files.base)/status.json: the server answered HTTP 404; check --server and that overlay serve --fleet runs there\n")
    }
}
