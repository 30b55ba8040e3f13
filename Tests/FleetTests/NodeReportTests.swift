import Fleet
import Testing

@Suite struct NodeReportTests {
    let body = """
        NODE 52:54:00:12:34:56
        ROLE compute
        BASE oVirt Node 3.0
        LAYER 01-vdsm-1.0.squashfs squashfs
        LAYER-FAILED 02-cim-1.0.erofs: cannot mount it as erofs
        PLUGIN cim 1.0
        PLUGIN vdsm 1.0
        EXPECTED cim@1.0,vdsm@1.1
        MISMATCH missing vdsm@1.1; unexpected vdsm@1.0
        UPTIME 8.52
        OVERLAY-NODE READY

        """

    @Test func aReportReadsBackAsTheLinesItWasSentAs() throws {
        let report = try NodeReport.parse(Array(body.utf8))
        #expect(report.node == MACAddress("52:54:00:12:34:56"))
        #expect(report.role == "compute")
        #expect(report.base == "oVirt Node 3.0")
        #expect(report.layers.map(\.file) == ["01-vdsm-1.0.squashfs", "02-cim-1.0.erofs"])
        #expect(report.layers.map(\.type) == ["squashfs", nil])
        #expect(report.layers[1].failure == "cannot mount it as erofs")
        #expect(report.plugins.map(\.description) == ["cim@1.0", "vdsm@1.0"])
        #expect(report.expected?.map(\.description) == ["cim@1.0", "vdsm@1.1"])
        #expect(report.uptime == 8.52)
        #expect(report.difference == "missing vdsm@1.1; unexpected vdsm@1.0")
        #expect(report.text == body)
    }

    @Test func theSmallestReportIsItsLastLine() throws {
        let report = try NodeReport.parse(Array("OVERLAY-NODE READY\n".utf8))
        #expect(report == NodeReport())
        #expect(report.text == "NO PLUGINS\nOVERLAY-NODE READY\n")
        #expect(report.difference == nil)
    }

    @Test(arguments: [
        ("NODE 52:54:00:12:34:56\nNODE 52:54:00:12:34:57\nOVERLAY-NODE READY\n", "line 2: NODE appears twice"),
        ("NODE 52:54:00:12:34\nOVERLAY-NODE READY\n", "line 1: NODE: \"52:54:00:12:34\" is not a MAC address"),
        ("PLUGIN vdsm\nOVERLAY-NODE READY\n", "line 1: PLUGIN: expected \"PLUGIN <name> <version>\""),
        ("PLUGIN vdsm 1.0 x\nOVERLAY-NODE READY\n", "line 1: PLUGIN: expected \"PLUGIN <name> <version>\""),
        ("PLUGIN ../x 1.0\nOVERLAY-NODE READY\n", "line 1: PLUGIN: expected \"PLUGIN <name> <version>\""),
        ("ROLE a/b\nOVERLAY-NODE READY\n", "line 1: ROLE: the role name is not a name fleet.toml allows"),
        ("UPTIME soon\nOVERLAY-NODE READY\n", "line 1: UPTIME: \"soon\" is not a number of seconds"),
        ("UPTIME nan\nOVERLAY-NODE READY\n", "line 1: UPTIME: \"nan\" is not a number of seconds"),
        ("UPTIME 8e52\nOVERLAY-NODE READY\n", "line 1: UPTIME: 8e52 seconds is longer than a node can have been up"),
        ("LAYER x.squashfs ext4\nOVERLAY-NODE READY\n", "line 1: LAYER: expected \"LAYER <file> squashfs|erofs\""),
        ("PLUGIN vdsm 1.0\nNO PLUGINS\nOVERLAY-NODE READY\n", "line 2: NO PLUGINS follows PLUGIN lines"),
        ("EXPECTED vdsm\nOVERLAY-NODE READY\n", "line 1: EXPECTED: expected a list like cim@1.0,vdsm@1.0"),
        (
            "HELLO there\nOVERLAY-NODE READY\n",
            "line 1: \"HELLO there\" is not a report line (NODE, ROLE, BASE, LAYER, LAYER-FAILED, PLUGIN, NO PLUGINS, EXPECTED, MISMATCH, UPTIME, OVERLAY-NODE READY)"
        ),
        ("BASE a\u{1b}[2Jb\nOVERLAY-NODE READY\n", "line 1: BASE: the base name is empty, too long or not printable"),
        // What a node sent is shown on one line, its control characters escaped (a terminal's too: C1, U+2028).
        ("NODE \u{1b}[2J\u{9b}\u{2028}\tx\nOVERLAY-NODE READY\n", "line 1: NODE: \"\\u{1B}[2J\\u{9B}\\u{2028}\\tx\" is not a MAC address"),
        ("OVERLAY-NODE READY\nPLUGIN vdsm 1.0\n", "line 2: text follows \"OVERLAY-NODE READY\", which ends a report"),
        ("PLUGIN vdsm 1.0\n", "the report does not end with \"OVERLAY-NODE READY\""),
        ("", "the report does not end with \"OVERLAY-NODE READY\""),
    ])
    func aBodyOutsideTheContractIsRefusedNamingTheLine(body: String, message: String) {
        #expect(throws: NodeReportError.self) { try NodeReport.parse(Array(body.utf8)) }
        do {
            _ = try NodeReport.parse(Array(body.utf8))
        } catch {
            #expect(error.description == message)
            #expect(!error.description.contains("\n"))
        }
    }

