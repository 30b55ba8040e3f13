import Foundation
import SystemPackage
import Testing

@testable import OverlayKit
import TestSupport

/// A plugin for `overlay why` over BaseFixture's base (kernel 3.1, ovirt-node-release providing ovirt-node = 3.0,
/// corelib 1.0). cim asks for cim-agent and corelib; cim-agent requires libnodeinfo >= 1.1 and corelib; libnodeinfo
/// 1.1 requires nodeinfo-data and ovirt-node >= 3.0. Its repo also has libnodeinfo 1.0 and extra-tool, which
/// nothing needs. newkernel needs kernel >= 3.2 and cannot be solved.
enum WhyFixture {
    static let cim: [SpecPackage] = [
        SpecPackage(name: "cim-agent", requires: ["libnodeinfo >= 1.1", "corelib >= 1.0"], files: ["/usr/bin/cim-agent": "a\n"]),
        SpecPackage(
            name: "libnodeinfo", version: "1.1", requires: ["nodeinfo-data", "ovirt-node >= 3.0"], provides: ["nodeinfo(api) = 2"],
            files: ["/usr/lib/libnodeinfo.so.1.1": "1.1\n"]),
        SpecPackage(name: "libnodeinfo", version: "1.0", requires: ["nodeinfo-data"], files: ["/usr/lib/libnodeinfo.so.1.0": "1.0\n"]),
        SpecPackage(name: "nodeinfo-data", files: ["/usr/share/nodeinfo/ids": "ids\n"]),
        SpecPackage(name: "extra-tool", version: "2.0", files: ["/usr/bin/extra-tool": "x\n"]),
    ]

    static func plugins(at directory: URL) throws -> (cim: URL, newkernel: URL) {
        let cim = try PluginFixture.make(
            at: directory.appendingPathComponent("cim"), name: "cim", packages: ["cim-agent", "corelib"], bundled: cim)
        let newkernel = try PluginFixture.make(
            at: directory.appendingPathComponent("newkernel"), name: "newkernel", packages: ["kmod-fast"],
            bundled: [
                SpecPackage(name: "kmod-fast", requires: ["kernel >= 3.2"], files: ["/usr/lib/kmod-fast": "k\n"]),
                SpecPackage(name: "kernel", version: "3.2", files: ["/boot/vmlinuz-3.2": "newer\n"]),
            ])
        return (cim, newkernel)
    }
}

/// `Planner.explain` against the plan of the same plugin: the same solve, read back from libsolv's decisions.
@Suite(.serialized) struct PackageExplanationTests {
    let work: URL
    let planner: Planner
    let cim: Plugin

    init() throws {
        work = try RPMFixture.temporaryDirectory("explain")
        let base = try BaseFixture.make(at: work.appendingPathComponent("base"))
        planner = try Planner(base: base, options: PlanOptions(cache: nil, arch: "x86_64"))
        cim = try Plugin(directory: FilePath(try WhyFixture.plugins(at: work.appendingPathComponent("plugins")).cim.path), arch: "x86_64")
    }

