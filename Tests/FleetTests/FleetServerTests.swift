import Foundation
import Serve
import SystemPackage
import Testing

@testable import Fleet
import Formats
import Posix
import TestSupport

/// The server `overlay serve` runs, in this process: its listeners, its reload rules and what it says, with curl
/// as the client. (`FleetServeTests` drives the same through the CLI, with signals.)
@Suite struct FleetServerTests {
    static let nodeMAC = "52-54-00-12-34-56"
    static let fleetText = FleetFixture.computeFleet

    /// A served directory with the cim and vdsm overlays, `fleetText` as its fleet, and a server on loopback
    /// (HTTP and TFTP on ports the system chose) whose events are collected.
    final class Served {
        let fixture: FleetFixture
        let server: FleetServer
        let events = Recorder()

        final class Recorder: Sendable {
            let list = Locked<[FleetServer.Event]>([])
            func record(_ event: FleetServer.Event) { list.withLock { $0.append(event) } }
            var all: [FleetServer.Event] { list.withLock { $0 } }
        }

        init() throws {
            fixture = try FleetFixture.computeRole()
            server = try FleetServer(
                directory: fixture.served, fleetFile: fixture.fleetFile, http: ["127.0.0.1:0"], tftp: ["127.0.0.1:0"], log: .disabled,
                report: events.record)
            try server.start()
        }

        func port(_ service: String) -> UInt16 { server.listeners.first { $0.service == service }?.port ?? 0 }
        var nodeScript: String { get throws { try curl("http://127.0.0.1:\(port("HTTP"))/ipxe/\(FleetServerTests.nodeMAC)") } }
        var said: [String] { events.all.map(\.description) }

        func stop() {
            server.stop()
            fixture.remove()
        }
    }

