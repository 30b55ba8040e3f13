import Fleet
import Foundation
import Testing
import TestSupport

/// The example OS of pxe-examples/ (built by `make example`, which `make test` runs first), served by
/// `overlay serve` and network-booted in QEMU: each node's console must list exactly its role's plugins.
@Suite(.serialized) struct ExampleBootTests {
    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let served = project.appendingPathComponent("pxe-examples/build/serve")
    static let fleet = project.appendingPathComponent("pxe-examples/fleet.toml")
    static let bootNode = project.appendingPathComponent("pxe-examples/boot-node.sh")
    static let build = project.appendingPathComponent("pxe-examples/build")

    /// The lines of the node's report (`NodeReport`, read from the console as the lab reads it) that say what it
    /// booted: `BASE …`, `LAYER <name> <type>`…, `PLUGIN <name> <version>`…, `OVERLAY-NODE READY`.
    static func initLines(_ console: String) -> [String] {
        guard let report = NodeReport.parse(console: console) else { return [] }
        return report.text.split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix("BASE ") || $0.hasPrefix("LAYER") || $0.hasPrefix("PLUGIN ") || $0 == "NO PLUGINS" || $0 == NodeReport.readyLine }
    }

    func boot(_ url: String, mac: String) throws -> [String] {
        let console = try RPMFixture.run(["bash", Self.bootNode.path, url, mac, "240"])
        return Self.initLines(console)
    }

    @Test func eachNodeBootsExactlyItsRolesPluginsOverHTTPAndTFTP() throws {
        guard FileManager.default.fileExists(atPath: Self.served.appendingPathComponent("base.json").path) else {
            Issue.record("\(Self.served.path) is missing: run `make example` first (`make test` does)")
            return
        }
        let scratch = try RPMFixture.temporaryDirectory("example-boot")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let server = try OverlayProcess(
            [
                "serve", "--dir", Self.served.path, "--fleet", Self.fleet.path,
                "--http", "127.0.0.1:0", "--tftp", "127.0.0.1:0",
            ], in: scratch)
        defer { server.terminate() }
        let started = try server.waitForEvent("overlay serve: serving ")
        let http = try #require(FleetServeTests.port(after: "HTTP on 127.0.0.1:", in: started))
        let tftp = try #require(FleetServeTests.port(after: "TFTP on 127.0.0.1:", in: started))

        // compute, over HTTP
        #expect(
            try boot("http://10.0.2.2:\(http)/boot.ipxe", mac: "52:54:00:12:34:56") == [
                "BASE oVirt Node Example 3.0", "PLUGIN cim 1.0", "PLUGIN vdsm 1.0", "OVERLAY-NODE READY",
            ])
        // monitoring, over TFTP: another role, another plugin set, from the same base
        #expect(
            try boot("tftp://10.0.2.2:\(tftp)/boot.ipxe", mac: "52:54:00:12:34:57") == [
                "BASE oVirt Node Example 3.0", "PLUGIN monitor 1.0", "OVERLAY-NODE READY",
            ])
        let log = try server.output()
        #expect(log.contains("vdsm-1.0.cpio.zst"))
        #expect(log.contains("monitor-1.0.cpio.zst"))
    }

    /// Layers: vdsm as a squashfs layer beside monitor's cpio overlay, cim as an erofs layer. iPXE delivers each
    /// layer as a named file in the initramfs; the example's /init mounts it and stacks it over the root.
    @Test func squashfsAndErofsLayersAreMountedAndStacked() throws {
        let served = Self.project.appendingPathComponent("pxe-examples/build/serve-layers")
        let fleet = Self.project.appendingPathComponent("pxe-examples/fleet-layers.toml")
        guard FileManager.default.fileExists(atPath: served.appendingPathComponent("vdsm-1.0.squashfs").path) else {
            Issue.record("\(served.path) is missing: run `make example` first (`make test` does)")
            return
        }
        let scratch = try RPMFixture.temporaryDirectory("example-layers")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let server = try OverlayProcess(
            ["serve", "--dir", served.path, "--fleet", fleet.path, "--http", "127.0.0.1:0", "--tftp", "127.0.0.1:0"], in: scratch)
        defer { server.terminate() }
        let started = try server.waitForEvent("overlay serve: serving ")
        let http = try #require(FleetServeTests.port(after: "HTTP on 127.0.0.1:", in: started))
        let tftp = try #require(FleetServeTests.port(after: "TFTP on 127.0.0.1:", in: started))

        #expect(
            try boot("http://10.0.2.2:\(http)/boot.ipxe", mac: "52:54:00:12:34:60") == [
                "BASE oVirt Node Example 3.0", "LAYER 01-vdsm-1.0.squashfs squashfs", "PLUGIN monitor 1.0", "PLUGIN vdsm 1.0",
                "OVERLAY-NODE READY",
            ])
        #expect(
            try boot("tftp://10.0.2.2:\(tftp)/boot.ipxe", mac: "52:54:00:12:34:61") == [
                "BASE oVirt Node Example 3.0", "LAYER 01-cim-1.0.erofs erofs", "PLUGIN cim 1.0", "OVERLAY-NODE READY",
            ])
    }

    /// The base as a vendor ships it: `make example` makes build/example.iso (a live ISO: images/pxeboot/vmlinuz,
    /// images/pxeboot/initrd.img, LiveOS/squashfs.img) and imports it into build/imported with `overlay base
    /// import`. A node boots the imported files, unmodified, plus the compute role's overlays built against the
    /// unpacked root; and planning against the ISO gives the plan the root gives.
    @Test func aNodeBootsTheImportedLiveISOPlusItsRolesOverlays() throws {
        let imported = Self.build.appendingPathComponent("imported")
        let iso = Self.build.appendingPathComponent("example.iso")
        guard FileManager.default.fileExists(atPath: imported.appendingPathComponent("base.json").path) else {
            Issue.record("\(imported.path) is missing: run `make example` first (`make test` does)")
            return
        }
        let scratch = try RPMFixture.temporaryDirectory("example-iso")
        defer { try? FileManager.default.removeItem(at: scratch) }

        // The same plan against the ISO as against the unpacked root.
        let plugins = ["vdsm", "cim"].flatMap { ["--plugin", Self.build.appendingPathComponent("plugins/\($0)").path] }
        let fromRoot = try OverlayCommand.run(["plan", "--base", Self.build.appendingPathComponent("rootfs").path, "--no-cache"] + plugins)
        let fromISO = try OverlayCommand.run(["plan", "--base", iso.path, "--no-cache"] + plugins, environment: ["TMPDIR": scratch.path])
        #expect(fromRoot.status == 0, "\(fromRoot.stderr)")
        #expect(fromISO.status == 0, "\(fromISO.stderr)")
        #expect(fromISO.stdout == fromRoot.stdout)
        #expect(fromISO.stdout.contains("plugin vdsm 1.0: adds"), "\(fromISO.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == [])

        // A served directory of the imported base and the compute role's overlays.
        let served = scratch.appendingPathComponent("serve")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: imported.appendingPathComponent("base.json"))) as? [String: Any])
        let initrd = try #require(manifest["file"] as? String)
        #expect(initrd == "initrd.img")
        for name in ["vmlinuz", initrd, "base.json"] {
            try FileManager.default.copyItem(at: imported.appendingPathComponent(name), to: served.appendingPathComponent(name))
        }
        for name in ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "cim-1.0.cpio.zst", "cim-1.0.json"] {
            try FileManager.default.copyItem(at: Self.served.appendingPathComponent(name), to: served.appendingPathComponent(name))
        }
        let fleet = scratch.appendingPathComponent("fleet.toml")
        try Data(
            """
            [base]
            kernel  = "vmlinuz"
            initrd  = ["\(initrd)"]
            cmdline = "console=ttyS0 overlay.poweroff"

            [roles.compute]
            plugins = ["vdsm", "cim"]

            [defaults]
            role = "compute"

            """.utf8
        ).write(to: fleet)
        let server = try OverlayProcess(["serve", "--dir", served.path, "--fleet", fleet.path, "--http", "127.0.0.1:0"], in: scratch)
        defer { server.terminate() }
        let started = try server.waitForEvent("overlay serve: serving ")
        let http = try #require(FleetServeTests.port(after: "HTTP on 127.0.0.1:", in: started))
        #expect(
            try boot("http://10.0.2.2:\(http)/boot.ipxe", mac: "52:54:00:12:34:56") == [
                "BASE oVirt Node Example 3.0", "PLUGIN cim 1.0", "PLUGIN vdsm 1.0", "OVERLAY-NODE READY",
            ])
        #expect(try server.output().contains("initrd.img"))
    }
}