    @Test func everyPackageThePlanAddsHasAChainFromARequestAndNothingElseHasOne() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plan = try planner.plan(cim)
        #expect(plan.packages.map(\.nevra) == ["cim-agent-1.0-1.noarch", "libnodeinfo-1.1-1.noarch", "nodeinfo-data-1.0-1.noarch"])
        for package in plan.packages {
            let explanation = try planner.explain(package: package.nevra, in: cim)
            #expect(explanation.answer == .plugin && explanation.nevra == package.nevra)
            // Request first, each link required by the one before it, the package last.
            #expect(explanation.chain.first?.reason == .request && explanation.chain.first?.by == nil)
            #expect(explanation.chain.last?.package == package.nevra)
            for (link, next) in zip(explanation.chain, explanation.chain.dropFirst()) {
                #expect(next.reason == .requires && next.by == link.package, "\(explanation.chain)")
            }
        }
        let chain = try planner.explain(package: "nodeinfo-data", in: cim).chain
        #expect(
            chain == [
                .init(package: "cim-agent-1.0-1.noarch", reason: .request, dependency: "cim-agent", by: nil),
                .init(package: "libnodeinfo-1.1-1.noarch", reason: .requires, dependency: "libnodeinfo >= 1.1", by: "cim-agent-1.0-1.noarch"),
                .init(package: "nodeinfo-data-1.0-1.noarch", reason: .requires, dependency: "nodeinfo-data", by: "libnodeinfo-1.1-1.noarch"),
            ])
        // A capability names the package that provides it.
        #expect(try planner.explain(package: "nodeinfo(api)", in: cim).nevra == "libnodeinfo-1.1-1.noarch")
        let extra = try planner.explain(package: "extra-tool", in: cim)
        #expect(extra.answer == .none && extra.chain.isEmpty)
        #expect(extra.available == [.init(nevra: "extra-tool-2.0-1.noarch", repo: "cim-bundled")])
    }

    @Test func aBasePackageIsNamedWithWhatThePluginNeedsOfIt() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let release = try planner.explain(package: "ovirt-node", in: cim)
        #expect(release.answer == .base && release.nevra == "ovirt-node-release-3.0-1.noarch")
        #expect(release.chain.map(\.package) == ["cim-agent-1.0-1.noarch", "libnodeinfo-1.1-1.noarch", "ovirt-node-release-3.0-1.noarch"])
        #expect(release.chain.last?.dependency == "ovirt-node >= 3.0")
        let kernel = try planner.explain(package: "kernel", in: cim)
        #expect(kernel.answer == .base && kernel.chain.isEmpty && kernel.requiredBy.isEmpty)
    }
}