    @Test func listensWhereAskedAndSaysWhatItServes() throws {
        let served = try Served()
        defer { served.stop() }
        let http = served.port("HTTP")
        let tftp = served.port("TFTP")
        #expect(http != 0 && tftp != 0)
        #expect(served.server.listeners == [.init(service: "HTTP", host: "127.0.0.1", port: http), .init(service: "TFTP", host: "127.0.0.1", port: tftp)])
        #expect(
            served.said == [
                "HTTP listening on 127.0.0.1:\(http)", "TFTP listening on 127.0.0.1:\(tftp)",
                "serving \(served.fixture.served) over HTTP on 127.0.0.1:\(http) and TFTP on 127.0.0.1:\(tftp); fleet \(served.fixture.fleetFile): 1 node, 1 role, unknown MACs are refused",
            ])
        #expect(served.events.all.map(\.importance) == [.detail, .detail, .normal])
        #expect(try served.nodeScript == curl("tftp://127.0.0.1:\(tftp)/ipxe/\(Self.nodeMAC)"))
    }

    /// An overlay built again into the served directory (`build --replace`: the file renamed into place, then its
    /// manifest) is served without a signal, once its manifest held still for one look; a download that had begun
    /// finishes with the bytes it started with.
    @Test func aRebuiltOverlayIsServedWithoutASignalAndATransferInFlightKeepsItsBytes() throws {
        let served = try Served()
        defer { served.stop() }
        let overlay = served.fixture.served.appending("overlays/vdsm-1.2.cpio.zst")
        let old = Data((0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try old.write(to: URL(fileURLWithPath: overlay.string))
        let url = "http://127.0.0.1:\(served.port("HTTP"))/overlays/vdsm-1.2.cpio.zst"
        let before = try #require(served.server.fleet?.digest(of: "overlays/vdsm-1.2.cpio.zst"))

        // A slow download of the old file, then the rebuild replaces it under the download.
        let downloaded = FileManager.default.temporaryDirectory.appendingPathComponent("inflight-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: downloaded) }
        let download = Process()
        download.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        download.arguments = ["--silent", "--show-error", "--limit-rate", "16M", "--output", downloaded.path, url]
        try download.run()
        usleep(300_000)
        let new = Data("rebuilt overlay\n".utf8)
        let staged = served.fixture.served.appending("overlays/.vdsm-1.2.cpio.zst.partial")
        try new.write(to: URL(fileURLWithPath: staged.string))
        #expect(rename(staged.string, overlay.string) == 0)
        let manifest = OverlayManifest(
            name: "vdsm", version: "1.2", summary: "vdsm plugin", format: "cpio.zst", file: "vdsm-1.2.cpio.zst", size: Int64(new.count),
            sha256: String(repeating: "e", count: 64), base: FleetFixture.baseIdentity, packages: ["vdsm-1.2-2.noarch"], removed: [],
            requires: [])
        try served.fixture.write(String(decoding: try JSONEncoder.manifest.encode(manifest), as: UTF8.self), at: "overlays/vdsm-1.2.json")

        served.server.checkForChanges()
        #expect(served.server.fleet?.digest(of: "overlays/vdsm-1.2.cpio.zst") == before)
        served.server.checkForChanges()
        #expect(served.server.fleet?.digest(of: "overlays/vdsm-1.2.cpio.zst") == String(repeating: "e", count: 64))
        #expect(served.said.last?.hasPrefix("reloaded the fleet (served manifests: overlays/vdsm-1.2.json changed): ") == true, "\(served.said)")
        #expect(try curl(url) == "rebuilt overlay\n")

        download.waitUntilExit()
        #expect(download.terminationStatus == 0)
        #expect(try Data(contentsOf: downloaded) == old)
        served.server.checkForChanges()
        #expect(served.said.filter { $0.hasPrefix("reloaded") }.count == 1)
    }

    /// `GET /metrics`: Prometheus text with what the servers did, per protocol and status, and boots per role.
    @Test func metricsCountRequestsBytesErrorsAndBootsPerRole() throws {
        let served = try Served()
        defer { served.stop() }
        let http = "http://127.0.0.1:\(served.port("HTTP"))"
        _ = try served.nodeScript
        _ = try curl("\(http)/ipxe/52-54-00-99-99-99")  // not listed, and no default role: no boot counted
        let kernel = try curl("tftp://127.0.0.1:\(served.port("TFTP"))/vmlinuz")
        _ = try? curl("\(http)/missing", "--fail")
        let metrics = try curl("\(http)/metrics")
        let lines = Set(metrics.split(separator: "\n").map(String.init))
        #expect(lines.contains("# TYPE overlay_requests_total counter"))
        #expect(lines.contains(#"overlay_requests_total{proto="http",status="200"} 2"#), "\(metrics)")
        #expect(lines.contains(#"overlay_requests_total{proto="http",status="404"} 1"#))
        #expect(lines.contains(#"overlay_requests_total{proto="tftp",status="ok"} 1"#))
        #expect(lines.contains(#"overlay_errors_total{proto="http"} 1"#))
        #expect(lines.contains(#"overlay_errors_total{proto="tftp"} 0"#))
        #expect(lines.contains(#"overlay_sent_bytes_total{proto="tftp"} \#(kernel.utf8.count)"#))
        // The scrape itself is being answered.
        #expect(lines.contains(#"overlay_transfers_in_flight{proto="http"} 1"#))
        #expect(lines.contains(#"overlay_transfers_in_flight{proto="tftp"} 0"#))
        #expect(lines.contains("overlay_tftp_timeouts_total 0"))
        #expect(lines.contains(#"overlay_boots_total{role="compute"} 1"#))
        #expect(!metrics.contains("role=\"\""))
    }

    /// A change is taken only once the file stayed the same from one look to the next: an editor's half-written
    /// save is not served.
    @Test func aChangedFleetFileIsTakenOnceItHoldsStill() throws {
        let served = try Served()
        defer { served.stop() }
        try served.fixture.writeFleet(Self.fleetText.replacingOccurrences(of: "console=ttyS0", with: "console=ttyS1"))
        served.server.checkForChanges()
        #expect(try served.nodeScript.contains("console=ttyS0 "))
        served.server.checkForChanges()
        #expect(try served.nodeScript.contains("console=ttyS1 "))
        #expect(
            served.said.last
                == "reloaded the fleet (\(served.fixture.fleetFile) changed): fleet \(served.fixture.fleetFile): 1 node, 1 role, unknown MACs are refused")
        served.server.checkForChanges()
        #expect(served.said.filter { $0.hasPrefix("reloaded") }.count == 1)
    }

    /// An editor saving a fleet file half-written (a table header just begun) aborted the whole server inside
    /// TOMLKit's toml++ (found by fuzzing fleet.toml); now the reload is refused, said as a warning, and the previous
    /// fleet served.
    @Test func aHalfWrittenFleetIsRefusedAndThePreviousOneServed() throws {
        let served = try Served()
        defer { served.stop() }
        try served.fixture.writeFleet(Self.fleetText + "[\n")
        served.server.reload(reason: "SIGHUP")
        let line = Self.fleetText.split(separator: "\n", omittingEmptySubsequences: false).count
        let last = try #require(served.events.all.last)
        #expect(last.importance == .warning)
        #expect(
            last.description
                == "reload (SIGHUP) failed, still serving the previous fleet: \(served.fixture.fleetFile):\(line):2: invalid TOML: a table header must start with a name, as in [name] or [[name]]; fix the syntax at that spot"
        )
        #expect(try served.nodeScript.contains("initrd --name vdsm-1.2.cpio.zst ../overlays/vdsm-1.2.cpio.zst\n"))
        #expect(served.server.fleet?.roles.count == 1)
    }

    @Test func aReloadReadsTheServedManifestsAgain() throws {
        let served = try Served()
        defer { served.stop() }
        try FileManager.default.removeItem(atPath: served.fixture.served.appending("overlays/vdsm-1.2.json").string)
        try served.fixture.addOverlay("vdsm", "1.3")
        #expect(try served.nodeScript.contains("vdsm-1.2.cpio.zst"))
        served.server.reload(reason: "SIGHUP")
        #expect(try served.nodeScript.contains("initrd --name vdsm-1.3.cpio.zst ../overlays/vdsm-1.3.cpio.zst\n"))
    }

    @Test func aFleetThatDoesNotLoadStopsTheStartWithItsReason() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.writeFleet(Self.fleetText)  // names cim and vdsm, which the directory does not have
        #expect {
            _ = try FleetServer(directory: fixture.served, fleetFile: fixture.fleetFile, http: ["127.0.0.1:0"], tftp: [], log: .disabled) { _ in }
        } throws: { error in
            "\(error)"
                == "\(fixture.fleetFile): roles.compute.plugins[0]: no overlay for plugin \"cim\" in \(fixture.served) (no overlay manifests were found there); build it with overlay build into that directory or fix the name"
        }
    }
}
