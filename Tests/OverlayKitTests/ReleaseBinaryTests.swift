import Foundation
import Testing
import TestSupport

/// What once crashed the release binary while every debug test passed: one run that fetches several repo
/// indexes (two plugins in one `build`, a bundled `rpms/` beside an enabled `.repo`, BaseOS + AppStream in one
/// `plan`). Run against `OverlayCommand.executable`, which `make test` points at `.build/release/overlay`.
@Suite(.serialized) struct ReleaseBinaryTests {
    /// The CentOS Stream 9 metadata: `CS9_REPOS`, else `shared/data/cs9-repos` beside the checkout (CI lays a
    /// copy there too), as the benches find it.
    static let cs9Repos: URL = {
        if let path = ProcessInfo.processInfo.environment["CS9_REPOS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/cs9-repos")
    }()

    let work: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("release")
    }

    func plannedNames(_ json: String) throws -> [String: [String]] {
        struct Report: Decodable {
            struct Entry: Decodable {
                struct Package: Decodable { var name: String }
                var plugin: String
                var ok: Bool
                var packages: [Package]
            }
            var plugins: [Entry]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(json.utf8))
        return Dictionary(uniqueKeysWithValues: report.plugins.map { ($0.plugin, $0.packages.map(\.name).sorted()) })
    }

    @Test func twoPluginsWithThreeReposBuildInOneRun() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        let vdsm = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/vdsm"), name: "vdsm", packages: ["vdsm"],
            bundled: BuildTests.vdsm)
        // A bundled repo and an enabled file:// repo in one plugin: its agent comes from the bundle, the
        // library it needs from the online repo.
        let extra = try RPMFixture.repo(
            [SpecPackage(name: "agent-lib", files: ["/usr/lib/agent/lib.sh": "lib\n"])],
            at: work.appendingPathComponent("extra-repo"))
        let agent = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/agent"), name: "agent", packages: ["agent"],
            bundled: [SpecPackage(name: "agent", requires: ["agent-lib"], files: ["/usr/bin/agent": "agent\n"])],
            repoFiles: ["extra.repo": "[extra]\nname=Extra\nbaseurl=file://\(extra.path)\ngpgcheck=0\n"])
        let out = work.appendingPathComponent("out")

        let result = try OverlayCommand.run([
            "build", "--base", base.path, "--plugin", vdsm.path, "--plugin", agent.path, "--enablerepo", "extra",
            "--out", out.path, "--cachedir", work.appendingPathComponent("cache").path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == ["agent-1.0.cpio.zst", "agent-1.0.json", "agent-1.0.rpmheaders", "vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"])
        #expect(result.stdout.contains("vdsm-1.0.cpio.zst"))
        #expect(result.stdout.contains("agent-1.0.cpio.zst"))

        // Planned again, warm: the repo indexes are read back from the cache this time.
        let again = try OverlayCommand.run([
            "plan", "--json", "--base", base.path, "--plugin", vdsm.path, "--plugin", agent.path, "--enablerepo", "extra",
            "--cachedir", work.appendingPathComponent("cache").path,
        ])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try plannedNames(again.stdout) == ["vdsm": ["vdsm", "vdsm-lib"], "agent": ["agent", "agent-lib"]])
    }

    @Test func plansTwoPluginsAgainstCentOSStream9InOneRun() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let repos = Self.cs9Repos
        try #require(
            FileManager.default.fileExists(atPath: repos.appendingPathComponent("appstream/repodata/repomd.xml").path),
            "the CentOS Stream 9 metadata is missing at \(repos.path)")
        let base = try RPMFixture.base(
            [SpecPackage(name: "marker", files: ["/etc/marker": "base\n"])],
            at: work.appendingPathComponent("base"))
        let repoFile = """
            [cs9-baseos]
            name=CentOS Stream 9 BaseOS
            baseurl=file://\(repos.path)/baseos
            gpgcheck=0

            [cs9-appstream]
            name=CentOS Stream 9 AppStream
            baseurl=file://\(repos.path)/appstream
            gpgcheck=0

            """
        let podman = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/podman"), name: "podman", packages: ["podman"],
            repoFiles: ["cs9.repo": repoFile])
        let tmux = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/tmux"), name: "tmux", packages: ["tmux"],
            repoFiles: ["cs9.repo": repoFile])
        let result = try OverlayCommand.run([
            "plan", "--json", "--base", base.path, "--plugin", podman.path, "--plugin", tmux.path, "--enablerepo", "*",
            "--arch", "x86_64", "--no-cache",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let planned = try plannedNames(result.stdout)
        let podmanSet = try #require(planned["podman"])
        // dnf 4.14 resolves the same 99 packages for podman on this metadata (bench/plan-scale compares them).
        #expect(podmanSet.count == 99)
        #expect(podmanSet.contains("podman") && podmanSet.contains("glibc") && podmanSet.contains("containers-common"))
        let tmuxSet = try #require(planned["tmux"])
        #expect(tmuxSet.contains("tmux") && tmuxSet.contains("ncurses-libs") && tmuxSet.contains("libevent"))
    }
}