/// `overlay why` through the release binary.
@Suite(.serialized) struct WhyCommandTests {
    let work: URL
    let base: URL
    let cache: URL
    let cim: URL
    let newkernel: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("why-cli")
        base = try RPMFixture.base(BaseFixture.packages, at: work.appendingPathComponent("base"))
        cache = work.appendingPathComponent("cache")
        (cim, newkernel) = try WhyFixture.plugins(at: work.appendingPathComponent("plugins"))
    }

    func why(_ package: String, plugin: URL? = nil, _ arguments: [String] = []) throws -> OverlayCommand.Output {
        try OverlayCommand.run(["why", package, "--base", base.path, "--plugin", (plugin ?? cim).path, "--cachedir", cache.path] + arguments)
    }

    @Test func aChainOfRequiresIsSaidOneStepALine() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let data = try why("nodeinfo-data")
        #expect(data.status == 0, "\(data.stderr)")
        #expect(
            data.stdout == """
                nodeinfo-data-1.0-1.noarch is installed by plugin "cim" because:
                  cim-agent-1.0-1.noarch (requested by the plugin's package list) requires libnodeinfo >= 1.1
                  libnodeinfo-1.1-1.noarch requires nodeinfo-data

                """)
        let agent = try why("cim-agent-1.0-1.noarch")
        #expect(agent.status == 0, "\(agent.stderr)")
        #expect(
            agent.stdout == """
                cim-agent-1.0-1.noarch is installed by plugin "cim" because:
                  cim-agent-1.0-1.noarch is requested by the plugin's package list

                """)
    }

    @Test func aPackageOfTheBaseIsNamedWithThePluginsPackagesThatRequireIt() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let release = try why("ovirt-node-release")
        #expect(release.status == 0, "\(release.stderr)")
        #expect(
            release.stdout == """
                ovirt-node-release is in the base image (ovirt-node-release-3.0-1.noarch, locked); the plugin does not add it.
                plugin "cim" needs it:
                  cim-agent-1.0-1.noarch (requested by the plugin's package list) requires libnodeinfo >= 1.1
                  libnodeinfo-1.1-1.noarch requires ovirt-node >= 3.0

                """)
        let corelib = try why("corelib")
        #expect(
            corelib.stdout == """
                corelib is in the base image (corelib-1.0-1.noarch, locked); the plugin does not add it.
                plugin "cim" needs it:
                  corelib-1.0-1.noarch is requested by the plugin's package list
                  also required by cim-agent-1.0-1.noarch (corelib >= 1.0)

                """)
        let kernel = try why("kernel")
        #expect(kernel.status == 0, "\(kernel.stderr)")
        #expect(
            kernel.stdout == """
                kernel is in the base image (kernel-3.1-1.noarch, locked); the plugin does not add it.
                  nothing the plugin installs requires it

                """)
    }

    @Test func aPackageNothingNeedsIsSaidToBeNoneWithWhatTheReposHave() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let missing = try why("nosuch")
        #expect(missing.status == 0, "\(missing.stderr)")
        #expect(
            missing.stdout
                == "nosuch is not part of plugin \"cim\": neither requested nor required by anything the plugin installs, and not in the base image.\n")
        let extra = try why("extra-tool")
        #expect(extra.status == 0, "\(extra.stderr)")
        #expect(
            extra.stdout == """
                extra-tool is not part of plugin "cim": neither requested nor required by anything the plugin installs, and not in the base image.
                  extra-tool-2.0-1.noarch is available in repo "cim-bundled" but was not chosen

                """)
        let older = try why("libnodeinfo-1.0-1.noarch")
        #expect(
            older.stdout == """
                libnodeinfo-1.0-1.noarch is not part of plugin "cim": neither requested nor required by anything the plugin installs, and not in the base image.
                  libnodeinfo-1.0-1.noarch is available in repo "cim-bundled" but was not chosen
                  libnodeinfo-1.1-1.noarch is installed instead

                """)
    }

    @Test func aPluginThatCannotBeSolvedGivesPlansErrorAndExitStatus() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plan = try OverlayCommand.run(["plan", "--base", base.path, "--plugin", newkernel.path, "--cachedir", cache.path])
        #expect(plan.status == 3)
        let result = try why("kmod-fast", plugin: newkernel)
        #expect(result.status == 3)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "plugin \"newkernel\": kmod-fast-1.0-1.noarch needs kernel >= 3.2, the base has kernel-3.1-1.noarch (locked); build against a newer base image\n"
        )
        #expect(result.stderr == plan.stderr)
    }

    @Test func badInputGivesPlansOneLineErrors() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let nowhere = work.appendingPathComponent("no-such-plugin").path
        let plan = try OverlayCommand.run(["plan", "--base", base.path, "--plugin", nowhere, "--cachedir", cache.path])
        let result = try OverlayCommand.run(["why", "cim-agent", "--base", base.path, "--plugin", nowhere, "--cachedir", cache.path])
        #expect(result.status == 1 && plan.status == 1)
        #expect(result.stderr == plan.stderr && result.stderr.hasPrefix("overlay: ") && result.stderr.split(separator: "\n").count == 1)

        let empty = work.appendingPathComponent("empty-base")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let planEmpty = try OverlayCommand.run(["plan", "--base", empty.path, "--plugin", cim.path, "--cachedir", cache.path])
        let whyEmpty = try OverlayCommand.run(["why", "cim-agent", "--base", empty.path, "--plugin", cim.path, "--cachedir", cache.path])
        #expect(whyEmpty.status == 1 && planEmpty.status == 1)
        #expect(whyEmpty.stderr == planEmpty.stderr && whyEmpty.stderr.hasPrefix("overlay: ") && whyEmpty.stderr.split(separator: "\n").count == 1)
    }

    @Test func jsonHasTheAnswerAndTheChain() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let result = try why("nodeinfo-data", ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["package"] as? String == "nodeinfo-data")
        #expect(object["plugin"] as? String == "cim")
        #expect(object["answer"] as? String == "plugin")
        #expect(object["nevra"] as? String == "nodeinfo-data-1.0-1.noarch")
        let chain = try #require(object["chain"] as? [[String: Any]])
        #expect(chain.map { $0["package"] as? String } == ["cim-agent-1.0-1.noarch", "libnodeinfo-1.1-1.noarch", "nodeinfo-data-1.0-1.noarch"])
        #expect(chain.map { $0["reason"] as? String } == ["request", "requires", "requires"])
        #expect(chain.map { $0["dependency"] as? String } == ["cim-agent", "libnodeinfo >= 1.1", "nodeinfo-data"])
        #expect(chain.map { $0["by"] as? String } == [nil, "cim-agent-1.0-1.noarch", "libnodeinfo-1.1-1.noarch"])
        #expect(chain.first?.keys.contains("by") == false)

        let none = try #require(try JSONSerialization.jsonObject(with: Data(try why("extra-tool", ["--json"]).stdout.utf8)) as? [String: Any])
        #expect(none["answer"] as? String == "none" && none["nevra"] == nil)
        #expect((none["available"] as? [[String: Any]])?.first?["repo"] as? String == "cim-bundled")
    }
}
