import Foundation
import Glibc
import Serve
import SystemPackage
import Testing

@Suite(.serialized)
struct TFTPServerTests {
    /// A server on 127.0.0.1 port 0 over a fresh root with a few files, an escape symlink and a private sibling.
    /// Its retransmission timer is fixed at one second unless a test says otherwise: the hand-driven probes answer
    /// at the test's pace, which a timer adapted to loopback round trips would not wait for. The adaptive timer
    /// meets real clients in `TFTPLossTests` and in `aLostBlockIsResentAfterTheMeasuredRoundTrip`.
    final class Fixture {
        let scratch: Scratch
        let root: String
        let log: LogFile
        let server: TFTPServer

        init(limits: TFTPLimits = .init(minTimeoutMilliseconds: 1000), catalog: (any ServeCatalog)? = FleetCatalog()) throws {
            scratch = try Scratch()
            root = try scratch.rootWithEscapes()
            try scratch.write("root/boot/vmlinuz", Data())
            log = try LogFile(scratch)
            server = try TFTPServer(root: FilePath(root), bind: "127.0.0.1:0", catalog: catalog, log: AccessLog(log.fd), limits: limits)
            try server.start()
        }

        deinit { server.stop() }

        var port: String { String(server.port) }
    }

    @Test func curlDownloadsWithNegotiatedBlockSize() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/images/initrd.img", count: 3_000_123)
        let out = fixture.scratch.path + "/curl.out"
        let result = try run("/usr/bin/curl", ["-sS", "--tftp-blksize", "1428", "-o", out, "tftp://127.0.0.1:\(fixture.port)/images/initrd.img"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sha256(file: out) == sha256(original))
        let line = fixture.log.line { $0.contains("RRQ images/initrd.img") } ?? ""
        #expect(line.contains("RRQ images/initrd.img ok 3000123"))
        #expect(line.contains("blksize=1428"))
        #expect(line.contains("tsize=3000123"))
    }

    @Test func atftpWithWindowSizeBlockSizeAndTsize() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/overlay.cpio.zst", count: 5_242_881)
        let out = fixture.scratch.path + "/atftp.out"
        let result = try run(
            "/usr/bin/atftp",
            [
                "--option", "windowsize 8", "--option", "blksize 1428", "--option", "tsize enable",
                "-g", "-r", "overlay.cpio.zst", "-l", out, "127.0.0.1", fixture.port,
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sha256(file: out) == sha256(original))
        #expect(fixture.log.line { $0.contains("RRQ overlay.cpio.zst ok") }?.contains("windowsize=8") == true)
    }

