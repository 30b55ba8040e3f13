import Foundation
import Glibc
import Serve
import SystemPackage
import Testing

@Suite(.serialized)
struct HTTPServerTests {
    final class Fixture {
        let scratch: Scratch
        let root: String
        let log: LogFile
        let server: HTTPServer

        init(limits: HTTPLimits = .init(), catalog: (any ServeCatalog)? = FleetCatalog()) throws {
            scratch = try Scratch()
            root = try scratch.rootWithEscapes()
            try scratch.write("root/boot/.keep", "")
            log = try LogFile(scratch)
            server = try HTTPServer(root: FilePath(root), bind: "127.0.0.1:0", catalog: catalog, log: AccessLog(log.fd), limits: limits)
            try server.start()
        }

        deinit { server.stop() }

        func url(_ path: String) -> String { "http://127.0.0.1:\(server.port)\(path)" }

        /// A request written by hand on a new connection; the whole reply until the server closes or goes quiet.
        func raw(_ request: String, timeout: Double = 3) throws -> String {
            let connection = try #require(TCPProbe(port: server.port))
            connection.send(request)
            return connection.readAll(timeout: timeout)
        }
    }

    @Test func getAndHeadWithExactLength() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/images/vmlinuz", count: 9_876_543)
        let out = fixture.scratch.path + "/get.out"
        let get = try run("/usr/bin/curl", ["-sS", "-f", "-o", out, "-w", "%{http_code} %{size_download}", fixture.url("/images/vmlinuz")])
        #expect(get.text == "200 9876543", "\(get.stderr)")
        #expect(try sha256(file: out) == sha256(original))
        let head = try run("/usr/bin/curl", ["-sS", "-I", fixture.url("/images/vmlinuz")])
        #expect(head.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.text.contains("Content-Length: 9876543\r\n"))
        #expect(head.text.contains("Accept-Ranges: bytes\r\n"))
        #expect(fixture.log.line { $0.contains("GET /images/vmlinuz 200 9876543") } != nil)
        #expect(fixture.log.line { $0.contains("HEAD /images/vmlinuz 200 0") } != nil)
    }

    @Test func singleByteRanges() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/initrd.img", count: 100_000)
        let part = fixture.scratch.path + "/part.out"
        let middle = try run("/usr/bin/curl", ["-sS", "-r", "1000-1999", "-o", part, "-D", "-", fixture.url("/initrd.img")])
        #expect(middle.text.hasPrefix("HTTP/1.1 206 Partial Content\r\n"))
        #expect(middle.text.contains("Content-Range: bytes 1000-1999/100000\r\n"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: part)) == original[1000..<2000])
        let suffix = try run("/usr/bin/curl", ["-sS", "-r", "-500", "-o", part, "-D", "-", fixture.url("/initrd.img")])
        #expect(suffix.text.contains("Content-Range: bytes 99500-99999/100000\r\n"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: part)) == original[99500..<100000])
        let open = try run("/usr/bin/curl", ["-sS", "-r", "99990-", "-o", part, "-w", "%{http_code}", fixture.url("/initrd.img")])
        #expect(open.text == "206")
        #expect(try Data(contentsOf: URL(fileURLWithPath: part)) == original[99990..<100000])
        let beyond = try run("/usr/bin/curl", ["-sS", "-r", "200000-300000", "-o", "/dev/null", "-D", "-", fixture.url("/initrd.img")])
        #expect(beyond.text.hasPrefix("HTTP/1.1 416 "))
        #expect(beyond.text.contains("Content-Range: bytes */100000\r\n"))
        // Several ranges are answered with the whole file (allowed by RFC 9110), never a wrong part.
        let multi = try run("/usr/bin/curl", ["-sS", "-r", "0-1,5-6", "-o", part, "-w", "%{http_code}", fixture.url("/initrd.img")])
        #expect(multi.text == "200")
        #expect(try Data(contentsOf: URL(fileURLWithPath: part)) == original)
    }

    @Test func etagsAndIfNoneMatch() throws {
        let digest = String(repeating: "ab", count: 32)
        let fixture = try Fixture(catalog: FleetCatalog(digests: ["overlays/vdsm.cpio.zst": digest]))
        try fixture.scratch.randomFile("root/overlays/vdsm.cpio.zst", count: 4096)
        try fixture.scratch.randomFile("root/kernel", count: 4096)
        let known = try run("/usr/bin/curl", ["-sS", "-I", fixture.url("/overlays/vdsm.cpio.zst")])
        #expect(known.text.contains("ETag: \"\(digest)\"\r\n"))
        let notModified = try run(
            "/usr/bin/curl",
            ["-sS", "-H", "If-None-Match: \"\(digest)\"", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", fixture.url("/overlays/vdsm.cpio.zst")])
        #expect(notModified.text == "304 0")

        let head = try run("/usr/bin/curl", ["-sS", "-I", fixture.url("/kernel")])
        let etagLine = try #require(head.text.split(separator: "\r\n").first { $0.hasPrefix("ETag: \"") })
        let etag = String(etagLine.dropFirst("ETag: ".count))
        #expect(!etag.hasPrefix("W/"))
        let again = try run(
            "/usr/bin/curl", ["-sS", "-H", "If-None-Match: \"other\", \(etag)", "-o", "/dev/null", "-w", "%{http_code}", fixture.url("/kernel")])
        #expect(again.text == "304")
        let stale = try run("/usr/bin/curl", ["-sS", "-H", "If-None-Match: \"stale\"", "-o", "/dev/null", "-w", "%{http_code}", fixture.url("/kernel")])
        #expect(stale.text == "200")
        // A changed file gets a new tag.
        try fixture.scratch.randomFile("root/kernel", count: 4097, seed: 7)
        let changed = try run("/usr/bin/curl", ["-sS", "-H", "If-None-Match: \(etag)", "-o", "/dev/null", "-w", "%{http_code}", fixture.url("/kernel")])
        #expect(changed.text == "200")
    }

    @Test func keepAliveReusesOneConnection() throws {
        let fixture = try Fixture()
        try fixture.scratch.randomFile("root/a", count: 10_000)
        try fixture.scratch.randomFile("root/b", count: 20_000)
        let result = try run(
            "/usr/bin/curl",
            [
                "-sS", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects}\n", fixture.url("/a"), fixture.url("/b"),
                fixture.url("/missing"),
            ])
        #expect(result.text.split(separator: "\n") == ["1", "0", "0"])
        // Pipelined requests on one connection are answered in order.
        let replies = try fixture.raw("GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(replies.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(replies.contains("Content-Length: 20000\r\n"))
    }

    @Test func catalogDocumentsComeFirst() throws {
        let fixture = try Fixture()
        try fixture.scratch.write("root/boot.ipxe", "#!ipxe\necho stale file on disk\n")
        let result = try run("/usr/bin/curl", ["-sS", "-D", "-", fixture.url("/boot.ipxe")])
        #expect(result.text.contains("Content-Type: text/plain; charset=utf-8\r\n"))
        #expect(result.text.hasSuffix("\r\n\r\n#!ipxe\nchain ipxe/${net0/mac:hexhyp}\n"))
        let cfg = try run("/usr/bin/curl", ["-sS", fixture.url("/pxelinux.cfg/01-52-54-00-12-34-56")])
        #expect(cfg.text.contains("mac=52-54-00-12-34-56"))
        let head = try run("/usr/bin/curl", ["-sS", "-I", fixture.url("/boot.ipxe")])
        #expect(head.text.contains("Content-Length: 37\r\n"))
    }

    @Test func pathsNeverLeaveTheRoot() throws {
        let fixture = try Fixture()
        try fixture.scratch.write("root/ok.txt", "inside\n")
        #expect(mkfifo(fixture.root + "/fifo", 0o644) == 0)
        let attempts = [
            "/../root-private/secret", "/%2e%2e/root-private/secret", "/%2E%2E%2Froot-private%2Fsecret", "/boot/..%2f..%2froot-private/secret",
            "/escape", "/up/root-private/secret", "/%2fetc%2fpasswd", "//etc/passwd", "/./../root-private/secret", "/boot/", "/fifo", "/",
        ]
        for path in attempts {
            let result = try run("/usr/bin/curl", ["-sS", "--path-as-is", "-o", "-", "-w", "\n%{http_code}", fixture.url(path)], timeout: 10)
            let code = result.text.split(separator: "\n").last.map(String.init) ?? ""
            #expect(["400", "403", "404"].contains(code), "\(path) answered \(code)")
            #expect(!result.text.contains("secret outside"), "\(path) leaked a file from outside the root")
        }
        let raw = try fixture.raw("GET /%00ok.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(raw.hasPrefix("HTTP/1.1 400 "))
        let encoded = try run("/usr/bin/curl", ["-sS", fixture.url("/%6Fk.txt")])
        #expect(encoded.text == "inside\n")
    }

    @Test func malformedRequestsGet400() throws {
        let fixture = try Fixture()
        try fixture.scratch.write("root/ok.txt", "inside\n")
        let cases = [
            "GET /ok.txt HTTP/1.1\r\n\r\n",  // no Host
            "GET /ok.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
            "GET /ok.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
            "GET /ok.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET /ok.txt HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
            "GET /ok.txt HTTP/1.1\r\nHost: a\r\n folded: value\r\n\r\n",
            "GET /ok.txt HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET  /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /ok.txt\r\n\r\n",
            "GET /ok%zz HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /ok.txt HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "x", count: 20_000))\r\n\r\n",
        ]
        for request in cases {
            let reply = try fixture.raw(request)
            #expect(reply.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(request.prefix(60).debugDescription) got \(reply.prefix(40).debugDescription)")
        }
        #expect(try fixture.raw("GET /ok.txt HTTP/2.0\r\nHost: a\r\n\r\n").hasPrefix("HTTP/1.1 505 "))
        let ok = try fixture.raw("GET /ok.txt HTTP/1.0\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n") && ok.hasSuffix("\r\n\r\ninside\n"))
    }

    @Test func otherMethods() throws {
        let fixture = try Fixture()
        try fixture.scratch.write("root/ok.txt", "inside\n")
        for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
            let result = try run("/usr/bin/curl", ["-sS", "-X", method, "-D", "-", "-o", "/dev/null", fixture.url("/ok.txt")])
            #expect(result.text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), "\(method)")
            #expect(result.text.contains("Allow: GET, HEAD\r\n"))
        }
        let unknown = try fixture.raw("BREW /ok.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(unknown.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        let upload = try run("/usr/bin/curl", ["-sS", "-T", "/etc/hostname", "-o", "/dev/null", "-w", "%{http_code}", fixture.url("/uploaded")])
        #expect(upload.text == "405")
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/uploaded"))
        // A large unread body does not reset the connection before the answer arrives.
        try fixture.scratch.randomFile("upload.bin", count: 2_000_000)
        let big = try run(
            "/usr/bin/curl",
            [
                "-sS", "-H", "Expect:", "--data-binary", "@" + fixture.scratch.path + "/upload.bin", "-o", "/dev/null", "-w", "%{http_code}",
                fixture.url("/ok.txt"),
            ])
        #expect(big.text == "405", "\(big.stderr)")
    }

    /// A client that sends its headers a byte at a time is cut off at the header deadline, and meanwhile
    /// everyone else is served.
    @Test func slowHeadersAreCutOff() throws {
        let fixture = try Fixture(limits: HTTPLimits(headerTimeoutMilliseconds: 800, idleTimeoutMilliseconds: 800))
        try fixture.scratch.write("root/ok.txt", "inside\n")
        let slow = try #require(TCPProbe(port: fixture.server.port))
        let started = Date()
        var cutOff = false
        var servedMeanwhile = false
        for (index, byte) in "GET /ok.txt HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8.enumerated() {
            slow.send(String(UnicodeScalar(byte)))
            if index == 3 {
                let other = try run("/usr/bin/curl", ["-sS", "-m", "2", fixture.url("/ok.txt")])
                servedMeanwhile = other.text == "inside\n"
            }
            if slow.closedByServer(within: 0.1) {
                cutOff = true
                break
            }
        }
        #expect(servedMeanwhile)
        #expect(cutOff)
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(fixture.log.line { $0.contains(" 408 ") } != nil)
        // An idle keep-alive connection is closed after the idle timeout.
        let idle = try #require(TCPProbe(port: fixture.server.port))
        idle.send("GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(idle.read(until: "inside\n").hasSuffix("inside\n"))
        #expect(idle.closedByServer(within: 3))
    }

    @Test func connectionCapAnswers503() throws {
        let fixture = try Fixture(limits: HTTPLimits(maxConnections: 2))
        try fixture.scratch.write("root/ok.txt", "inside\n")
        let first = try #require(TCPProbe(port: fixture.server.port))
        let second = try #require(TCPProbe(port: fixture.server.port))
        first.send("GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        second.send("GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(first.read(until: "inside\n").hasSuffix("inside\n"))
        #expect(second.read(until: "inside\n").hasSuffix("inside\n"))
        let third = try fixture.raw("GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(third.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        withExtendedLifetime((first, second)) {}
    }

    @Test func parallelDownloads() throws {
        let fixture = try Fixture()
        let original = try fixture.scratch.randomFile("root/squashfs.img", count: 24 * 1024 * 1024 + 3)
        let expected = try sha256(original)
        let results = LockedResults()
        let (directory, url) = (fixture.scratch.path, fixture.url("/squashfs.img"))
        inParallel(8) { index in
            let out = directory + "/p\(index).out"
            let status = (try? run("/usr/bin/curl", ["-sS", "-o", out, url]))?.status ?? -1
            results.add(index, status == 0 ? ((try? sha256(file: out)) ?? "") : "failed \(status)")
        }
        for index in 0..<8 { #expect(results.value(index) == expected) }
    }

    @Test func stopEndsServingAndFreesThePort() throws {
        let scratch = try Scratch()
        try scratch.write("root/ok.txt", "inside\n")
        let server = try HTTPServer(root: FilePath(scratch.path + "/root"), bind: "127.0.0.1:0", catalog: nil, log: .disabled)
        try server.start()
        let idle = try #require(TCPProbe(port: server.port))
        idle.send("GET /ok.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(idle.read(until: "inside\n").hasSuffix("inside\n"))
        server.stop()
        #expect(idle.closedByServer(within: 2))
        #expect(TCPProbe(port: server.port) == nil)
    }

    @Test func servesAndLogsAnIPv6Client() throws {
        let scratch = try Scratch()
        try scratch.write("root/ok.txt", "inside\n")
        let log = try LogFile(scratch)
        let server = try HTTPServer(root: FilePath(scratch.path + "/root"), bind: "[::1]:0", catalog: nil, log: AccessLog(log.fd))
        try server.start()
        defer { server.stop() }
        let get = try run("/usr/bin/curl", ["-sS", "-g", "http://[::1]:\(server.port)/ok.txt"])
        #expect(get.text == "inside\n", "\(get.stderr)")
        #expect(log.line { $0.contains("GET /ok.txt 200 7") }?.contains(" [::1]:") == true)
    }
}

/// A catalog whose answers change while the servers run, as a fleet reload does.
final class ReloadingCatalog: ServeCatalog, @unchecked Sendable {
    private let lock = NSLock()
    private var script = "#!ipxe\necho first\n"

    func reload(_ text: String) { lock.withLock { script = text } }

    func generatedDocument(path: String) -> GeneratedDocument? {
        guard path == "boot.ipxe" else { return nil }
        return lock.withLock { GeneratedDocument(body: Array(script.utf8), contentType: "text/plain") }
    }

    func knownDigest(path: String) -> String? { nil }
}

@Suite(.serialized)
struct CatalogReloadTests {
    @Test func bothServersAskTheCatalogOnEveryRequest() throws {
        let scratch = try Scratch()
        try scratch.write("root/.keep", "")
        let catalog = ReloadingCatalog()
        let http = try HTTPServer(root: FilePath(scratch.path + "/root"), bind: "127.0.0.1:0", catalog: catalog, log: .disabled)
        let tftp = try TFTPServer(root: FilePath(scratch.path + "/root"), bind: "127.0.0.1:0", catalog: catalog, log: .disabled)
        try http.start()
        try tftp.start()
        defer {
            http.stop()
            tftp.stop()
        }
        let out = scratch.path + "/boot.out"
        #expect(try run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(http.port)/boot.ipxe"]).text == "#!ipxe\necho first\n")
        catalog.reload("#!ipxe\necho second\n")
        #expect(try run("/usr/bin/curl", ["-sS", "http://127.0.0.1:\(http.port)/boot.ipxe"]).text == "#!ipxe\necho second\n")
        #expect(try run("/usr/bin/curl", ["-sS", "-o", out, "tftp://127.0.0.1:\(tftp.port)/boot.ipxe"]).status == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "#!ipxe\necho second\n")
        catalog.reload("#!ipxe\necho third\n")
        #expect(try run("/usr/bin/curl", ["-sS", "-o", out, "tftp://127.0.0.1:\(tftp.port)/boot.ipxe"]).status == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "#!ipxe\necho third\n")
    }
}
