import Foundation
import SystemPackage
import Testing

import Formats
import TestSupport

/// `overlay prune` through the release binary: what a served directory keeps once newer versions are rolled out.
/// vdsm is built in 1.2, 1.9, 1.10 (rpm's order: newer than 1.9, the one the fleet pins) and 1.11 (built, not rolled
/// out yet); cim 1.0 is in use; monitor 1.0 is a plugin no role uses.
@Suite struct PruneCommandTests {
    static let fleetText =
        FleetFixture.header + """
            [roles.compute]
            plugins = ["cim", "vdsm@1.10"]

            [[nodes]]
            mac  = "52:54:00:12:34:56"
            role = "compute"

            """

    let fixture: FleetFixture

    init() throws {
        fixture = try FleetFixture()
        try fixture.addOverlay("cim", "1.0", headers: true)
        for version in ["1.2", "1.9", "1.10", "1.11"] { try fixture.addOverlay("vdsm", version, headers: true) }
        try fixture.addOverlay("monitor", "1.0")
        try fixture.writeFleet(Self.fleetText)
    }

    func prune(_ arguments: [String]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(["prune", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string] + arguments)
    }

    /// The overlays' manifests left in the served directory, sorted.
    func manifests() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: fixture.served.appending("overlays").string).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// What `du` counts for an overlay's three files, as prune prints it.
    func size(_ label: String) -> String {
        var bytes: Int64 = 0
        for suffix in [".json", ".cpio.zst", ".rpmheaders"] {
            var info = stat()
            if lstat(fixture.served.appending("overlays/\(label)\(suffix)").string, &info) == 0 { bytes += Int64(info.st_blocks) * 512 }
        }
        return humanSize(bytes)
    }

    func files(_ label: String) -> String {
        "overlays/\(label).json, overlays/\(label).cpio.zst, overlays/\(label).rpmheaders"
    }

    @Test func removesTheVersionsTheFleetReplacedKeepingOneForARollback() throws {
        defer { fixture.remove() }
        let before = try manifests()
        let size = size("vdsm-1.2")

        let dry = try prune(["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout == "would remove vdsm-1.2  \(files("vdsm-1.2"))  \(size)\nwould free \(size) in \(fixture.served)\n")
        #expect(try manifests() == before)

        let pruned = try prune(["--verbose"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout == "removed vdsm-1.2  \(files("vdsm-1.2"))  \(size)\nfreed \(size) in \(fixture.served)\n")
        #expect(
            pruned.stderr.split(separator: "\n").map(String.init) == [
                "kept overlays/monitor-1.0.json: no fleet uses plugin monitor",
                "kept overlays/vdsm-1.11.json: newer than vdsm-1.10, which a fleet uses",
                "kept overlays/vdsm-1.9.json: kept for a rollback (--keep 1)",
            ])
        #expect(try manifests() == ["cim-1.0.json", "monitor-1.0.json", "vdsm-1.10.json", "vdsm-1.11.json", "vdsm-1.9.json"])
        for suffix in [".cpio.zst", ".rpmheaders"] {
            #expect(!FileManager.default.fileExists(atPath: fixture.served.appending("overlays/vdsm-1.2\(suffix)").string))
            #expect(FileManager.default.fileExists(atPath: fixture.served.appending("overlays/vdsm-1.9\(suffix)").string))
        }
        // The fleet still loads against what is left.
        let shown = try OverlayCommand.run(["fleet", "show", "--fleet", fixture.fleetFile.string, "--dir", fixture.served.string])
        #expect(shown.status == 0, "\(shown.stderr)")

        let again = try prune([])
        #expect(again.status == 0)
        #expect(
            again.stdout == "nothing to prune in \(fixture.served): no overlay is older than the versions the fleets use, beyond the 1 kept for a rollback\n"
        )

        let none = try prune(["--keep", "0"])
        #expect(none.stdout.hasPrefix("removed vdsm-1.9  \(files("vdsm-1.9"))  "), "\(none.stdout)")
        #expect(try manifests() == ["cim-1.0.json", "monitor-1.0.json", "vdsm-1.10.json", "vdsm-1.11.json"])
    }

    /// A running server takes the change as a reload: the removed overlay is no longer served, the rest is.
    @Test func aRunningServerStopsNamingWhatWasRemoved() throws {
        defer { fixture.remove() }
        let server = try ServeProcess(["--dir", fixture.served.string, "--fleet", fixture.fleetFile.string], in: fixture.root)
        defer { server.terminate() }
        #expect(try server.request("/overlays/vdsm-1.2.cpio.zst").status == 200)

        let pruned = try prune(["--keep", "0"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        let reloaded = try server.process.waitForEvent("overlay serve: reloaded the fleet (served manifests: ")
        let change = "(served manifests: overlays/vdsm-1.2.json, overlays/vdsm-1.9.json removed)"
        #expect(reloaded.hasSuffix("\(change): fleet \(fixture.fleetFile): 1 node, 1 role, unknown MACs are refused"), "\(reloaded)")
        #expect(try server.request("/overlays/vdsm-1.2.cpio.zst").status == 404)
        #expect(try server.request("/ipxe/52-54-00-12-34-56").body.contains("initrd --name vdsm-1.10.cpio.zst "))
        #expect(server.terminate() == 0)
    }

    /// Nothing is removed when a fleet does not load: what it uses is unknown.
    @Test func aFleetThatDoesNotLoadStopsItBeforeAnythingGoes() throws {
        defer { fixture.remove() }
        try fixture.writeFleet(Self.fleetText.replacingOccurrences(of: "vdsm@1.10", with: "vdsm"))
        let before = try manifests()
        let refused = try prune([])
        #expect(refused.status == 1)
        #expect(
            refused.stderr
                == "overlay: not pruning: fleet \(fixture.fleetFile) does not load, so what it uses is unknown: \(fixture.fleetFile): roles.compute.plugins[1]: plugin \"vdsm\" is present in several versions (1.10, 1.11, 1.2, 1.9); pin one, for example \"vdsm@1.10\", \"vdsm@1.11\", \"vdsm@1.2\", \"vdsm@1.9\"\n"
        )
        #expect(try manifests() == before)

        let noFleet = try OverlayCommand.run(["prune", "--dir", fixture.served.string])
        #expect(noFleet.status == 64)
        #expect(
            noFleet.stderr
                == "overlay: prune keeps what fleets use: give --fleet FILE for every fleet that boots from --dir; see 'overlay prune --help'\n")
    }
}
