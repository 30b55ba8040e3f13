import Foundation
import SystemPackage
import Testing

import Formats
import TestSupport

/// `overlay fleet show` through the release binary: what each role and node boots, in order, with sizes and digests.
@Suite struct FleetShowCommandTests {
    static let fleetText =
        FleetFixture.header + """
            [roles.compute]
            plugins = ["cim", "vdsm"]
            cmdline = "quiet"

            [roles.storage]
            plugins = ["cim"]

            [[nodes]]
            mac  = "52:54:00:12:34:56"
            role = "compute"

            [defaults]
            role = "storage"

            """

    @Test func showsEachRolesInitrdsInOrderAndWhatEachNodeIsHanded() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("vdsm", "1.2", format: "squashfs")
        try fixture.writeFleet(Self.fleetText)
        let arguments = ["fleet", "show", "--fleet", fixture.fleetFile.string, "--dir", fixture.served.string]

        let shown = try OverlayCommand.run(arguments)
        #expect(shown.status == 0, "\(shown.stderr)")
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "fleet \(fixture.fleetFile), served from \(fixture.served): 2 roles, 1 listed node; a MAC not listed boots role storage")
        let compute = try #require(lines.firstIndex(of: "role compute"))
        // The manifests' digests (the stand-in files are not what they describe), sizes from the files.
        #expect(lines[compute + 1].hasPrefix("  kernel    vmlinuz  12 B  sha256:"))
        #expect(lines[compute + 2] == "  initrd 1  base.cpio.zst  11 B  sha256:bbbbbbbbbbbb…  base")
        #expect(lines[compute + 3].hasPrefix("  initrd 2  overlays/cim-1.0.cpio.zst  7 B  sha256:") && lines[compute + 3].hasSuffix("  overlay cim 1.0"))
        #expect(lines[compute + 4].hasPrefix("  initrd 3  overlays/vdsm-1.2.squashfs  7 B  sha256:") && lines[compute + 4].hasSuffix("  layer vdsm 1.2"))
        #expect(lines[compute + 5] == "  cmdline   console=ttyS0 quiet overlay.role=compute overlay.expect=cim@1.0,vdsm@1.2")
        #expect(lines[compute + 6] == "  nodes     52:54:00:12:34:56")
        #expect(lines.contains("node 52:54:00:12:34:56: role compute"))
        #expect(lines.contains("  boot file ipxe/52-54-00-12-34-56"))
        #expect(lines.contains("  boot file pxelinux.cfg/01-52-54-00-12-34-56"))

        // A MAC not listed: the default role, the files PXELINUX and GRUB fall back to, and its iPXE script.
        let unknown = try OverlayCommand.run(arguments + ["--mac", "52-54-00-AA-BB-CC"])
        #expect(unknown.status == 0, "\(unknown.stderr)")
        #expect(unknown.stdout.contains("node 52:54:00:aa:bb:cc: role storage (not listed: the default role)\n"))
        #expect(unknown.stdout.contains("  boot file pxelinux.cfg/default\n"))
        #expect(unknown.stdout.contains("initrd --name cim-1.0.cpio.zst ../overlays/cim-1.0.cpio.zst\nboot\n"))
        #expect(!unknown.stdout.contains("role compute"))

        let json = try OverlayCommand.run(arguments + ["--role", "compute", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let roles = try #require(object["roles"] as? [[String: Any]])
        #expect(roles.map { $0["name"] as? String } == ["compute"])
        let initrds = try #require(roles.first?["initrds"] as? [[String: Any]])
        #expect(initrds.map { $0["kind"] as? String } == ["base", "overlay", "layer"])
        #expect(object["defaultRole"] as? String == "storage")

        let wrong = try OverlayCommand.run(arguments + ["--role", "storge"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr == "overlay: --role storge: \(fixture.fleetFile) has no such role; its roles are compute, storage\n")
        let badMAC = try OverlayCommand.run(arguments + ["--mac", "52:54:00"])
        #expect(badMAC.status == 1)
        #expect(badMAC.stderr == "overlay: --mac 52:54:00 is not a MAC address: write six hex bytes, for example 52:54:00:12:34:56\n")
    }
}
