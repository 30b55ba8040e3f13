import Foundation
import SystemPackage
import Testing

@testable import Fleet
@testable import OverlayKit
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The `overlay` executable built beside this test bundle, driven the way an admin drives it, with curl as client.
@Suite(.serialized) struct FleetServeTests {
    static let nodeMAC = "52-54-00-12-34-56"
    static let fleetText = FleetFixture.computeFleet

    @Test func servesGeneratedFilesOverHTTPAndTFTPAndReloads() throws {
        let fixture = try FleetFixture.computeRole()
        defer { fixture.remove() }

        let server = try OverlayProcess(
            ["serve", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--http", "127.0.0.1:0", "--tftp", "127.0.0.1:0"],
            in: fixture.root)
        defer { server.terminate() }
        let banner = try server.waitForEvent("overlay serve: serving ")
        #expect(banner.hasSuffix("; fleet \(fixture.fleetFile): 1 node, 1 role, unknown MACs are refused"), "\(banner)")
        let http = try #require(Self.port(after: "HTTP on 127.0.0.1:", in: banner))
        let tftp = try #require(Self.port(after: "TFTP on 127.0.0.1:", in: banner))

        let entry = try curl("http://127.0.0.1:\(http)/boot.ipxe")
        #expect(entry.hasPrefix("#!ipxe\n"))
        #expect(entry.contains("imgfetch --name node ipxe/${netX/mac:hexhyp} || goto unknown\n"))
        let overHTTP = try curl("http://127.0.0.1:\(http)/ipxe/\(Self.nodeMAC)")
        let overTFTP = try curl("tftp://127.0.0.1:\(tftp)/ipxe/\(Self.nodeMAC)")
        #expect(overHTTP == overTFTP)
        #expect(
            overTFTP.contains(
                "kernel ../vmlinuz initrd=base.cpio.zst initrd=cim-1.0.cpio.zst initrd=vdsm-1.2.cpio.zst console=ttyS0 overlay.role=compute overlay.expect=cim@1.0,vdsm@1.2 BOOTIF=01-"
            ))
        #expect(overTFTP.contains("initrd --name vdsm-1.2.cpio.zst ../overlays/vdsm-1.2.cpio.zst\nboot\n"))
        #expect(
            try curl("tftp://127.0.0.1:\(tftp)/ipxe/52-54-00-99-99-99").contains(
                "echo overlay: no boot configuration for 52:54:00:99:99:99 in fleet.toml: add it to [[nodes]] or set [defaults] role.\nexit 1\n"))
        // The files the scripts name are served from the directory, with the manifest's digest as ETag.
        #expect(try curl("tftp://127.0.0.1:\(tftp)/overlays/cim-1.0.cpio.zst") == "overlay")
        let headers = try curl("http://127.0.0.1:\(http)/overlays/vdsm-1.2.cpio.zst", "--head")
        let digest = try #require(Fleet.load(file: fixture.fleetFile, servedDirectory: fixture.served).digest(of: "overlays/vdsm-1.2.cpio.zst"))
        #expect(headers.contains("ETag: \"\(digest)\""), "\(headers)")

        // An edit to the fleet file is picked up without a signal.
        try fixture.writeFleet(Self.fleetText.replacingOccurrences(of: "console=ttyS0", with: "console=ttyS1"))
        #expect(try server.waitForEvent("overlay serve: reloaded the fleet (\(fixture.fleetFile) changed)") != "")
        #expect(try curl("http://127.0.0.1:\(http)/ipxe/\(Self.nodeMAC)").contains("console=ttyS1 overlay.role=compute "))

