import Foundation
import Glibc
import Serve
import SystemPackage
import Testing

/// POST to a path the catalog takes: the body framed by Content-Length only, read whole (however it trickles in),
/// handed to the catalog with who sent it; everything else as before (405).
@Suite(.serialized)
struct HTTPPostTests {
    /// Takes POSTs of at most 64 bytes at /inbox and says back what it got; generated documents say the Host asked.
    final class Inbox: ServeCatalog, @unchecked Sendable {
        private let lock = NSLock()
        private var list: [(body: String, client: String, host: String?)] = []

        var received: [(body: String, client: String, host: String?)] { lock.withLock { list } }

        func generatedDocument(path: String) -> GeneratedDocument? { nil }

        func generatedDocument(path: String, for request: ServeRequest) -> GeneratedDocument? {
            guard path == "whoami" else { return nil }
            return GeneratedDocument(
                body: Array("\(request.proto) \(request.host ?? "-")\n".utf8), contentType: "text/plain",
                headers: [("X-Test", "yes"), ("X-Bad\r\nInjected", "no"), ("X-Split", "a\r\nInjected: no")])
        }

        func knownDigest(path: String) -> String? { nil }

        func postLimit(path: String) -> Int? { path == "inbox" ? 64 : nil }

        func post(path: String, body: [UInt8], from request: ServeRequest) -> PostReply {
            let text = String(decoding: body, as: UTF8.self)
            lock.withLock { list.append((text, request.client.host, request.host)) }
            if text == "slow down" { return PostReply(status: 429, body: "wait\n", retryAfterSeconds: 7) }
            return PostReply(status: 200, body: "got \(body.count) bytes\n")
        }
    }

    let inbox = Inbox()
    let fixture: HTTPServerTests.Fixture

    init() throws {
        fixture = try HTTPServerTests.Fixture(limits: HTTPLimits(headerTimeoutMilliseconds: 1000), catalog: inbox)
    }

    @Test func aBodyIsReadWholeAndTheReplyClosesTheConnection() throws {
        let ok = try run("/usr/bin/curl", ["-sS", "-i", "--data-binary", "hello", fixture.url("/inbox")])
        #expect(ok.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ok.text.contains("\r\nConnection: close\r\n"))
        #expect(ok.text.hasSuffix("\r\n\r\ngot 5 bytes\n"))
        let limited = try run("/usr/bin/curl", ["-sS", "-i", "--data-binary", "slow down", fixture.url("/inbox")])
        #expect(limited.text.hasPrefix("HTTP/1.1 429 Too Many Requests\r\n"))
        #expect(limited.text.contains("\r\nRetry-After: 7\r\n"))
        #expect(inbox.received.map(\.body) == ["hello", "slow down"])
        #expect(inbox.received.first?.client == "127.0.0.1")
        #expect(fixture.log.line { $0.contains("POST /inbox 429 5") && $0.hasSuffix(" wait") } != nil)

        // A body that trickles in after the head, in pieces; Expect: 100-continue is answered first.
        let connection = try #require(TCPProbe(port: fixture.server.port))
        connection.send("POST /inbox HTTP/1.1\r\nHost: 10.0.2.2:8080\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        #expect(connection.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        connection.send("01234")
        usleep(200_000)
        connection.send("56789")
        #expect(connection.readAll(timeout: 3).contains("got 10 bytes\n"))
        #expect(inbox.received.last?.body == "0123456789")
        #expect(inbox.received.last?.host == "10.0.2.2:8080")
    }

    @Test func framingAndSizeAreCheckedBeforeTheBodyIsRead() throws {
        let chunked = try fixture.raw("POST /inbox HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        #expect(chunked.hasPrefix("HTTP/1.1 411 Length Required\r\n"))
        let unframed = try fixture.raw("POST /inbox HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(unframed.hasPrefix("HTTP/1.1 411 Length Required\r\n"))
        #expect(unframed.hasSuffix("a Content-Length is required\n"))
        let large = try fixture.raw("POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\nExpect: 100-continue\r\n\r\n")
        #expect(large.hasPrefix("HTTP/1.1 413 Content Too Large\r\n"))
        #expect(!large.contains("100 Continue"))
        #expect(large.hasSuffix("the body is 65 bytes, more than the 64 this path takes\n"))
        // Fewer bytes than promised: 408 once the header timeout runs out.
        let short = try fixture.raw("POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(short.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        // Paths the catalog takes no POST at answer as before.
        let elsewhere = try fixture.raw("POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        #expect(elsewhere.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(elsewhere.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(inbox.received.isEmpty)
    }

    @Test func aDocumentKnowsWhoAskedAndCarriesOnlyCleanHeaderFields() throws {
        let reply = try fixture.raw("GET /whoami HTTP/1.1\r\nHost: 10.0.2.2:8080\r\nConnection: close\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("\r\nX-Test: yes\r\n"))
        #expect(!reply.contains("Injected"))
        #expect(reply.hasSuffix("\r\n\r\nhttp 10.0.2.2:8080\n"))
    }
}
