import Foundation
import Testing
@testable import OverlayKit
import TestSupport

/// Remote repos that stall, as `overlay` meets them: a mirror that accepts the connection and never answers is
/// given up after `--timeout` seconds at next to no CPU and the repo's next baseurl serves; a slow mirror that
/// keeps sending is waited for, however long the whole download takes. Times and CPU are measured by GNU time
/// around the CLI.
@Suite(.serialized) struct RepoMirrorTests {
    let work: URL
    let base: URL
    let cache: URL
    /// The online repo, served by the mirrors of each test.
    let repo: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("mirrors")
        base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        cache = work.appendingPathComponent("cache")
        repo = try RPMFixture.repo(
            [SpecPackage(name: "monitor-agent", requires: ["corelib"], files: ["/usr/bin/monitor-agent": "m\n"])],
            at: work.appendingPathComponent("served"))
    }

    /// A plugin whose online repo "monitor" lists `mirrors` as its baseurls, in that order.
    func plugin(mirrors: [String]) throws -> URL {
        try PluginFixture.make(
            at: work.appendingPathComponent("plugins/monitor-\(UUID().uuidString.prefix(6))"), name: "monitor",
            packages: ["monitor-agent"],
            repoFiles: ["monitor.repo": "[monitor]\nname=Monitoring\nbaseurl=\(mirrors.joined(separator: " "))\nenabled=1\n"])
    }

    struct Measured {
        var output: Command.Output
        /// Wall-clock seconds and CPU seconds (user + system) of the `overlay` process.
        var wall: Double
        var cpu: Double
    }

    /// Runs `overlay` under GNU time, which reports the child's own rusage.
    func measured(_ arguments: [String]) throws -> Measured {
        let report = work.appendingPathComponent("time-\(UUID().uuidString.prefix(6))")
        let output = try Command.capture(
            URL(fileURLWithPath: "/usr/bin/time"),
            ["-f", "%e %U %S", "-o", report.path, OverlayCommand.executable.path] + arguments + ["--cachedir", cache.path])
        // A failed command gets a "Command exited with non-zero status N" line before the figures.
        let last = try String(contentsOf: report, encoding: .utf8).split(separator: "\n").last ?? ""
        let figures = last.split(separator: " ").compactMap { Double($0) }
        try #require(figures.count == 3, "unexpected GNU time report: \(last)")
        return Measured(output: output, wall: figures[0], cpu: figures[1] + figures[2])
    }

    func expectNoFoundationText(_ output: Command.Output) {
        for text in ["NSURLErrorDomain", "Error Domain=", "NSError"] {
            #expect(!output.stdout.contains(text) && !output.stderr.contains(text), "Foundation's words reached the user: \(output.stderr)")
        }
    }

    @Test func aSilentMirrorIsGivenUpAfterTheTimeoutAndTheNextOneServes() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let silent = try SilentMirror()
        defer { silent.stop() }
        let good = try LocalHTTPServer(directory: repo)
        defer { good.stop() }
        let dir = try plugin(mirrors: ["http://127.0.0.1:\(silent.port)/", "http://127.0.0.1:\(good.port)/"])

        let run = try measured(["plan", "--base", base.path, "--plugin", dir.path, "--enablerepo", "monitor", "--timeout", "2"])
        #expect(run.output.status == 0, "\(run.output.stderr)")
        #expect(run.output.stdout.contains("monitor-agent-1.0-1.noarch  monitor"))
        #expect(run.wall >= 2 && run.wall < 6, "plan took \(run.wall) s")
        #expect(run.cpu < 0.5, "plan used \(run.cpu) s of CPU while a mirror kept silent")
        expectNoFoundationText(run.output)
    }

    @Test func onlyASilentMirrorFailsWithOneLineNamingTheURL() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let silent = try SilentMirror()
        defer { silent.stop() }
        let dir = try plugin(mirrors: ["http://127.0.0.1:\(silent.port)/"])

        let run = try measured(["plan", "--base", base.path, "--plugin", dir.path, "--enablerepo", "monitor", "--timeout", "2"])
        #expect(run.output.status == 1)
        #expect(
            run.output.stderr == """
                plugin "monitor": repo "monitor": http://127.0.0.1:\(silent.port)/repodata/repomd.xml did not answer within 2 s; \
                check the mirror or raise --timeout

                """)
        #expect(run.output.stdout.hasSuffix("plugin monitor 1.0: could not be planned\n"))
        #expect(run.wall >= 2 && run.wall < 6, "plan took \(run.wall) s")
        #expect(run.cpu < 0.5, "plan used \(run.cpu) s of CPU while the mirror kept silent")
        expectNoFoundationText(run.output)
    }

    /// The timeout is for silence, not for the whole download: a package that takes twice the timeout to arrive,
    /// in pieces, still arrives.
    @Test func aSlowMirrorThatKeepsSendingIsWaitedFor() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let slow = try SlowMirror(directory: repo, firstByteDelay: 1, dribbledSuffix: ".rpm", pieces: 4, pieceDelay: 1.2)
        defer { slow.stop() }
        let dir = try plugin(mirrors: ["http://127.0.0.1:\(slow.port)/"])
        let out = work.appendingPathComponent("out")

        let run = try measured(["build", "--base", base.path, "--plugin", dir.path, "--enablerepo", "monitor", "--timeout", "2", "--out", out.path])
        #expect(run.output.status == 0, "\(run.output.stderr)")
        let listing = try RPMFixture.run(["sh", "-c", "zstd -dc '\(out.appendingPathComponent("monitor-1.0.cpio.zst").path)' | cpio --quiet -it"])
        #expect(listing.split(separator: "\n").contains("usr/bin/monitor-agent"))
        let package = try #require(slow.answers.first { $0.path.hasSuffix(".rpm") })
        #expect(package.seconds > 4, "the package took \(package.seconds) s, not longer than twice the timeout")
        expectNoFoundationText(run.output)
    }

    /// The metadata came from the first mirror, which then stalls on the package: the package comes from the
    /// repo's next base URL.
    @Test func aPackageTheFirstMirrorWithholdsComesFromTheNext() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let stalling = try SlowMirror(directory: repo, stallingSuffix: ".rpm", stall: 4)
        defer { stalling.stop() }
        let good = try LocalHTTPServer(directory: repo)
        defer { good.stop() }
        let dir = try plugin(mirrors: ["http://127.0.0.1:\(stalling.port)/", "http://127.0.0.1:\(good.port)/"])
        let out = work.appendingPathComponent("out")

        let run = try measured(["build", "--base", base.path, "--plugin", dir.path, "--enablerepo", "monitor", "--timeout", "2", "--out", out.path])
        #expect(run.output.status == 0, "\(run.output.stderr)")
        #expect(stalling.answers.map(\.path).contains("repodata/repomd.xml"))
        #expect(!stalling.answers.contains { $0.path.hasSuffix(".rpm") })
        #expect(run.wall >= 2, "the stalled package download was not waited for: \(run.wall) s")
        let listing = try RPMFixture.run(["sh", "-c", "zstd -dc '\(out.appendingPathComponent("monitor-1.0.cpio.zst").path)' | cpio --quiet -it"])
        #expect(listing.split(separator: "\n").contains("usr/bin/monitor-agent"))
    }

    /// https goes through TLS with the system's trust: a mirror with a certificate nobody signed is refused in
    /// libcurl's words, and the next mirror serves.
    @Test func anHTTPSMirrorWithAnUntrustedCertificateIsRefusedAndTheNextServes() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let tls = try TLSMirror(directory: repo, work: work)
        defer { tls.stop() }
        let good = try LocalHTTPServer(directory: repo)
        defer { good.stop() }
        let url = "https://127.0.0.1:\(tls.port)/repodata/repomd.xml"

        let alone = try measured([
            "plan", "--base", base.path, "--plugin", try plugin(mirrors: ["https://127.0.0.1:\(tls.port)/"]).path,
            "--enablerepo", "monitor", "--timeout", "5",
        ])
        #expect(alone.output.status == 1)
        #expect(
            alone.output.stderr.hasPrefix("plugin \"monitor\": repo \"monitor\": cannot download \(url): SSL certificate problem"),
            "\(alone.output.stderr)")
        expectNoFoundationText(alone.output)

        let withFallback = try measured([
            "plan", "--base", base.path, "--plugin",
            try plugin(mirrors: ["https://127.0.0.1:\(tls.port)/", "http://127.0.0.1:\(good.port)/"]).path,
            "--enablerepo", "monitor", "--timeout", "5",
        ])
        #expect(withFallback.output.status == 0, "\(withFallback.output.stderr)")
        #expect(withFallback.output.stdout.contains("monitor-agent-1.0-1.noarch  monitor"))
    }
}

/// `openssl s_server -WWW` on 127.0.0.1 serving a directory over TLS with a fresh self-signed certificate.
final class TLSMirror {
    let port: Int
    private let process = Process()

    init(directory: URL, work: URL) throws {
        let key = work.appendingPathComponent("tls.key").path
        let certificate = work.appendingPathComponent("tls.crt").path
        try RPMFixture.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
            "-days", "1", "-subj", "/CN=127.0.0.1",
        ])
        port = try LocalHTTPServer.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate, "-key", key, "-WWW", "-quiet"]
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if (try? RPMFixture.run(["curl", "-skf", "-o", "/dev/null", "https://127.0.0.1:\(port)/repodata/repomd.xml"])) != nil { return }
            usleep(50_000)
        }
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
