import Foundation
import Glibc
import Serve
import SystemPackage
import Testing

/// TFTP over a lossy, reordering link: the server in one network namespace, the clients in another, joined by a veth
/// pair on which each direction loses 10% of the packets and sends a quarter of them at once while the others wait
/// 5 ms, so they overtake (netem's `loss 10% reorder 25% 50% delay 5ms`; see `LinkImpairment` for how it is done
/// on a kernel without sch_netem). A 16 MiB file must arrive byte for byte in lockstep and in windows of 16 blocks.
///
/// Blocks are 65464 bytes (the veth's MTU is 65535, so each is still one datagram on the lossy link): 257 round
/// trips instead of 11,000 keep the lockstep transfers within seconds while about 50 of them still lose a packet.
@Suite(.serialized) struct TFTPLossTests {
    @Test func sixteenMebibytesArriveIntactInLockstepAndWindowsUnderLossAndReordering() throws {
        let network = try NamespacePair(mtu: 65535)
        defer { network.remove() }
        let scratch = try Scratch()
        try scratch.randomFile("root/initrd.img", count: 16 << 20)
        let expected = try sha256(file: scratch.path + "/root/initrd.img")
        let log = try LogFile(scratch)
        let root = scratch.path + "/root"
        let (address, logFD) = (network.serverAddress, log.fd)
        // The server is made and started on a thread inside the server's namespace; its threads stay there.
        let server = try inNetworkNamespace(network.server) { () throws -> TFTPServer in
            let server = try TFTPServer(root: FilePath(root), bind: "\(address):0", catalog: nil, log: AccessLog(logFD))
            try server.start()
            return server
        }
        defer { server.stop() }

        let towardClients = try LinkImpairment(
            namespace: network.server, interface: network.serverInterface, loss: 0.10, immediate: 0.25,
            correlation: 0.5, delayMilliseconds: 5, seed: 0x7f7f)
        defer { towardClients.stop() }
        let towardServer = try LinkImpairment(
            namespace: network.client, interface: network.clientInterface, loss: 0.10, immediate: 0.25,
            correlation: 0.5, delayMilliseconds: 5, seed: 0x3c3c)
        defer { towardServer.stop() }

        // atftp answers a second OACK by aborting ("unexpected OACK"), so it resends its own ACK of the OACK after
        // one second (--tftp-timeout 1) and asks the server to wait three before resending the OACK (timeout 3).
        // curl has no windowsize option: the windowed transfer is atftp's.
        let port = String(server.port)
        let url = "tftp://\(network.serverAddress):\(port)/initrd.img"
        let atftp = ["--tftp-timeout", "1", "--option", "timeout 3", "--option", "blksize 65464", "-g", "-r", "initrd.img"]
        let clients: [(name: String, program: String, arguments: (String) -> [String])] = [
            ("atftp lockstep", "/usr/bin/atftp", { atftp + ["-l", $0, network.serverAddress, port] }),
            ("atftp windowsize 16", "/usr/bin/atftp", { ["--option", "windowsize 16"] + atftp + ["-l", $0, network.serverAddress, port] }),
            ("curl lockstep", "/usr/bin/curl", { ["-sS", "--tftp-blksize", "65464", "-o", $0, url] }),
        ]
        var timings: [String] = []
        for (index, client) in clients.enumerated() {
            let out = scratch.path + "/received-\(index)"
            let started = Date()
            let result = try network.run(in: network.client, client.program, client.arguments(out), timeout: 60)
            let seconds = Date().timeIntervalSince(started)
            timings.append(String(format: "%@ %.1f s", client.name, seconds))
            #expect(result.status == 0, "\(client.name) failed after \(seconds) s: \(result.stderr.suffix(400))")
            #expect(try sha256(file: out) == expected, "\(client.name) received other bytes")
        }

        let sent = towardClients.stop()
        let acknowledged = towardServer.stop()
        print("TFTP 16 MiB under loss and reordering (\(towardClients.mechanism.rawValue)): \(timings.joined(separator: ", "))")
        print("  server to clients: \(sent); clients to server: \(acknowledged)")
        // The link really lost and reordered packets both ways.
        #expect(sent.dropped > 20 && acknowledged.dropped > 20)
        if towardClients.mechanism == .netfilterQueue {
            #expect(sent.immediate > 0 && sent.held > 0 && acknowledged.immediate > 0 && acknowledged.held > 0)
        }
        // The server saw it: it resent after silences, and the windowed transfer recovered from its losses by resending
        // or restarting windows. Which of the two a loss calls for depends on where in its window it falls (a first
        // block lost is answered by the block before the window, which the rules leave to the timeout right after a
        // resend); TFTPWindowTests holds each rule to its exact effect.
        // A client's last ACK can be lost too: the client has its file and is gone, while the server resends the last
        // window until it gives up. Stopping the server ends such a transfer and writes its line with its counts.
        server.stop()
        let lines = log.lines.filter { $0.contains("RRQ initrd.img") }
        #expect(lines.count == clients.count, "one line per transfer: \(lines)")
        #expect(lines.contains { $0.contains("resent=") }, "\(lines)")
        #expect(lines.contains { $0.contains("windowsize=16") && ($0.contains("rewound=") || $0.contains("resent=")) }, "\(lines)")
    }
}