        // A broken edit is refused with one line, and the previous fleet keeps being served.
        try fixture.writeFleet(Self.fleetText.replacingOccurrences(of: "plugins = ", with: "plugin = "))
        let refused = try server.waitForEvent("overlay serve: reload (\(fixture.fleetFile) changed) failed")
        #expect(
            refused
                == "overlay serve: reload (\(fixture.fleetFile) changed) failed, still serving the previous fleet: \(fixture.fleetFile): unknown key roles.compute.plugin: the keys allowed there are plugins, cmdline, wins, max_initrd, max_unpacked; fix the spelling or remove it"
        )
        #expect(try curl("tftp://127.0.0.1:\(tftp)/ipxe/\(Self.nodeMAC)").contains("console=ttyS1 overlay.role=compute "))

        // SIGHUP re-reads the served directory's manifests too: vdsm 1.2 replaced by 1.3.
        try fixture.writeFleet(Self.fleetText)
        _ = try server.waitForEvent("overlay serve: reloaded the fleet (\(fixture.fleetFile) changed)", occurrence: 2)
        try FileManager.default.removeItem(atPath: fixture.served.appending("overlays/vdsm-1.2.json").string)
        try fixture.addOverlay("vdsm", "1.3")
        server.signal(SIGHUP)
        _ = try server.waitForEvent("overlay serve: reloaded the fleet (SIGHUP)")
        #expect(try curl("http://127.0.0.1:\(http)/ipxe/\(Self.nodeMAC)").contains("initrd --name vdsm-1.3.cpio.zst ../overlays/vdsm-1.3.cpio.zst\n"))

        #expect(server.terminate() == 0)
        #expect(try server.events().hasSuffix("overlay serve: stopping on SIGTERM\noverlay serve: stopped\n"))
    }

    @Test func withoutFleetItIsAFileServerWithJSONLog() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let server = try OverlayProcess(["serve", "--dir", fixture.served.string, "--http", "127.0.0.1:0", "--json-log"], in: fixture.root)
        defer { server.terminate() }
        let banner = try server.waitForEvent("overlay serve: serving ")
        #expect(banner.hasSuffix("over HTTP on 127.0.0.1:\(Self.port(after: "HTTP on 127.0.0.1:", in: banner) ?? 0); no fleet, files only"))
        let http = try #require(Self.port(after: "HTTP on 127.0.0.1:", in: banner))
        #expect(try curl("http://127.0.0.1:\(http)/vmlinuz") == "kernel image")
        #expect(try curl("http://127.0.0.1:\(http)/boot.ipxe", "--write-out", "%{http_code}", "--output", "/dev/null") == "404")
        #expect(server.terminate() == 0)
        let lines = try server.output().split(separator: "\n")
        #expect(lines.count == 2)
        let paths = try lines.map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["path"] as? String
        }
        #expect(paths == ["/vmlinuz", "/boot.ipxe"])
    }

    /// `--http` and `--tftp` given twice listen on both addresses (a second one used to replace the first).
    @Test func listensOnEveryHTTPAndTFTPAddressGiven() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let server = try OverlayProcess(
            [
                "serve", "--dir", fixture.served.string, "--http", "127.0.0.1:0", "--http", "127.0.0.2:0", "--tftp", "127.0.0.1:0", "--tftp", "127.0.0.2:0",
                "-v",
            ],
            in: fixture.root)
        defer { server.terminate() }
        let banner = try server.waitForEvent("overlay serve: serving ")
        let http = [try #require(Self.port(after: "HTTP on 127.0.0.1:", in: banner)), try #require(Self.port(after: ", 127.0.0.2:", in: banner))]
        let tftpPart = String(banner[(banner.range(of: " and TFTP on ")?.lowerBound ?? banner.endIndex)...])
        let tftp = [try #require(Self.port(after: "127.0.0.1:", in: tftpPart)), try #require(Self.port(after: "127.0.0.2:", in: tftpPart))]
        #expect(
            banner
                == "overlay serve: serving \(fixture.served) over HTTP on 127.0.0.1:\(http[0]), 127.0.0.2:\(http[1]) and TFTP on 127.0.0.1:\(tftp[0]), 127.0.0.2:\(tftp[1]); no fleet, files only"
        )
        for (host, port) in zip(["127.0.0.1", "127.0.0.2"], http) {
            #expect(try curl("http://\(host):\(port)/vmlinuz") == "kernel image")
        }
        for (host, port) in zip(["127.0.0.1", "127.0.0.2"], tftp) {
            #expect(try curl("tftp://\(host):\(port)/vmlinuz") == "kernel image")
        }
        #expect(server.terminate() == 0)
        // --verbose names each listening socket before the start-up line.
        let listening = try server.events().split(separator: "\n").filter { $0.contains(" listening on ") }
        #expect(
            listening == [
                "overlay serve: HTTP listening on 127.0.0.1:\(http[0])", "overlay serve: HTTP listening on 127.0.0.2:\(http[1])",
                "overlay serve: TFTP listening on 127.0.0.1:\(tftp[0])", "overlay serve: TFTP listening on 127.0.0.2:\(tftp[1])",
            ])
    }

    /// --quiet: the access log still goes to standard output, the start-up and shutdown lines do not appear.
    @Test func quietServeKeepsTheAccessLogOnly() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let port = try Self.freeTCPPort()
        let server = try OverlayProcess(["serve", "--dir", fixture.served.string, "--http", "127.0.0.1:\(port)", "--quiet"], in: fixture.root)
        defer { server.terminate() }
        var body = ""
        for _ in 0..<100 where body.isEmpty {
            body = (try? curl("http://127.0.0.1:\(port)/vmlinuz")) ?? ""
            if body.isEmpty { usleep(100_000) }
        }
        #expect(body == "kernel image")
        #expect(server.terminate() == 0)
        #expect(try server.events() == "")
        #expect(try server.output().contains("/vmlinuz"))
    }

    /// A TCP port nothing listens on now (bound to port 0, read back, closed).
    static func freeTCPPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CocoaError(.fileWriteUnknown) }
        return UInt16(bigEndian: address.sin_port)
    }

    @Test func bootConfigWritesNothingForABrokenFleet() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.addOverlay("cim", "1.0")
        try fixture.writeFleet(Self.fleetText)
        let out = FilePath(fixture.root.path).appending("out")

        let failing = try OverlayProcess(
            ["boot-config", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--out", out.string], in: fixture.root)
        #expect(failing.wait() != 0)
        #expect(
            try failing.events()
                == "overlay: \(fixture.fleetFile): roles.compute.plugins[1]: no overlay for plugin \"vdsm\" in \(fixture.served) (overlays found: cim-1.0); build it with overlay build into that directory or fix the name\n"
        )
        #expect(!FileManager.default.fileExists(atPath: out.string))

        try fixture.addOverlay("vdsm", "1.2")
        let working = try OverlayProcess(
            ["boot-config", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--out", out.string], in: fixture.root)
        #expect(working.wait() == 0)
        #expect(try working.output() == "wrote 7 boot files for 1 node and 1 role to \(out)\n")
        #expect(
            try String(contentsOfFile: out.appending("ipxe/\(Self.nodeMAC)").string, encoding: .utf8)
                == Fleet.load(file: fixture.fleetFile, servedDirectory: fixture.served).document(at: "ipxe/\(Self.nodeMAC)")?.body)
    }

    /// Debian's iPXE in QEMU, pointed at the server over TFTP and over HTTP, follows boot.ipxe to the node's script
    /// and fetches what it names, in order, from paths relative to that script. The "kernel" is an iPXE script, so
    /// that iPXE accepts it and goes on to the initrds without a real kernel.
    @Test func ipxeInQEMUFetchesWhatTheScriptsName() throws {
        let fixture = try FleetFixture.computeRole()
        defer { fixture.remove() }
        try fixture.write("#!ipxe\necho overlay test kernel reached\n", at: "vmlinuz")
        let server = try OverlayProcess(
            ["serve", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--http", "127.0.0.1:0", "--tftp", "127.0.0.1:0"],
            in: fixture.root)
        defer { server.terminate() }
        let banner = try server.waitForEvent("overlay serve: serving ")
        let http = try #require(Self.port(after: "HTTP on 127.0.0.1:", in: banner))
        let tftp = try #require(Self.port(after: "TFTP on 127.0.0.1:", in: banner))
        let expected = [
            "boot.ipxe", "ipxe/52-54-00-12-34-56", "vmlinuz", "base.cpio.zst", "overlays/cim-1.0.cpio.zst", "overlays/vdsm-1.2.cpio.zst",
        ]
        for (proto, url) in [("tftp", "tftp://10.0.2.2:\(tftp)/boot.ipxe"), ("http", "http://10.0.2.2:\(http)/boot.ipxe")] {
            let console = try QEMU(bootfile: url, mac: "52:54:00:12:34:56", in: fixture.root)
            defer { console.stop() }
            try console.waitFor("overlay test kernel reached")
            var fetched: [String] = []
            for line in try server.output().split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                if fields.count > 4 && fields[1] == proto { fetched.append(String(fields[4].drop(while: { $0 == "/" }))) }
            }
            #expect(fetched == expected, "\(proto)")
        }
        // A MAC the fleet does not list is named on the node's console.
        let stranger = try QEMU(bootfile: "http://10.0.2.2:\(http)/boot.ipxe", mac: "52:54:00:99:99:99", in: fixture.root)
        defer { stranger.stop() }
        try stranger.waitFor("overlay: no boot configuration for 52:54:00:99:99:99 in fleet.toml")
    }

    static func port(after marker: String, in line: String) -> UInt16? {
        guard let range = line.range(of: marker) else { return nil }
        return UInt16(line[range.upperBound...].prefix(while: \.isNumber))
    }
}
