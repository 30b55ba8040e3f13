import Foundation
import SystemPackage
import Testing

import Fleet
import TestSupport

/// `overlay serve --state DIR` through the binary users run: reports POSTed with curl, the state file they are kept
/// in, and the report URL the boot files name.
@Suite(.serialized) struct ReportServeTests {
    static let mac = "52:54:00:12:34:56"

    static func report(_ mac: String = ReportServeTests.mac, plugins: [String] = ["cim 1.0", "vdsm 1.2"]) -> String {
        "NODE \(mac)\nROLE compute\nBASE oVirt Node 3.0\n" + plugins.map { "PLUGIN \($0)\n" }.joined() + "OVERLAY-NODE READY\n"
    }

    static func lines(_ file: FilePath) throws -> [String] {
        try String(contentsOfFile: file.string, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Each line of a state file is one JSON object with the time, the client address and the parsed report.
    static func reports(in file: FilePath) throws -> [[String: Any]] {
        var lines = try lines(file)
        #expect(lines.last == "", "\(file) does not end with a line feed")
        lines.removeLast()
        return try lines.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(Set(object.keys) == ["time", "client", "report"])
            return object
        }
    }

    @Test func goodBadOversizeChunkedAndTooFrequentReports() throws {
        let fixture = try FleetFixture.computeRole()
        defer { fixture.remove() }
        let state = FilePath(fixture.root.path).appending("state/reports")
        let serve = try ServeProcess(["--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--state", state.string], in: fixture.root)
        defer { serve.terminate() }
        // The directory was made, and the start says where reports go.
        #expect(
            try serve.process.waitForEvent("overlay serve: taking node reports")
                == "overlay serve: taking node reports at /report, kept in \(state)/reports.jsonl; read back 0 reports of 0 nodes")

        let good = try serve.post(Self.report())
        #expect(good.status == 200 && good.body == "accepted the report from node \(Self.mac)\n")
        let bad = try serve.post("NODE \(Self.mac)\nPLUGIN vdsm\nOVERLAY-NODE READY\n")
        #expect(bad.status == 400 && bad.body == "line 2: PLUGIN: expected \"PLUGIN <name> <version>\"\n")
        let oversize = try serve.post(String(repeating: "PLUGIN p 1\n", count: 400) + "OVERLAY-NODE READY\n")
        #expect(oversize.status == 413 && oversize.body == "413 Content Too Large: the body is 4419 bytes, more than the 4096 this path takes\n")
        let chunked = try serve.post(Self.report(), ["--header", "Transfer-Encoding: chunked"])
        #expect(chunked.status == 411 && chunked.body == "411 Length Required: send the body with a Content-Length, not chunked\n")
        let empty = try serve.request("/report", ["--request", "POST"])
        #expect(empty.status == 411 && empty.body == "411 Length Required: a Content-Length is required\n")
        // Other paths take no POST, as before.
        #expect(try serve.request("/vmlinuz", ["--data-binary", "x"]).status == 405)

        // One report a second with a burst of five from one address: the good and the bad one used two.
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<8 {
            let answer = try serve.post(Self.report(), ["--include"])
            statuses.append(answer.status)
            if answer.status == 429 { retryAfter = answer.body.split(separator: "\r\n").first { $0.hasPrefix("Retry-After: ") }.map(String.init) }
        }
        let accepted = statuses.prefix { $0 == 200 }.count
        #expect(accepted >= 3 && accepted < 8, "\(statuses)")
        #expect(statuses.dropFirst(accepted).allSatisfy { $0 == 429 }, "\(statuses)")
        #expect(retryAfter == "Retry-After: 1")
        usleep(1_100_000)
        #expect(try serve.post(Self.report()).status == 200)

        // One line per accepted report, each with the client's address beside what the node said.
        let kept = try Self.reports(in: state.appending("reports.jsonl"))
        #expect(kept.count == 1 + accepted + 1)
        #expect(kept.allSatisfy { $0["client"] as? String == "127.0.0.1" })
        let report = try #require(kept.first?["report"] as? [String: Any])
        #expect(report["node"] as? String == Self.mac)
        #expect(report["role"] as? String == "compute")
        #expect((report["plugins"] as? [[String: String]])?.map { "\($0["name"] ?? "") \($0["version"] ?? "")" } == ["cim 1.0", "vdsm 1.2"])

        let metrics = try curl(serve.base + "/metrics")
        #expect(metrics.contains("overlay_reports_total{result=\"accepted\"} \(kept.count)\n"))
        #expect(metrics.contains("overlay_reports_total{result=\"refused\"} 1\n"))
        #expect(metrics.contains("overlay_reports_total{result=\"limited\"} \(8 - accepted)\n"))
        #expect(metrics.contains("overlay_drift_nodes 0\n"))
        #expect(serve.terminate() == 0)
        // The access log names each refusal's reason.
        #expect(try serve.process.output().contains("POST /report 400 \(bad.body.utf8.count) "))
    }