    /// A report made in code, or read from a state file edited by hand, renders whatever its uptime: the status
    /// page shows every report a server kept.
    @Test func everyUptimeRenders() {
        #expect(NodeReport(uptime: 8.5).text == "NO PLUGINS\nUPTIME 8.50\nOVERLAY-NODE READY\n")
        #expect(NodeReport(uptime: 8e52).text == "NO PLUGINS\nUPTIME 8e+52\nOVERLAY-NODE READY\n")
        #expect(NodeReport(uptime: .infinity).text == "NO PLUGINS\nUPTIME inf\nOVERLAY-NODE READY\n")
    }

    @Test func sizeAndEncodingAreCapped() {
        let long = String(repeating: "PLUGIN p 1\n", count: 400) + "OVERLAY-NODE READY\n"
        #expect(throws: NodeReportError(line: nil, reason: "the report is 4419 bytes, more than the 4096 a report may have")) {
            try NodeReport.parse(Array(long.utf8))
        }
        let many = String(repeating: "\n", count: 200) + "OVERLAY-NODE READY\n"
        #expect(throws: NodeReportError(line: nil, reason: "the report has 201 lines, more than the 128 a report may have")) {
            try NodeReport.parse(Array(many.utf8))
        }
        #expect(throws: NodeReportError(line: nil, reason: "the report is not UTF-8 text")) {
            try NodeReport.parse([0x50, 0xff, 0x0a])
        }
    }

    @Test func aConsoleGivesItsLastCompleteReport() throws {
        let console = """
            SeaBIOS (version 1.16.2-debian-1.16.2-1)\r
            iPXE initialising devices...ok\r
            [    1.234567] Run /init as init process
            NODE 52:54:00:12:34:56
            ROLE storage
            PLUGIN cim 1.0
            OVERLAY-NODE READY
            ~ # reboot
            NODE 52:54:00:12:34:56
            ROLE compute
            [    2.000000] random: crng init done
            BASE oVirt Node 3.0
            PLUGIN cim 1.0
            PLUGIN vdsm 1.0
            UPTIME 3.10
            OVERLAY-NODE READY
            NODE 52:54:00:12:34:56
            PLUGIN half
            """
        let report = try #require(NodeReport.parse(console: console))
        #expect(report.role == "compute")
        #expect(report.base == "oVirt Node 3.0")
        #expect(report.plugins.map(\.description) == ["cim@1.0", "vdsm@1.0"])
        #expect(NodeReport.parse(console: "NODE 52:54:00:12:34:56\nPLUGIN cim 1.0\n") == nil)
    }
}
