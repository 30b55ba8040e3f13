import Foundation
import SystemPackage
import Testing

@testable import Formats
@testable import OverlayKit
import TestSupport

/// `overlay rebase` through the release binary: its exit statuses, the table, `--json`, `--fleet` roles and
/// `--out`. Old base: kernel 3.1, corelib 1.0; new base: kernel 3.2, corelib 2.0 and helper 1.0. Plugins: steady
/// (unchanged), app (changed: helper is now in the base) and clash (blocked: conflicts with corelib >= 2.0).
@Suite(.serialized) struct RebaseCommandTests {
    let work: URL
    let old: URL
    let new: URL
    let cache: URL
    let steady: URL
    let app: URL
    let clash: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("rebase-cli")
        old = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("old"))
        new = try RPMFixture.base(
            [
                BuildTests.basePackages[0], BuildTests.basePackages[2],
                SpecPackage(name: "kernel", version: "3.2", files: ["/boot/vmlinuz-3.2": "newer\n"]),
                SpecPackage(name: "corelib", version: "2.0", files: ["/usr/lib/corelib.so.2": "core2\n"]),
                SpecPackage(name: "helper", files: ["/usr/lib/helper.so": "h\n"]),
            ], at: work.appendingPathComponent("new"))
        cache = work.appendingPathComponent("cache")
        let plugins = work.appendingPathComponent("plugins")
        steady = try PluginFixture.make(
            at: plugins.appendingPathComponent("steady"), name: "steady", packages: ["tool"],
            bundled: [SpecPackage(name: "tool", files: ["/usr/bin/tool": "t\n"])])
        app = try PluginFixture.make(
            at: plugins.appendingPathComponent("app"), name: "app", packages: ["app"],
            bundled: [
                SpecPackage(name: "app", requires: ["helper"], files: ["/usr/bin/app": "a\n"]),
                SpecPackage(name: "helper", version: "0.9", files: ["/usr/lib/helper.so": "old helper\n"]),
            ])
        clash = try PluginFixture.make(
            at: plugins.appendingPathComponent("clash"), name: "clash", packages: ["clash"],
            bundled: [SpecPackage(name: "clash", conflicts: ["corelib >= 2.0"], files: ["/usr/bin/clash": "c\n"])])
    }

    func rebase(_ arguments: [String]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(["rebase", "--from", old.path, "--to", new.path] + arguments + ["--cachedir", cache.path])
    }

    func json(_ output: OverlayCommand.Output) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
    }

    func identity(_ root: URL) throws -> String {
        BaseIdentity.of(packages: try BaseImage(root: FilePath(root.path)).installedPackages())
    }

    @Test func pluginsThatCanAllMoveExitZeroAndTheTableSaysWhatChanged() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let result = try rebase(["--plugin", steady.path, "--plugin", app.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("  upgraded  kernel-3.1-1.noarch → kernel-3.2-1.noarch"))
        #expect(lines.contains("  added  helper-1.0-1.noarch"))
        #expect(lines.contains("plugin steady 1.0: unchanged, adds 1 package"))
        #expect(lines.contains("plugin app 1.0: changed, adds 1 package (2 on the old base)"))
        #expect(lines.contains("  - helper-0.9-1.noarch: now in the base (helper-1.0-1.noarch), no longer in the overlay"))
        #expect(lines.contains("2 of 2 plugins can move to the new base"))
    }

    @Test func aBlockedPluginExitsThreeAndTheJSONGivesEveryVerdict() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let result = try rebase(["--plugin", steady.path, "--plugin", app.path, "--plugin", clash.path, "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let report = try json(result)
        #expect(report["canMove"] as? Bool == false)
        #expect((report["from"] as? [String: Any])?["identity"] as? String == (try identity(old)))
        #expect((report["to"] as? [String: Any])?["identity"] as? String == (try identity(new)))
        let plugins = try #require(report["plugins"] as? [[String: Any]])
        #expect(plugins.map { $0["plugin"] as? String } == ["steady", "app", "clash"])
        #expect(plugins.map { $0["verdict"] as? String } == ["unchanged", "changed", "blocked-by-new-base"])
        #expect(plugins.map { $0["canMove"] as? Bool } == [true, true, false])
        let changes = try #require(plugins[1]["changes"] as? [[String: Any]])
        #expect(changes.count == 1)
        #expect(changes.first?["kind"] as? String == "now-in-base")
        #expect(changes.first?["base"] as? String == "helper-1.0-1.noarch")
        let blamed = try #require(plugins[2]["blamedChanges"] as? [[String: Any]])
        #expect(blamed.first?["kind"] as? String == "upgraded" && blamed.first?["to"] as? String == "corelib-2.0-1.noarch")
        #expect(
            plugins[2]["reasons"] as? [String] == [
                "clash-1.0-1.noarch conflicts with corelib >= 2.0, which the base's corelib-2.0-1.noarch (locked) provides; build against an older base image, one with corelib < 2.0, or use a newer clash that does not conflict with it"
            ])
        // The table says the same.
        let text = try rebase(["--plugin", clash.path])
        #expect(text.status == 3)
        #expect(text.stdout.contains("plugin clash 1.0: blocked by the new base (corelib-1.0-1.noarch → corelib-2.0-1.noarch)\n"))
    }

    @Test func badInputExitsOneWithOneLine() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let missing = try OverlayCommand.run(
            ["rebase", "--from", old.path, "--to", work.appendingPathComponent("nowhere").path, "--plugin", steady.path, "--cachedir", cache.path])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("overlay: ") && missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("nowhere"))
        // A repo that cannot be read: the plugin could not be checked, which is not a verdict on the base.
        let broken = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/broken"), name: "broken", packages: ["tool"],
            repoFiles: ["broken.repo": "[broken]\nbaseurl=file://\(work.path)/nowhere\ngpgcheck=0\n"])
        let failed = try rebase(["--plugin", steady.path, "--plugin", broken.path, "--enablerepo", "broken"])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("plugin broken 1.0: could not be checked\n"))
        #expect(failed.stderr.hasPrefix("plugin \"broken\": repo \"broken\": ") && failed.stderr.split(separator: "\n").count == 1)
        let usage = try OverlayCommand.run(["rebase", "--from", old.path, "--to", new.path])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("--plugin"))
    }

    /// A fleet's roles name built overlays: each role can move when all its plugins can; a role whose plugin was not
    /// given, or a fleet serving another base, is bad input.
    @Test func aFleetSaysWhichRolesCanMove() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let fleet = try FleetFixture()
        defer { fleet.remove() }
        let base = BaseManifest(
            identity: try identity(old), file: "base.cpio.zst", size: 11, sha256: String(repeating: "b", count: 64), kernel: "vmlinuz",
            packages: try BaseImage(root: FilePath(old.path)).installedPackages())
        try fleet.write(String(decoding: try JSONEncoder.manifest.encode(base), as: UTF8.self), at: "base.json")
        for name in ["steady", "app", "clash"] { try fleet.addOverlay(name, "1.0", base: base.identity) }
        try fleet.writeFleet(
            FleetFixture.header + """
                [roles.compute]
                plugins = ["steady", "app"]

                [roles.edge]
                plugins = ["clash"]

                """)
        let served = ["--fleet", fleet.fleetFile.string, "--dir", fleet.served.string]
        let result = try rebase(served + ["--plugin", steady.path, "--plugin", app.path, "--plugin", clash.path, "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let roles = try #require(try json(result)["roles"] as? [[String: Any]])
        #expect(roles.map { $0["role"] as? String } == ["compute", "edge"])
        #expect(roles.map { $0["canMove"] as? Bool } == [true, false])
        #expect(roles.map { $0["blockedBy"] as? [String] } == [[], ["clash"]])
        let text = try rebase(served + ["--plugin", steady.path, "--plugin", app.path, "--plugin", clash.path])
        #expect(text.stdout.contains("role compute: can move (steady unchanged, app changed)\nrole edge: cannot move (clash blocked by the new base)\n"))

        let missing = try rebase(served + ["--plugin", steady.path, "--plugin", app.path])
        #expect(missing.status == 1)
        #expect(
            missing.stderr
                == "overlay: \(fleet.fleetFile.string): role \"edge\" uses overlay clash-1.0, but no --plugin is plugin \"clash\"; give its plugin directory with --plugin\n"
        )

        let swapped = try OverlayCommand.run(
            ["rebase", "--from", new.path, "--to", old.path, "--plugin", steady.path, "--plugin", app.path, "--plugin", clash.path, "--cachedir", cache.path]
                + served)
        #expect(swapped.status == 1)
        let newIdentity = try identity(new)
        #expect(swapped.stderr.contains("serves base \(base.identity), but --from \(new.path) is base \(newIdentity); give --from the base the fleet serves"))
    }

    /// `--out` builds every plugin that can move against the new base (unchanged ones too: an overlay records its
    /// base), none that cannot, and never overwrites an overlay published for the old base.
    @Test func outBuildsThePluginsThatCanMoveAgainstTheNewBase() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("v2")
        let result = try rebase(["--plugin", steady.path, "--plugin", app.path, "--plugin", clash.path, "--out", out.path, "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(files == ["app-1.0.cpio.zst", "app-1.0.json", "app-1.0.rpmheaders", "steady-1.0.cpio.zst", "steady-1.0.json", "steady-1.0.rpmheaders"])
        for name in ["app", "steady"] {
            let manifest = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: out.appendingPathComponent("\(name)-1.0.json")))
            #expect(manifest.base == (try identity(new)))
        }
        let app = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: out.appendingPathComponent("app-1.0.json")))
        #expect(app.packages == ["app-1.0-1.noarch"])
        #expect((try json(result)["built"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["steady", "app"])

        // The old base's overlays, built into a directory of their own, are never replaced by a rebase into it.
        let v1 = work.appendingPathComponent("v1")
        let built = try OverlayCommand.run(["build", "--base", old.path, "--plugin", steady.path, "--out", v1.path, "--cachedir", cache.path])
        #expect(built.status == 0, "\(built.stderr)")
        let before = try Data(contentsOf: v1.appendingPathComponent("steady-1.0.cpio.zst"))
        let into = try rebase(["--plugin", steady.path, "--out", v1.path])
        #expect(into.status == 1)
        #expect(into.stderr.contains("is already published with other content"))
        #expect(try Data(contentsOf: v1.appendingPathComponent("steady-1.0.cpio.zst")) == before)
    }
}