    /// Reports survive a restart; a last line torn by a crash is cut off; rotation leaves two whole files.
    @Test func theStateFileSurvivesARestartATornLineAndRotation() throws {
        let fixture = try FleetFixture.computeRole()
        defer { fixture.remove() }
        let state = FilePath(fixture.root.path).appending("state")
        let file = state.appending("reports.jsonl")
        let rotated = state.appending("reports.jsonl.1")
        let arguments = ["--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--state", state.string, "--state-max", "1K"]
        var serve = try ServeProcess(arguments, in: fixture.root)
        let macs = (1...7).map { "52:54:00:00:00:0\($0)" }
        for (index, mac) in macs.enumerated() {
            if index == 4 { usleep(3_100_000) }  // past the burst of five
            #expect(try serve.post(Self.report(mac)).status == 200)
        }
        #expect(try serve.post(Self.report(Self.mac, plugins: ["cim 1.0", "vdsm 1.1"])).status == 200)
        #expect(serve.terminate() == 0)
        // Rotated once past 1 KiB: both files whole, eight reports in all, oldest first.
        let first = try Self.reports(in: rotated)
        let second = try Self.reports(in: file)
        #expect(!first.isEmpty && !second.isEmpty)
        let nodes = (first + second).compactMap { ($0["report"] as? [String: Any])?["node"] as? String }
        #expect(nodes == macs + [Self.mac])

        // A crash in the middle of a line, then a restart.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file.string))
        try handle.seekToEnd()
        let torn = Data("{\"client\":\"127.0.0.1\",\"report\":{\"node\":\"52:54".utf8)
        try handle.write(contentsOf: torn)
        try handle.close()
        serve = try ServeProcess(arguments, in: fixture.root)
        defer { serve.terminate() }
        #expect(
            try serve.process.waitForEvent("overlay serve: taking node reports")
                == "overlay serve: taking node reports at /report, kept in \(file); read back 8 reports of 8 nodes")
        #expect(
            try serve.process.waitForEvent("overlay serve: \(file) ended")
                == "overlay serve: \(file) ended in a line a crash cut short; its \(torn.count) bytes were removed")
        #expect(try Self.reports(in: file).count == second.count)

        // The status still knows every node: the listed one by its last report, the others as unknown MACs.
        let status = try JSONDecoder().decode(FleetStatus.self, from: Data(curl(serve.base + "/status.json").utf8))
        #expect(status.nodes.map(\.mac) == [Self.mac] + macs)
        #expect(status.nodes[0].drift == [FleetStatus.Drift(.staleOverlay, "reported vdsm 1.1; the role has vdsm 1.2")])
        #expect(status.nodes.dropFirst().allSatisfy { $0.drift.map(\.kind) == ["unknown MAC"] })
        // The next report starts on a line of its own.
        #expect(try serve.post(Self.report()).status == 200)
        #expect(try Self.reports(in: file).count == second.count + 1)
    }

    @Test func aStateThatIsNoDirectoryIsRefusedInOneSentence() throws {
        let fixture = try FleetFixture.computeRole()
        defer { fixture.remove() }
        // (--no-check: the fixture's overlays are stand-ins that overlay check cannot read.)
        let base = ["serve", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--http", "127.0.0.1:0", "--no-check"]
        let onFile = try OverlayCommand.run(base + ["--state", fixture.fleetFile.string])
        #expect(onFile.status == 1)
        #expect(
            onFile.stderr == "overlay: --state \(fixture.fleetFile): it is a file, not a directory; give a directory this server can write its reports to\n")
        let below = fixture.fleetFile.appending("state")
        let belowFile = try OverlayCommand.run(base + ["--state", below.string])
        #expect(belowFile.status == 1)
        #expect(
            belowFile.stderr
                == "overlay: --state \(below): \(fixture.fleetFile) is a file, not a directory; give a directory this server can write its reports to\n")

        let withoutFleet = try OverlayCommand.run(["serve", "--dir", fixture.served.string, "--state", "/tmp/unused"])
        #expect(withoutFleet.status == 64)
        #expect(withoutFleet.stderr == "overlay: --state keeps node reports against a fleet; give --fleet FILE too; see 'overlay serve --help'\n")
        let advertiseAlone = try OverlayCommand.run(base + ["--advertise", "http://10.0.2.2:8080"])
        #expect(advertiseAlone.status == 64)
        let badURL = try OverlayCommand.run(base + ["--state", FilePath(fixture.root.path).appending("s").string, "--advertise", "ftp://x"])
        #expect(badURL.status == 1)
        #expect(
            badURL.stderr
                == "overlay: --advertise ftp://x: it does not start with http:// or https://; write the URL nodes reach this server at, for example http://10.0.0.1:8080\n"
        )
    }

    /// The boot files name where to report: `--advertise`, else over HTTP the address the node used; over TFTP
    /// without `--advertise`, nothing (said once at start). `boot-config --advertise` writes the same files.
    @Test func bootFilesNameTheReportURLNodesReach() throws {
        let fixture = try FleetFixture.computeRole()
        defer { fixture.remove() }
        let node = "52-54-00-12-34-56"
        let state = FilePath(fixture.root.path).appending("state").string
        let arguments = ["--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--state", state]

        let serve = try ServeProcess(arguments, tftp: true, in: fixture.root)
        let overHTTP = try curl("\(serve.base)/ipxe/\(node)")
        #expect(overHTTP.contains(" overlay.expect=cim@1.0,vdsm@1.2 overlay.report=http://127.0.0.1:\(serve.http)/report BOOTIF="))
        // The Host a node behind NAT used (QEMU's user network: 10.0.2.2).
        let behindNAT = try curl("\(serve.base)/pxelinux.cfg/01-\(node)", "--header", "Host: 10.0.2.2:8080")
        #expect(
            behindNAT.contains(
                "  APPEND initrd=base.cpio.zst,overlays/cim-1.0.cpio.zst,overlays/vdsm-1.2.cpio.zst console=ttyS0 overlay.role=compute overlay.expect=cim@1.0,vdsm@1.2 overlay.report=http://10.0.2.2:8080/report\n"
            ))
        #expect(
            try curl("\(serve.base)/grub.cfg-01-\(node)", "--header", "Host: [fd00::1]:8080").contains(
                " overlay.expect=cim@1.0,vdsm@1.2 overlay.report=http://[fd00::1]:8080/report\n"))
        // A Host no boot loader could carry safely is not pasted in.
        #expect(!(try curl("\(serve.base)/ipxe/\(node)", "--header", "Host: evil;chain http://x/")).contains("overlay.report="))
        let overTFTP = try curl("tftp://127.0.0.1:\(try #require(serve.tftp))/ipxe/\(node)")
        #expect(!overTFTP.contains("overlay.report="))
        #expect(
            try serve.process.waitForEvent("overlay serve: nodes booted over TFTP")
                == "overlay serve: nodes booted over TFTP will not report: a boot file fetched over TFTP has no Host header to name this server by; give --advertise URL"
        )
        #expect(serve.terminate() == 0)

        let advertised = try ServeProcess(arguments + ["--advertise", "http://10.0.2.2:8080/"], tftp: true, in: fixture.root)
        defer { advertised.terminate() }
        let served = try curl("\(advertised.base)/ipxe/\(node)")
        #expect(served.contains(" overlay.expect=cim@1.0,vdsm@1.2 overlay.report=http://10.0.2.2:8080/report BOOTIF="))
        #expect(try curl("tftp://127.0.0.1:\(try #require(advertised.tftp))/ipxe/\(node)") == served)
        #expect(!(try advertised.process.events()).contains("will not report"))

        let out = FilePath(fixture.root.path).appending("out")
        let export = try OverlayCommand.run(
            ["boot-config", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--out", out.string, "--advertise", "http://10.0.2.2:8080"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try String(contentsOfFile: out.appending("ipxe/\(node)").string, encoding: .utf8) == served)
        let plain = try OverlayCommand.run(["boot-config", "--dir", fixture.served.string, "--fleet", fixture.fleetFile.string, "--out", out.string])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!(try String(contentsOfFile: out.appending("ipxe/\(node)").string, encoding: .utf8)).contains("overlay.report="))
    }
}
