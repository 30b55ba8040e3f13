import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

@Suite(.serialized) struct PlannerTests {
    let work: URL
    let base: BaseImage
    let options: PlanOptions

    init() throws {
        work = try RPMFixture.temporaryDirectory("planner")
        base = try BaseFixture.make(at: work.appendingPathComponent("base"))
        options = PlanOptions(enabledRepos: [], cache: MetadataCache(directory: FilePath(work.appendingPathComponent("cache").path)), arch: "x86_64")
    }

    func plugin(_ name: String, packages: [String], bundled: [SpecPackage], requires: [String] = [], repoFiles: [String: String] = [:]) throws -> Plugin {
        let dir = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/\(name)"), name: name, packages: packages, bundled: bundled,
            requires: requires, repoFiles: repoFiles)
        return try Plugin(directory: FilePath(dir.path), arch: "x86_64")
    }

    func reasons(_ body: () throws -> Void) -> (PlanError.Kind, [String])? {
        do {
            try body()
            return nil
        } catch let error as PlanError {
            return (error.kind, error.reasons)
        } catch {
            return (.failed, ["\(error)"])
        }
    }

    @Test func readsTheBaseAndItsIdentity() throws {
        let planner = try Planner(base: base, options: options)
        #expect(planner.basePackages == ["corelib-1.0-1.noarch", "kernel-3.1-1.noarch", "ovirt-node-release-3.0-1.noarch"])
        #expect(planner.baseIdentity.hasPrefix("sha256:"))
        #expect(planner.baseIdentity == BaseIdentity.of(packages: planner.basePackages.reversed()))
    }

    @Test func solvesADependencyChainAgainstTheLockedBase() throws {
        let vdsm = try plugin(
            "vdsm", packages: ["vdsm"],
            bundled: [
                SpecPackage(name: "vdsm", requires: ["vdsm-common"], files: ["/usr/bin/vdsm": "v\n"]),
                SpecPackage(name: "vdsm-common", requires: ["vdsm-lib"], files: ["/usr/share/vdsm/common": "c\n"]),
                SpecPackage(name: "vdsm-lib", requires: ["corelib >= 1.0"], files: ["/usr/lib/vdsm.so": "l\n"]),
                SpecPackage(name: "unrelated", files: ["/usr/bin/unrelated": "u\n"]),
            ], requires: ["ovirt-node >= 3.0"])
        let plan = try Planner(base: base, options: options).plan(vdsm)
        #expect(plan.packages.map(\.nevra) == ["vdsm-1.0-1.noarch", "vdsm-common-1.0-1.noarch", "vdsm-lib-1.0-1.noarch"])
        #expect(plan.packages.allSatisfy { $0.repo == "vdsm-bundled" && $0.url.hasPrefix("file://") && $0.checksum?.hasPrefix("sha256:") == true })
        #expect(FileManager.default.fileExists(atPath: String(plan.packages[0].url.dropFirst(7))))
    }

    @Test func aPluginNeedingANewerCorePackageSaysSoAndNamesTheVersions() throws {
        let newkernel = try plugin(
            "newkernel", packages: ["kmod-fast"],
            bundled: [
                SpecPackage(name: "kmod-fast", requires: ["kernel >= 3.2"], files: ["/usr/lib/kmod-fast": "k\n"]),
                SpecPackage(name: "kernel", version: "3.2", files: ["/boot/vmlinuz-3.2": "newer\n"]),
            ])
        let result = reasons { _ = try Planner(base: base, options: options).plan(newkernel) }
        #expect(result?.0 == .unsatisfiable)
        #expect(result?.1 == ["kmod-fast-1.0-1.noarch needs kernel >= 3.2, the base has kernel-3.1-1.noarch (locked); build against a newer base image"])
    }

    @Test func aChainEndingAtALockedPackageIsExplainedDownToIt() throws {
        let app = try plugin(
            "app", packages: ["app"],
            bundled: [
                SpecPackage(name: "app", requires: ["app-mid"], files: ["/usr/bin/app": "a\n"]),
                SpecPackage(name: "app-mid", requires: ["corelib >= 2.0"], files: ["/usr/lib/app-mid": "m\n"]),
                SpecPackage(name: "corelib", version: "2.0", files: ["/usr/lib/corelib.so.2": "core2\n"]),
            ])
        let result = reasons { _ = try Planner(base: base, options: options).plan(app) }
        #expect(result?.0 == .unsatisfiable)
        #expect(
            result?.1.first
                == "app-mid-1.0-1.noarch (pulled in by app-1.0-1.noarch) needs corelib >= 2.0, the base has corelib-1.0-1.noarch (locked); build against a newer base image"
        )
    }

    @Test func aConflictWithALockedPackageIsExplained() throws {
        let clash = try plugin(
            "clash", packages: ["clash"],
            bundled: [
                SpecPackage(name: "clash", conflicts: ["corelib"], files: ["/usr/bin/clash": "c\n"])
            ])
        let result = reasons { _ = try Planner(base: base, options: options).plan(clash) }
        #expect(result?.0 == .unsatisfiable)
        #expect(
            result?.1 == [
                "clash-1.0-1.noarch conflicts with corelib, which the base's corelib-1.0-1.noarch (locked) provides; build against a base image without it"
            ])
    }

    /// A versioned conflict says which base would work: `< 3.2` and `<= 3.1` a newer one, `> 3.0` and `>= 3.1` an
    /// older one (or a newer plugin package), `= 3.1` another kernel.
    @Test(arguments: [
        ("kernel < 3.2", "build against a newer base image, one with kernel >= 3.2"),
        ("kernel <= 3.1", "build against a newer base image, one with kernel > 3.1"),
        ("kernel > 3.0", "build against an older base image, one with kernel <= 3.0, or use a newer kmod-old that does not conflict with it"),
        ("kernel >= 3.1", "build against an older base image, one with kernel < 3.1, or use a newer kmod-old that does not conflict with it"),
        ("kernel = 3.1-1", "build against a base image with another kernel than 3.1-1, or use a newer kmod-old that does not conflict with it"),
    ])
    func aVersionedConflictWithALockedPackageNamesTheBaseThatWouldWork(conflict: String, fix: String) throws {
        let kmod = try plugin(
            "kmod-\(UUID().uuidString.prefix(6))", packages: ["kmod-old"],
            bundled: [SpecPackage(name: "kmod-old", conflicts: [conflict], files: ["/usr/lib/kmod-old": "k\n"])])
        let result = reasons { _ = try Planner(base: base, options: options).plan(kmod) }
        #expect(result?.0 == .unsatisfiable)
        #expect(result?.1 == ["kmod-old-1.0-1.noarch conflicts with \(conflict), which the base's kernel-3.1-1.noarch (locked) provides; \(fix)"])
    }

    /// The other way round: a locked base package conflicts with a version of what the plugin brings.
    @Test func aBasePackagesVersionedConflictSaysWhichVersionThePluginNeeds() throws {
        let guarded = try RPMFixture.temporaryDirectory("guarded-base")
        defer { try? FileManager.default.removeItem(at: guarded) }
        _ = try RPMFixture.base(
            BaseFixture.packages + [SpecPackage(name: "guard", conflicts: ["tool < 2.0"], files: ["/etc/guard": "g\n"])], at: guarded)
        let planner = try Planner(base: BaseImage(root: FilePath(guarded.path)), options: options)
        let old = try plugin("oldtool", packages: ["tool"], bundled: [SpecPackage(name: "tool", files: ["/usr/bin/tool": "t\n"])])
        let result = reasons { _ = try planner.plan(old) }
        #expect(result?.0 == .unsatisfiable)
        #expect(
            result?.1 == [
                "the base's guard-1.0-1.noarch (locked) conflicts with tool < 2.0, which tool-1.0-1.noarch provides; give the plugin tool >= 2.0, or build against an older base image"
            ])
    }

    @Test func obsoletingALockedPackageIsRefused() throws {
        let replacer = try plugin(
            "replacer", packages: ["newcore"],
            bundled: [
                SpecPackage(name: "newcore", obsoletes: ["corelib < 2.0"], files: ["/usr/lib/newcore": "n\n"])
            ])
        let result = reasons { _ = try Planner(base: base, options: options).plan(replacer) }
        #expect(result?.0 == .unsatisfiable)
        #expect(
            result?.1 == [
                "newcore-1.0-1.noarch obsoletes the base's corelib-1.0-1.noarch (locked), which overlays never replace; build against a newer base image"
            ])
    }

    @Test func askingForANewerVersionOfABasePackageIsRefused() throws {
        let upgrade = try plugin(
            "upgrade", packages: ["corelib >= 2.0"],
            bundled: [
                SpecPackage(name: "corelib", version: "2.0", files: ["/usr/lib/corelib.so.2": "core2\n"])
            ])
        let result = reasons { _ = try Planner(base: base, options: options).plan(upgrade) }
        #expect(result?.0 == .unsatisfiable)
        #expect(result?.1 == ["corelib-2.0-1.noarch would replace the base's corelib-1.0-1.noarch (locked); build against a newer base image"])
    }

    @Test func anUnmetBaseRequirementNamesTheCapability() throws {
        let needy = try plugin(
            "needy", packages: ["tool"], bundled: [SpecPackage(name: "tool", files: ["/usr/bin/tool": "t\n"])],
            requires: ["ovirt-node >= 4.0", "gpu-driver"])
        let result = reasons { _ = try Planner(base: base, options: options).plan(needy) }
        #expect(result?.0 == .unsatisfiable)
        #expect(
            result?.1 == [
                "requires ovirt-node >= 4.0, but the base has ovirt-node-release-3.0-1.noarch (locked); build against a newer base image",
                "requires gpu-driver, but the base has no package providing gpu-driver; build against a base image that has it",
            ])
    }

    @Test func aPackageOnlyInADisabledRepoNamesTheRepoAndTheFlag() throws {
        let extra = work.appendingPathComponent("extra-repo")
        try RPMFixture.repo([SpecPackage(name: "monitor-agent", files: ["/usr/bin/monitor-agent": "m\n"])], at: extra)
        let repoText = "[monitor]\nname=Monitoring\nbaseurl=file://\(extra.path)\nenabled=1\ngpgcheck=0\n"
        let monitor = try plugin("monitor", packages: ["monitor-agent"], bundled: [], repoFiles: ["monitor.repo": repoText])
        let result = reasons { _ = try Planner(base: base, options: options).plan(monitor) }
        #expect(result?.0 == .unsatisfiable)
        #expect(
            result?.1 == [
                "no package \"monitor-agent\" in the base (the plugin has no bundled rpms/ and no enabled repo); it is in repo \"monitor\", which is disabled: pass --enablerepo monitor to use it"
            ])

        var enabled = options
        enabled.enabledRepos = ["monitor"]
        let plan = try Planner(base: base, options: enabled).plan(monitor)
        #expect(plan.packages.map(\.nevra) == ["monitor-agent-1.0-1.noarch"])
        #expect(plan.packages.first?.repo == "monitor")
    }

    @Test func aRepoIsReadFromTheFirstOfItsBaseURLsThatAnswers() throws {
        let mirror = work.appendingPathComponent("mirror")
        try RPMFixture.repo([SpecPackage(name: "mirrored", files: ["/usr/bin/mirrored": "m\n"])], at: mirror)
        let repoText = "[mirrors]\nbaseurl=file://\(work.path)/gone\n  file://\(mirror.path)\n"
        let plugin = try plugin("mirrored", packages: ["mirrored"], bundled: [], repoFiles: ["mirrors.repo": repoText])
        var enabled = options
        enabled.enabledRepos = ["mirrors"]
        let plan = try Planner(base: base, options: enabled).plan(plugin)
        #expect(plan.packages.map(\.url) == ["file://\(mirror.path)/mirrored-1.0-1.noarch.rpm"])
    }

    @Test func aPackageNowhereIsNamed() throws {
        let typo = try plugin("typo", packages: ["vdsmm"], bundled: [SpecPackage(name: "vdsm", files: ["/usr/bin/vdsm": "v\n"])])
        let result = reasons { _ = try Planner(base: base, options: options).plan(typo) }
        #expect(result?.0 == .unsatisfiable)
        #expect(result?.1 == ["no package \"vdsmm\" in the base or the enabled repos (typo-bundled); check the name in plugin.toml or add a repo that has it"])
    }

    @Test func aMissingDependencyWithNoProviderIsNamed() throws {
        let broken = try plugin(
            "broken", packages: ["needs-ghost"],
            bundled: [
                SpecPackage(name: "needs-ghost", requires: ["ghost-lib >= 1"], files: ["/usr/bin/needs-ghost": "g\n"])
            ])
        let result = reasons { _ = try Planner(base: base, options: options).plan(broken) }
        #expect(
            result?.1 == [
                "needs-ghost-1.0-1.noarch needs ghost-lib >= 1, which nothing provides (not the base, not the enabled repos); add a repo that provides it or a base image that has it"
            ])
    }

    @Test func askingForAReplacedPackageByNameInstallsItsReplacement() throws {
        let renamed: [SpecPackage] = [
            SpecPackage(name: "oldtool", files: ["/usr/bin/oldtool": "old\n"]),
            SpecPackage(name: "newtool", version: "2.0", provides: ["oldtool = 2.0"], obsoletes: ["oldtool < 2.0"], files: ["/usr/bin/oldtool": "new\n"]),
        ]
        // As dnf does: a plain name also matches the packages that obsolete it.
        let byName = try plugin("renamed", packages: ["oldtool"], bundled: renamed)
        #expect(try Planner(base: base, options: options).plan(byName).packages.map(\.nevra) == ["newtool-2.0-1.noarch"])
        // A version pins the old package.
        let pinned = try plugin("pinned", packages: ["oldtool = 1.0"], bundled: renamed)
        #expect(try Planner(base: base, options: options).plan(pinned).packages.map(\.nevra) == ["oldtool-1.0-1.noarch"])
    }

    @Test func bothWordSizesOfAMultilibPackageInstallSideBySide() throws {
        // As with dnf on RHEL: an i686 build does not replace the x86_64 build of the same name.
        let multilib = try plugin(
            "multilib", packages: ["app32", "mlib.x86_64"],
            bundled: [
                SpecPackage(name: "mlib", arch: "x86_64", files: ["/usr/lib64/mlib": "64\n"]),
                SpecPackage(name: "mlib", arch: "i686", provides: ["mlib32"], files: ["/usr/lib/mlib": "32\n"]),
                SpecPackage(name: "app32", arch: "i686", requires: ["mlib32"], files: ["/usr/bin/app32": "a\n"]),
            ])
        #expect(
            try Planner(base: base, options: options).plan(multilib).packages.map(\.nevra) == [
                "app32-1.0-1.i686", "mlib-1.0-1.i686", "mlib-1.0-1.x86_64",
            ])
    }

    @Test func whenTheBestArchCannotBeInstalledAnotherArchsBuildIs() throws {
        // As dnf does: the x86_64 build needs a library no repo has, so the i686 build is the one installed.
        let fallback = try plugin(
            "fallback", packages: ["proxyweb"],
            bundled: [
                SpecPackage(name: "proxyweb", arch: "x86_64", requires: ["libproxy64"], files: ["/usr/lib64/proxyweb": "64\n"]),
                SpecPackage(name: "proxyweb", arch: "i686", files: ["/usr/lib/proxyweb": "32\n"]),
            ])
        #expect(try Planner(base: base, options: options).plan(fallback).packages.map(\.nevra) == ["proxyweb-1.0-1.i686"])
        // With both installable, the best arch wins.
        let best = try plugin(
            "best", packages: ["webproxy"],
            bundled: [
                SpecPackage(name: "webproxy", arch: "x86_64", files: ["/usr/lib64/webproxy": "64\n"]),
                SpecPackage(name: "webproxy", arch: "i686", files: ["/usr/lib/webproxy": "32\n"]),
            ])
        #expect(try Planner(base: base, options: options).plan(best).packages.map(\.nevra) == ["webproxy-1.0-1.x86_64"])
    }

    @Test func packagesTheBaseAlreadyHasAddNothing() throws {
        let same = try plugin("same", packages: ["corelib", "extra"], bundled: [SpecPackage(name: "extra", files: ["/usr/bin/extra": "e\n"])])
        let plan = try Planner(base: base, options: options).plan(same)
        #expect(plan.alreadyInBase == ["corelib"])
        #expect(plan.packages.map(\.nevra) == ["extra-1.0-1.noarch"])
    }

    @Test func cachesAreUsedAndAChangedRepoIsNeverServedStale() throws {
        let dir = work.appendingPathComponent("plugins/cached")
        try PluginFixture.make(at: dir, name: "cached", packages: ["tool"], bundled: [SpecPackage(name: "tool", files: ["/usr/bin/tool": "1\n"])])
        let first = try Planner(base: base, options: options).plan(try Plugin(directory: FilePath(dir.path), arch: "x86_64"))
        #expect(first.packages.map(\.nevra) == ["tool-1.0-1.noarch"])
        let solvFiles = try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("cache/solv").path)
        #expect(solvFiles.count == 1)
        // A second plan of the same plugin on the same base and repos is read back from the plan cache.
        let plansDirectory = work.appendingPathComponent("cache/plans").path
        #expect(try FileManager.default.contentsOfDirectory(atPath: plansDirectory).count == 1)
        let again = try Planner(base: base, options: options).plan(try Plugin(directory: FilePath(dir.path), arch: "x86_64"))
        #expect(again.packages == first.packages)
        #expect(try FileManager.default.contentsOfDirectory(atPath: plansDirectory).count == 1)

        // Replace the repo's content: a new repomd.xml means a new cache key.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("rpms"))
        try RPMFixture.repo([SpecPackage(name: "tool", version: "2.0", files: ["/usr/bin/tool": "2\n"])], at: dir.appendingPathComponent("rpms"))
        let second = try Planner(base: base, options: options).plan(try Plugin(directory: FilePath(dir.path), arch: "x86_64"))
        #expect(second.packages.map(\.nevra) == ["tool-2.0-1.noarch"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("cache/solv").path).count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: plansDirectory).count == 2)
    }
}
