import Foundation
import SystemPackage
import Testing

import Fleet
import TestSupport

/// The status page at `GET /` of `overlay serve`: what it sends, and what a browser (headless Chromium) renders.
@Suite(.serialized) struct StatusPageTests {
    static let hostileBase = "oVirt <script>alert(1)</script> \"x\" & 'y'"

    /// The fleet of `FleetStatusCommandTests`: A as its role says, B with an older vdsm and a hostile BASE line.
    static func served(_ fixture: FleetFixture) throws -> ServeProcess {
        let serve = try FleetStatusCommandTests.servedFleet(fixture)
        try FleetStatusCommandTests.boot(FleetStatusCommandTests.nodeA, from: serve)
        #expect(try serve.post(FleetStatusCommandTests.report(FleetStatusCommandTests.nodeA, ["cim 1.0", "vdsm 1.2"])).status == 200)
        let hostile = FleetStatusCommandTests.report(FleetStatusCommandTests.nodeB, ["cim 1.0", "vdsm 1.1"])
            .replacingOccurrences(of: "BASE oVirt Node 3.0", with: "BASE \(hostileBase)")
        #expect(try serve.post(hostile).status == 200)
        return serve
    }

    @Test func thePageEscapesWhatNodesSentAndForbidsScripts() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let serve = try Self.served(fixture)
        defer { serve.terminate() }
        let page = try curl(serve.base + "/", "--include")
        let (head, body) = try #require(page.range(of: "\r\n\r\n").map { (String(page[..<$0.lowerBound]), String(page[$0.upperBound...])) })
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"))
        #expect(head.contains("\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"))
        #expect(head.contains("\r\nX-Content-Type-Options: nosniff\r\n"))
        #expect(body.hasPrefix("<!DOCTYPE html>\n"))
        #expect(body.contains("base oVirt &lt;script&gt;alert(1)&lt;/script&gt; &quot;x&quot; &amp; &apos;y&apos;"))
        #expect(!body.lowercased().contains("<script"))
        #expect(!body.contains("src=") && !body.contains("href="))
        #expect(body.contains("<span class=\"kind\">stale overlay</span>: reported vdsm 1.1; the role has vdsm 1.2"))
        #expect(body.contains("<tr class=\"drift\"><td class=\"mac\"><code>\(FleetStatusCommandTests.nodeB)</code>"))
        #expect(body.contains("<tr><td class=\"mac\"><code>\(FleetStatusCommandTests.nodeA)</code>"))
        // HEAD gets the same headers without the page.
        #expect(try curl(serve.base + "/", "--head").contains("Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"))
    }

    /// Headless Chromium renders the page: a screenshot is a PNG, and the rendered text says how node B drifts.
    @Test func chromiumRendersThePageWithTheDrift() throws {
        let chromium = "/usr/bin/chromium"
        try #require(
            FileManager.default.isExecutableFile(atPath: chromium),
            "chromium is not installed: install it with apt-get install chromium (make deps does), the page test needs a browser")
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let serve = try Self.served(fixture)
        defer { serve.terminate() }
        let profile = fixture.root.appendingPathComponent("chromium-profile").path
        // A browser kept off every network but loopback.
        let quiet = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
        ]
        let screenshot = fixture.root.appendingPathComponent("status.png").path
        let shot = try Command.capture(
            URL(fileURLWithPath: chromium), quiet + ["--screenshot=\(screenshot)", "--window-size=1200,900", serve.base + "/"],
            environment: ["HOME": fixture.root.path])
        #expect(shot.status == 0, "\(shot.stderr)")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        // Width and height from the IHDR chunk.
        let size = png.subdata(in: 16..<24).map { UInt32($0) }
        #expect((size[0] << 24 | size[1] << 16 | size[2] << 8 | size[3], size[4] << 24 | size[5] << 16 | size[6] << 8 | size[7]) == (1200, 900))

        let dom = try Command.capture(URL(fileURLWithPath: chromium), quiet + ["--dump-dom", serve.base + "/"], environment: ["HOME": fixture.root.path])
        #expect(dom.status == 0, "\(dom.stderr)")
        #expect(dom.stdout.contains("<span class=\"kind\">stale overlay</span>: reported vdsm 1.1; the role has vdsm 1.2"))
        #expect(dom.stdout.contains("2 of 3 nodes drift: 1 stale overlay, 1 never reported"))
        // The hostile BASE line is text in the rendered document, not an element.
        #expect(dom.stdout.contains("base oVirt &lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!dom.stdout.lowercased().contains("<script"))
        #expect(dom.stdout.contains("<h1>Fleet <code>\(fixture.fleetFile)</code></h1>"))
    }
}