    @Test func tftpHpaAndBusyboxClients() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/pxelinux.0", count: 100_000)
        let hpaOut = fixture.scratch.path + "/hpa.out"
        let hpa = try run("/usr/bin/tftp", ["-m", "binary", "127.0.0.1", fixture.port, "-c", "get", "pxelinux.0", hpaOut])
        #expect(hpa.status == 0, "\(hpa.stderr)")
        #expect(try sha256(file: hpaOut) == sha256(original))
        let busyboxOut = fixture.scratch.path + "/busybox.out"
        let busybox = try run("/bin/busybox", ["tftp", "-b", "1468", "-g", "-r", "pxelinux.0", "-l", busyboxOut, "127.0.0.1", fixture.port])
        #expect(busybox.status == 0, "\(busybox.stderr)")
        #expect(try sha256(file: busyboxOut) == sha256(original))
    }

    @Test func netasciiModeConvertsLineEnds() throws {
        let fixture = try Fixture()
        try fixture.scratch.write("root/notes.txt", "one\ntwo\n")
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(1, "notes.txt", mode: "netascii"), to: fixture.server.port)
        let data = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(data.bytes) == 3)
        #expect(Array(data.bytes.dropFirst(4)) == Array("one\r\ntwo\r\n".utf8))
        probe.send(TFTPBytes.ack(1), to: data.port)
    }

    /// More than 65535 blocks of 512 bytes: block numbers wrap, in lockstep (no options) and with a window.
    @Test func largeFileRollsBlockNumbersOver() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/big.img", count: 33 * 1024 * 1024 + 777)
        let plainOut = fixture.scratch.path + "/plain.out"
        let plain = try run("/usr/bin/atftp", ["-g", "-r", "big.img", "-l", plainOut, "127.0.0.1", fixture.port], timeout: 300)
        #expect(plain.status == 0, "\(plain.stderr)")
        let expected = try sha256(original)
        #expect(try sha256(file: plainOut) == expected)
        let curlOut = fixture.scratch.path + "/curl.out"
        let curl = try run("/usr/bin/curl", ["-sS", "--tftp-blksize", "512", "-o", curlOut, "tftp://127.0.0.1:\(fixture.port)/big.img"], timeout: 300)
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(try sha256(file: curlOut) == expected)
        let windowOut = fixture.scratch.path + "/window.out"
        let window = try run("/usr/bin/atftp", ["--option", "windowsize 8", "-g", "-r", "big.img", "-l", windowOut, "127.0.0.1", fixture.port], timeout: 300)
        #expect(window.status == 0, "\(window.stderr)")
        #expect(try sha256(file: windowOut) == expected)
    }

    /// RFC 7440: an ACK from the middle of a window (the client saw a gap) restarts the window after it.
    @Test func partialWindowAckRestartsAfterIt() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/kernel", count: 512 * 10 + 100)
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(1, "kernel", options: [("windowsize", "4")]), to: fixture.server.port)
        let oack = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.options(oack.bytes) == ["windowsize": "4"])
        probe.send(TFTPBytes.ack(0), to: oack.port)
        var blocks: [UInt16: [UInt8]] = [:]
        for expected in UInt16(1)...4 {
            let data = try #require(probe.receive(timeout: 3))
            #expect(TFTPBytes.number(data.bytes) == expected)
            blocks[expected] = Array(data.bytes.dropFirst(4))
        }
        probe.send(TFTPBytes.ack(2), to: oack.port)
        for expected in UInt16(3)...6 {
            let data = try #require(probe.receive(timeout: 3))
            #expect(TFTPBytes.number(data.bytes) == expected)
            blocks[expected] = Array(data.bytes.dropFirst(4))
        }
        probe.send(TFTPBytes.ack(6), to: oack.port)
        for expected in UInt16(7)...10 {
            let data = try #require(probe.receive(timeout: 3))
            blocks[TFTPBytes.number(data.bytes)] = Array(data.bytes.dropFirst(4))
            #expect(TFTPBytes.number(data.bytes) == expected)
        }
        probe.send(TFTPBytes.ack(10), to: oack.port)
        let last = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.number(last.bytes) == 11 && last.bytes.count == 104)
        blocks[11] = Array(last.bytes.dropFirst(4))
        probe.send(TFTPBytes.ack(11), to: oack.port)
        #expect(Data((1...11).flatMap { blocks[UInt16($0)] ?? [] }) == original)
        #expect(fixture.log.line { $0.contains("RRQ kernel ok") }?.contains("rewound=1") == true)
    }

    /// RFC 7440: the ACK of the block before a window, again (the client lost the window's first block), sends the
    /// window again at once, well before the timer would; the duplicate ACK the resend itself may draw sends
    /// nothing more (no Sorcerer's Apprentice).
    @Test func repeatedAckBeforeAWindowResendsItOnce() throws {
        let fixture = try Fixture(limits: TFTPLimits(timeoutMilliseconds: 3000, minTimeoutMilliseconds: 3000))
        let original = try fixture.scratch.randomFile("root/initrd", count: 512 * 8 + 10)
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(1, "initrd", options: [("windowsize", "4")]), to: fixture.server.port)
        let oack = try #require(probe.receive(timeout: 3))
        probe.send(TFTPBytes.ack(0), to: oack.port)
        var blocks: [UInt16: [UInt8]] = [:]
        for expected in UInt16(1)...4 {
            let data = try #require(probe.receive(timeout: 3))
            #expect(TFTPBytes.number(data.bytes) == expected)
            blocks[expected] = Array(data.bytes.dropFirst(4))
        }
        probe.send(TFTPBytes.ack(4), to: oack.port)
        for expected in UInt16(5)...8 {
            let data = try #require(probe.receive(timeout: 3))
            #expect(TFTPBytes.number(data.bytes) == expected)
        }
        // Block 5 "was lost": the client acknowledges block 4 again, and the window comes again at once.
        probe.send(TFTPBytes.ack(4), to: oack.port)
        for expected in UInt16(5)...8 {
            let data = try #require(probe.receive(timeout: 1), "the window was not sent again before the 3 s timer")
            #expect(TFTPBytes.number(data.bytes) == expected)
            blocks[expected] = Array(data.bytes.dropFirst(4))
        }
        probe.send(TFTPBytes.ack(4), to: oack.port)
        #expect(probe.receive(timeout: 1) == nil, "a second duplicate ACK within the timeout sent the window again")
        probe.send(TFTPBytes.ack(8), to: oack.port)
        let last = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.number(last.bytes) == 9 && last.bytes.count == 14)
        blocks[9] = Array(last.bytes.dropFirst(4))
        probe.send(TFTPBytes.ack(9), to: oack.port)
        #expect(Data((1...9).flatMap { blocks[UInt16($0)] ?? [] }) == original)
        #expect(fixture.log.line { $0.contains("RRQ initrd ok") }?.contains("rewound=1") == true)
    }

    /// Once a round trip has been measured, a lost block is resent after that round trip plus its variation (RFC
    /// 6298, at least `minTimeoutMilliseconds`), not after the whole timeout; each further resend waits twice as long.
    @Test func aLostBlockIsResentAfterTheMeasuredRoundTrip() throws {
        // A loopback round trip is far below the 300 ms floor: the first resend comes after 0.3 s, the next 0.6 s
        // later, both long before the 4 s timeout (bounds leave room for a busy machine).
        let fixture = try Fixture(limits: TFTPLimits(timeoutMilliseconds: 4000, minTimeoutMilliseconds: 300))
        try fixture.scratch.randomFile("root/blocks", count: 512 * 3 + 1)
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(1, "blocks"), to: fixture.server.port)
        let first = try #require(probe.receive(timeout: 5))
        #expect(TFTPBytes.number(first.bytes) == 1)
        probe.send(TFTPBytes.ack(1), to: first.port)
        let second = try #require(probe.receive(timeout: 5))
        #expect(TFTPBytes.number(second.bytes) == 2)
        // No ACK for block 2.
        let sent = Date()
        let resent = try #require(probe.receive(timeout: 2), "block 2 was not resent within 2 s (the timeout is 4 s)")
        let firstWait = Date().timeIntervalSince(sent)
        #expect(TFTPBytes.number(resent.bytes) == 2)
        #expect(firstWait >= 0.25 && firstWait < 1.5, "resent after \(firstWait) s")
        let again = try #require(probe.receive(timeout: 3))
        let secondWait = Date().timeIntervalSince(sent) - firstWait
        #expect(TFTPBytes.number(again.bytes) == 2)
        #expect(secondWait >= 0.45 && secondWait < 2.5, "then after \(secondWait) s")
        probe.send(TFTPBytes.ack(2), to: first.port)
        let third = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.number(third.bytes) == 3)
        probe.send(TFTPBytes.ack(3), to: first.port)
        let last = try #require(probe.receive(timeout: 3))
        probe.send(TFTPBytes.ack(TFTPBytes.number(last.bytes)), to: first.port)
        #expect(fixture.log.line { $0.contains("RRQ blocks ok") }?.contains("resent=2") == true)
    }

    @Test func concurrentTransfersAllArriveIntact() throws {
        let fixture = try Fixture()
        var digests: [String: String] = [:]
        for index in 0..<6 {
            digests["file\(index)"] = try sha256(fixture.scratch.randomFile("root/file\(index)", count: 700_000 + index * 1111, seed: UInt64(index)))
        }
        let results = LockedResults()
        let (directory, port) = (fixture.scratch.path, fixture.port)
        inParallel(6) { index in
            let out = directory + "/parallel\(index).out"
            let status = (try? run("/usr/bin/curl", ["-sS", "--tftp-blksize", "1024", "-o", out, "tftp://127.0.0.1:\(port)/file\(index)"]))?.status ?? -1
            results.add(index, status == 0 ? ((try? sha256(file: out)) ?? "") : "failed \(status)")
        }
        for index in 0..<6 {
            #expect(results.value(index) == digests["file\(index)"])
        }
    }

    @Test func catalogDocumentIsServedInsteadOfAFile() throws {
        let fixture = try Fixture()
        let out = fixture.scratch.path + "/cfg.out"
        let result = try run("/usr/bin/curl", ["-sS", "-o", out, "tftp://127.0.0.1:\(fixture.port)/pxelinux.cfg/01-52-54-00-12-34-56"])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("APPEND initrd=initrd.img mac=52-54-00-12-34-56"))
    }

    @Test func pathsNeverLeaveTheRoot() throws {
        let fixture = try Fixture()
        for name in [
            "../root-private/secret", "/../root-private/secret", "escape", "up/root-private/secret", "boot/../../root-private/secret",
            "..\\root-private\\secret", "/etc/passwd", "%2e%2e/root-private/secret",
        ] {
            let probe = UDPProbe()
            probe.send(TFTPBytes.request(1, name), to: fixture.server.port)
            let reply = try #require(probe.receive(timeout: 3), "no answer for \(name)")
            #expect(TFTPBytes.opcode(reply.bytes) == 5, "\(name) was not refused")
            #expect([1, 2].contains(TFTPBytes.number(reply.bytes)), "\(name): error \(TFTPBytes.number(reply.bytes))")
        }
        // A directory and a FIFO are not regular files: nothing is sent, and the FIFO does not hang the server.
        #expect(mkfifo(fixture.root + "/fifo", 0o644) == 0)
        for name in ["boot", "fifo", "missing"] {
            let probe = UDPProbe()
            probe.send(TFTPBytes.request(1, name), to: fixture.server.port)
            let reply = try #require(probe.receive(timeout: 3))
            #expect(TFTPBytes.opcode(reply.bytes) == 5 && TFTPBytes.number(reply.bytes) == 1, "\(name)")
        }
        let curl = try run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "tftp://127.0.0.1:\(fixture.port)/escape"])
        #expect(curl.status != 0)
    }

    @Test func writeRequestsAreRefused() throws {
        let fixture = try Fixture()
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(2, "upload.bin"), to: fixture.server.port)
        let reply = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(reply.bytes) == 5 && TFTPBytes.number(reply.bytes) == 2)
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/upload.bin"))
        let hpa = try run("/usr/bin/tftp", ["-m", "binary", "127.0.0.1", fixture.port, "-c", "put", "/etc/hostname", "hostname"])
        #expect(hpa.text.contains("read-only") || hpa.stderr.contains("read-only"))
    }

    /// Packets no client sends must be answered or dropped, and the server goes on serving.
    @Test func hostilePacketsDoNotStopTheServer() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/kernel", count: 12_345)
        let probe = UDPProbe()
        let hostile: [[UInt8]] = [
            [0, 5, 0],  // a 3-byte ERROR (CVE-2019-11365)
            [0],
            [0, 1],
            [0, 1] + Array("kernel".utf8),  // file name without NUL
            TFTPBytes.request(1, "kernel") + Array("blksize".utf8),  // option without NUL
            TFTPBytes.request(1, String(repeating: "A", count: 4000)),  // very long file name (CVE-2009-2957)
            TFTPBytes.request(1, "kernel", options: (0..<300).map { ("opt\($0)", String(repeating: "9", count: 100)) }),  // many options (CVE-2011-2199)
            [0, 9, 1, 2, 3],  // unknown opcode
            [0, 4, 0, 1],  // a stray ACK
            [0, 3, 0, 1] + [UInt8](repeating: 7, count: 512),  // a stray DATA
        ]
        for packet in hostile { probe.send(packet, to: fixture.server.port) }
        // Drain whatever came back (errors and maybe the start of a transfer), then check the server still serves.
        while let reply = probe.receive(timeout: 0.5) {
            if TFTPBytes.opcode(reply.bytes) == 3 { probe.send([0, 5, 0, 0, 0], to: reply.port) }
        }
        let out = fixture.scratch.path + "/after.out"
        let result = try run("/usr/bin/curl", ["-sS", "-o", out, "tftp://127.0.0.1:\(fixture.port)/kernel"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sha256(file: out) == sha256(original))
    }

    @Test func hugeAndInvalidOptionValuesAreIgnoredOrClamped() throws {
        let fixture = try Fixture()
        try fixture.scratch.randomFile("root/kernel", count: 70_000)
        let probe = UDPProbe()
        probe.send(
            TFTPBytes.request(
                1, "kernel",
                options: [
                    ("blksize", "99999999999999999999999999"), ("timeout", "0"), ("windowsize", "-4"), ("tsize", "0"), ("tsize", "5"), ("blksize", "100000"),
                ]), to: fixture.server.port)
        let oack = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(oack.bytes) == 6)
        #expect(TFTPBytes.options(oack.bytes) == ["tsize": "70000"])
        probe.send([0, 5, 0, 8, 0], to: oack.port)

        let second = UDPProbe()
        second.send(TFTPBytes.request(1, "kernel", options: [("BLKSIZE", "100000")]), to: fixture.server.port)
        let clamped = try #require(second.receive(timeout: 3))
        #expect(TFTPBytes.options(clamped.bytes) == ["blksize": "65464"])
        second.send([0, 5, 0, 8, 0], to: clamped.port)
    }

    /// OVMF: OACK with exactly the three options asked for, then ERROR 8 ends the probe quietly, then the real RRQ.
    @Test func uefiSizeProbeThenRealRequest() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/shimx64.efi", count: 20_000)
        let probe = UDPProbe()
        let options = [("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")]
        probe.send(TFTPBytes.request(1, "shimx64.efi", options: options), to: fixture.server.port)
        let oack = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(oack.bytes) == 6)
        #expect(TFTPBytes.options(oack.bytes) == ["tsize": "20000", "blksize": "1468", "windowsize": "4"])
        probe.send([0, 5, 0, 8] + Array("size probe".utf8) + [0], to: oack.port)
        #expect(probe.receive(timeout: 1.5) == nil, "the server kept talking after ERROR 8")

        probe.send(TFTPBytes.request(1, "shimx64.efi", options: options), to: fixture.server.port)
        let second = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(second.bytes) == 6)
        #expect(second.port != oack.port)
        probe.send(TFTPBytes.ack(0), to: second.port)
        var received: [UInt8] = []
        var expected: UInt16 = 1
        while received.count < 20_000 {
            // One window of four blocks, then the ACK of its last block.
            for _ in 0..<4 where received.count < 20_000 {
                let data = try #require(probe.receive(timeout: 3))
                #expect(TFTPBytes.opcode(data.bytes) == 3 && TFTPBytes.number(data.bytes) == expected)
                received += data.bytes.dropFirst(4)
                expected += 1
            }
            probe.send(TFTPBytes.ack(expected - 1), to: second.port)
        }
        #expect(Data(received) == original)
        #expect(fixture.log.line { $0.contains("shimx64.efi aborted") && $0.contains("size probe") } != nil)
    }

    /// iPXE asks for blksize and tsize only; an unknown option alone gets no OACK at all.
    @Test func onlyRequestedOptionsAreAcknowledged() throws {
        let fixture = try Fixture()
        try fixture.scratch.randomFile("root/undionly.kpxe", count: 3000)
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(1, "undionly.kpxe", options: [("blksize", "1432")]), to: fixture.server.port)
        let oack = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.options(oack.bytes) == ["blksize": "1432"])
        probe.send([0, 5, 0, 8, 0], to: oack.port)

        probe.send(TFTPBytes.request(1, "undionly.kpxe", options: [("multicast", "")]), to: fixture.server.port)
        let data = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(data.bytes) == 3 && TFTPBytes.number(data.bytes) == 1 && data.bytes.count == 516)
        probe.send([0, 5, 0, 0, 0], to: data.port)
    }

    /// A packet from another port gets ERROR 5 and the transfer continues; a duplicate ACK sends nothing new
    /// (no Sorcerer's Apprentice); silence brings a resend after the timeout.
    @Test func transferIDsDuplicateAcksAndTimeouts() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/three-blocks", count: 1300)
        let probe = UDPProbe()
        probe.send(TFTPBytes.request(1, "three-blocks"), to: fixture.server.port)
        let first = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.number(first.bytes) == 1)

        let intruder = UDPProbe()
        intruder.send(TFTPBytes.ack(1), to: first.port)
        let refusal = try #require(intruder.receive(timeout: 3))
        #expect(TFTPBytes.opcode(refusal.bytes) == 5 && TFTPBytes.number(refusal.bytes) == 5)
        intruder.send([0, 5, 0, 5] + Array("unknown transfer ID".utf8) + [0], to: first.port)
        #expect(intruder.receive(timeout: 0.3) == nil, "an ERROR was answered with an ERROR")

        probe.send(TFTPBytes.ack(1), to: first.port)
        probe.send(TFTPBytes.ack(1), to: first.port)
        let second = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.number(second.bytes) == 2)
        #expect(probe.receive(timeout: 0.4) == nil, "a duplicate ACK caused a second DATA 2")

        // No ACK for block 2: after the one-second timeout the server resends it.
        let resent = try #require(probe.receive(timeout: 2))
        #expect(TFTPBytes.number(resent.bytes) == 2)
        probe.send(TFTPBytes.ack(2), to: first.port)
        let third = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.number(third.bytes) == 3)
        #expect(Data(first.bytes.dropFirst(4) + second.bytes.dropFirst(4) + third.bytes.dropFirst(4)) == original)
        probe.send(TFTPBytes.ack(3), to: first.port)
        #expect(probe.receive(timeout: 1.3) == nil)
    }

    /// A client that resends its RRQ before the first reply reached it gets one transfer, not two talking at once.
    @Test func resentRequestDoesNotStartASecondTransfer() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/kernel", count: 1000)
        let probe = UDPProbe()
        let request = TFTPBytes.request(1, "kernel")
        probe.send(request, to: fixture.server.port)
        probe.send(request, to: fixture.server.port)
        let first = try #require(probe.receive(timeout: 3))
        #expect(TFTPBytes.opcode(first.bytes) == 3 && TFTPBytes.number(first.bytes) == 1)
        #expect(probe.receive(timeout: 0.5) == nil, "the resent RRQ started a second transfer")
        probe.send(TFTPBytes.ack(1), to: first.port)
        let second = try #require(probe.receive(timeout: 3))
        #expect(second.port == first.port && TFTPBytes.number(second.bytes) == 2)
        #expect(Data(first.bytes.dropFirst(4) + second.bytes.dropFirst(4)) == original)
        probe.send(TFTPBytes.ack(2), to: first.port)
    }

    /// Every transfer in flight has a port of its own: two transfers sharing one would swap each other's ACKs.
    @Test func concurrentTransfersGetDistinctPorts() throws {
        let fixture = try Fixture()
        try fixture.scratch.randomFile("root/kernel", count: 5000)
        let probes = (0..<400).map { _ in UDPProbe() }
        for probe in probes { probe.send(TFTPBytes.request(1, "kernel"), to: fixture.server.port) }
        var ports: [UInt16] = []
        for probe in probes {
            // A burst this size can overflow the listening socket's buffer: resend as a real client would.
            var reply = probe.receive(timeout: 1)
            for _ in 0..<3 where reply == nil {
                probe.send(TFTPBytes.request(1, "kernel"), to: fixture.server.port)
                reply = probe.receive(timeout: 1)
            }
            let first = try #require(reply)
            #expect(TFTPBytes.opcode(first.bytes) == 3)
            ports.append(first.port)
        }
        #expect(Set(ports).count == probes.count)
        for (probe, port) in zip(probes, ports) { probe.send([0, 5, 0, 0, 0], to: port) }
    }

    @Test func busyServerRefusesBeyondItsTransferLimit() throws {
        let fixture = try Fixture(limits: TFTPLimits(maxTransfers: 1, timeoutMilliseconds: 3000, maxRetries: 1))
        try fixture.scratch.randomFile("root/kernel", count: 5000)
        let holder = UDPProbe()
        holder.send(TFTPBytes.request(1, "kernel"), to: fixture.server.port)
        let held = try #require(holder.receive(timeout: 3))
        #expect(TFTPBytes.opcode(held.bytes) == 3)
        let other = UDPProbe()
        other.send(TFTPBytes.request(1, "kernel"), to: fixture.server.port)
        let busy = try #require(other.receive(timeout: 3))
        #expect(TFTPBytes.opcode(busy.bytes) == 5 && String(decoding: busy.bytes.dropFirst(4).dropLast(), as: UTF8.self).contains("busy"))
        holder.send([0, 5, 0, 0, 0], to: held.port)
    }

    @Test func jsonLogLinesParse() throws {
        let scratch = try Scratch()
        try scratch.randomFile("root/kernel", count: 1000)
        let log = try LogFile(scratch)
        let server = try TFTPServer(root: FilePath(scratch.path + "/root"), bind: "127.0.0.1:0", catalog: nil, log: AccessLog(log.fd, format: .json))
        try server.start()
        defer { server.stop() }
        let result = try run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "tftp://127.0.0.1:\(server.port)/kernel"])
        #expect(result.status == 0)
        let line = try #require(log.line { $0.contains("kernel") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["proto"] as? String == "tftp")
        #expect(object["path"] as? String == "kernel")
        #expect(object["status"] as? String == "ok")
        #expect(object["bytes"] as? Int == 1000)
    }

    @Test func badRootAndAddressGiveSentences() throws {
        #expect(throws: ServeError.self) { try TFTPServer(root: "/nonexistent/dir", bind: "127.0.0.1:0", catalog: nil, log: .disabled) }
        do {
            _ = try TFTPServer(root: "/tmp", bind: "localhost-port", catalog: nil, log: .disabled)
            Issue.record("a bad address was accepted")
        } catch {
            #expect("\(error)".contains("ADDR:PORT"))
        }
    }
}

/// Results collected from several threads.
final class LockedResults: @unchecked Sendable {
    private var values: [Int: String] = [:]
    private let lock = NSLock()
    func add(_ key: Int, _ value: String) { lock.withLock { values[key] = value } }
    func value(_ key: Int) -> String? { lock.withLock { values[key] } }
}
