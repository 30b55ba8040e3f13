import Foundation
import Testing

@Suite(.serialized) struct RPMFixtureTests {
    @Test func buildsRepoAndBase() throws {
        let dir = try RPMFixture.temporaryDirectory("fixture")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pkg = SpecPackage(name: "hello", files: ["/usr/share/hello/greeting": "hi\n"], post: "echo post")
        try RPMFixture.repo([pkg], at: dir.appendingPathComponent("repo"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("repo/repodata/repomd.xml").path))
        let root = try RPMFixture.base([pkg], at: dir.appendingPathComponent("root"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("var/lib/rpm/rpmdb.sqlite").path))
        #expect(try String(contentsOf: root.appendingPathComponent("usr/share/hello/greeting"), encoding: .utf8) == "hi\n")
    }
}
