import Foundation
import SystemPackage
import Testing

import TestSupport

/// The metadata cache through the release binary: a cache fed by repos that change keeps only what runs use.
/// Once a day at most, a run removes the entries no run used for 30 days (an entry's modification time is its last
/// use, written by a hit at most once an hour) and the folders that leaves empty; nothing else in the directory.
@Suite(.serialized) struct CacheTrimTests {
    let work: URL
    let cache: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("cache-trim")
        cache = work.appendingPathComponent("cache")
    }

    func file(_ relative: String) -> URL { cache.appendingPathComponent(relative) }

    /// Seconds since `relative` was last modified.
    func age(_ relative: String) throws -> Double {
        let attributes = try FileManager.default.attributesOfItem(atPath: file(relative).path)
        return Date().timeIntervalSince(try #require(attributes[.modificationDate] as? Date))
    }

    func write(_ relative: String, daysOld days: Double) throws {
        try FileManager.default.createDirectory(at: file(relative).deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("old\n".utf8).write(to: file(relative))
        try backdate(relative, seconds: days * 86_400)
    }

    func backdate(_ relative: String, seconds: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -seconds)], ofItemAtPath: file(relative).path)
    }

    /// Every file under the cache, relative, sorted.
    func contents() -> [String] {
        let walker = FileManager.default.enumerator(atPath: cache.path)
        var files: [String] = []
        while let path = walker?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: file(path).path, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(path) }
        }
        return files.sorted()
    }

    @Test func entriesNoRunUsedFor30DaysGoOnceADay() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        let served = work.appendingPathComponent("served")
        try RPMFixture.repo([SpecPackage(name: "monitor-agent", requires: ["corelib"], files: ["/usr/bin/monitor-agent": "m\n"])], at: served)
        let server = try LocalHTTPServer(directory: served)
        defer { server.stop() }
        let plugin = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/monitor"), name: "monitor", packages: ["monitor-agent"],
            repoFiles: ["monitor.repo": "[monitor]\nname=Monitoring\nbaseurl=http://127.0.0.1:\(server.port)/\nenabled=1\n"])
        let build = [
            "build", "--base", base.path, "--plugin", plugin.path, "--out", work.appendingPathComponent("out").path, "--enablerepo", "monitor",
            "--cachedir", cache.path,
        ]
        let first = try OverlayCommand.run(build)
        #expect(first.status == 0, "\(first.stderr)")
        let used = contents().filter { $0 != "trim.txt" }
        #expect(used.contains("packages/monitor/monitor-agent-1.0-1.noarch.rpm"))
        #expect(used.contains { $0.hasPrefix("solv/") } && used.contains { $0.hasPrefix("plans/") } && used.contains { $0.hasPrefix("metadata/") })

        // A month later: entries of repos and plans no run asks for any more, and the last walk two days ago.
        let stale = [
            "solv/v1-0000000000000000000000000000000000000000000000000000000000000000.solv",
            "plans/1111111111111111111111111111111111111111111111111111111111111111.json",
            "metadata/2222222222222222222222222222222222222222222222222222222222222222/primary.xml.gz",
            "packages/retired/retired-tool-1.0-1.noarch.rpm",
        ]
        for relative in stale { try write(relative, daysOld: 40) }
        try write("notes.txt", daysOld: 400)  // not an entry: never touched
        for relative in used { try backdate(relative, seconds: 7_200) }
        try write("trim.txt", daysOld: 2)

        let second = try OverlayCommand.run(build)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(contents() == (used + ["notes.txt", "trim.txt"]).sorted())
        #expect(!FileManager.default.fileExists(atPath: file("packages/retired").path))
        #expect(!FileManager.default.fileExists(atPath: file("metadata/2222222222222222222222222222222222222222222222222222222222222222").path))
        #expect(try age("trim.txt") < 60)
        // What the run read from the cache is marked used now.
        for relative in used where relative.hasPrefix("packages/") || relative.hasPrefix("plans/") {
            #expect(try age(relative) < 60, "\(relative)")
        }

        // The next walk is a day away: a run now leaves even old entries alone.
        try write(stale[3], daysOld: 40)
        #expect(try OverlayCommand.run(build).status == 0)
        #expect(FileManager.default.fileExists(atPath: file(stale[3]).path))
    }
}
