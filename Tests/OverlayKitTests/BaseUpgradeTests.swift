import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

/// Plugins checked against an old base (BaseFixture: kernel 3.1, corelib 1.0) and a new one (kernel 3.2, corelib
/// 2.0, and helper 1.0, which the old base did not have): each of the four verdicts on real RPMs.
@Suite(.serialized) struct BaseUpgradeTests {
    /// The new base: the old one's release package, kernel 3.2, corelib 2.0 and a new package, helper, which also
    /// provides libjson.
    static let newBasePackages: [SpecPackage] = [
        SpecPackage(name: "kernel", version: "3.2", files: ["/boot/vmlinuz-3.2": "newer\n"]),
        BaseFixture.packages[1],
        SpecPackage(name: "corelib", version: "2.0", files: ["/usr/lib/corelib.so.2": "core2\n", "/usr/share/corelib/": ""]),
        SpecPackage(name: "helper", provides: ["libjson = 1.0"], files: ["/usr/lib/helper.so": "h\n"]),
    ]

    let work: URL
    let upgrade: BaseUpgrade

    init() throws {
        work = try RPMFixture.temporaryDirectory("upgrade")
        let old = try BaseFixture.make(at: work.appendingPathComponent("old"))
        _ = try RPMFixture.base(Self.newBasePackages, at: work.appendingPathComponent("new"))
        let new = try BaseImage(root: FilePath(work.appendingPathComponent("new").path))
        let options = PlanOptions(enabledRepos: [], cache: MetadataCache(directory: FilePath(work.appendingPathComponent("cache").path)), arch: "x86_64")
        upgrade = BaseUpgrade(old: try Planner(base: old, options: options), new: try Planner(base: new, options: options))
    }

    func plugin(_ name: String, packages: [String], bundled: [SpecPackage]) throws -> Plugin {
        let dir = try PluginFixture.make(at: work.appendingPathComponent("plugins/\(name)"), name: name, packages: packages, bundled: bundled)
        return try Plugin(directory: FilePath(dir.path), arch: "x86_64")
    }

    @Test func theBaseChangesAreListedByPackage() {
        #expect(
            upgrade.baseChanges == [
                BaseChange(kind: .upgraded, name: "corelib", from: "corelib-1.0-1.noarch", to: "corelib-2.0-1.noarch"),
                BaseChange(kind: .added, name: "helper", to: "helper-1.0-1.noarch"),
                BaseChange(kind: .upgraded, name: "kernel", from: "kernel-3.1-1.noarch", to: "kernel-3.2-1.noarch"),
            ])
    }

    @Test func aPluginWithTheSamePackagesOnBothBasesIsUnchanged() throws {
        let steady = try plugin("steady", packages: ["tool"], bundled: [SpecPackage(name: "tool", requires: ["corelib"], files: ["/usr/bin/tool": "t\n"])])
        let verdict = upgrade.check(steady)
        #expect(verdict.verdict == .unchanged)
        #expect(verdict.canMove)
        #expect(verdict.oldPackages == ["tool-1.0-1.noarch"] && verdict.newPackages == ["tool-1.0-1.noarch"])
        #expect(verdict.changes.isEmpty && verdict.reasons.isEmpty)
    }

    /// app needs helper (the new base has it), libjson (json-compat provided it; the new base's helper does now)
    /// and applib (1.1 needs corelib >= 2.0, which only the new base has): now in the base, dropped, newer.
    @Test func aChangedPluginSaysWhichPackagesDifferAndWhy() throws {
        let app = try plugin(
            "app", packages: ["app"],
            bundled: [
                SpecPackage(name: "app", requires: ["helper", "libjson", "applib"], files: ["/usr/bin/app": "a\n"]),
                SpecPackage(name: "helper", version: "0.9", files: ["/usr/lib/helper.so": "old helper\n"]),
                SpecPackage(name: "json-compat", provides: ["libjson = 0.9"], files: ["/usr/lib/json-compat.so": "j\n"]),
                SpecPackage(name: "applib", version: "1.0", files: ["/usr/lib/applib.so.1": "1.0\n"]),
                SpecPackage(name: "applib", version: "1.1", requires: ["corelib >= 2.0"], files: ["/usr/lib/applib.so.1": "1.1\n"]),
            ])
        let verdict = upgrade.check(app)
        #expect(verdict.verdict == .changed)
        #expect(verdict.canMove)
        #expect(verdict.oldPackages == ["app-1.0-1.noarch", "applib-1.0-1.noarch", "helper-0.9-1.noarch", "json-compat-1.0-1.noarch"])
        #expect(verdict.newPackages == ["app-1.0-1.noarch", "applib-1.1-1.noarch"])
        #expect(
            verdict.changes == [
                PackageChange(kind: .newer, name: "applib", from: "applib-1.0-1.noarch", to: "applib-1.1-1.noarch"),
                PackageChange(kind: .nowInBase, name: "helper", from: "helper-0.9-1.noarch", base: "helper-1.0-1.noarch"),
                PackageChange(kind: .dropped, name: "json-compat", from: "json-compat-1.0-1.noarch"),
            ])
    }

    /// widget 2.0 works only with corelib 1.x: on the new base (corelib 2.0) the solver falls back to widget 1.0.
    @Test func aPackageTheNewBaseAllowsOnlyInAnOlderVersionIsOlder() throws {
        let gadget = try plugin(
            "gadget", packages: ["gadget"],
            bundled: [
                SpecPackage(name: "gadget", requires: ["widget"], files: ["/usr/bin/gadget": "g\n"]),
                SpecPackage(name: "widget", version: "1.0", files: ["/usr/lib/widget": "1\n"]),
                SpecPackage(name: "widget", version: "2.0", requires: ["corelib < 2.0"], files: ["/usr/lib/widget": "2\n"]),
            ])
        let verdict = upgrade.check(gadget)
        #expect(verdict.verdict == .changed)
        #expect(verdict.changes == [PackageChange(kind: .older, name: "widget", from: "widget-2.0-1.noarch", to: "widget-1.0-1.noarch")])
    }

    /// A repo that cannot be read is not a verdict on the base: the plugin could not be checked.
    @Test func aPluginWhoseRepoFailsCouldNotBeChecked() throws {
        let dir = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/broken"), name: "broken", packages: ["tool"],
            repoFiles: ["broken.repo": "[broken]\nbaseurl=file://\(work.path)/nowhere\ngpgcheck=0\n"])
        var options = upgrade.new.options
        options.enabledRepos = RepoSelection(RepoSelection.rules(.enable, "broken"))
        let upgrade = BaseUpgrade(old: try Planner(base: upgrade.old.base, options: options), new: try Planner(base: upgrade.new.base, options: options))
        let verdict = upgrade.check(try Plugin(directory: FilePath(dir.path), arch: "x86_64"))
        #expect(verdict.verdict == .failed)
        #expect(!verdict.canMove)
        #expect(verdict.failure?.kind == .failed)
        #expect(verdict.reasons.count == 1 && verdict.reasons[0].hasPrefix("repo \"broken\": "))
    }

    @Test func aPluginOnlyTheNewBaseSatisfiesIsChangedWithEverythingAdded() throws {
        let newkernel = try plugin(
            "newkernel", packages: ["kmod-fast"],
            bundled: [SpecPackage(name: "kmod-fast", requires: ["kernel >= 3.2"], files: ["/usr/lib/kmod-fast": "k\n"])])
        let verdict = upgrade.check(newkernel)
        #expect(verdict.verdict == .changed)
        #expect(verdict.oldPackages == nil && verdict.newPackages == ["kmod-fast-1.0-1.noarch"])
        #expect(verdict.changes == [PackageChange(kind: .added, name: "kmod-fast", to: "kmod-fast-1.0-1.noarch")])
        #expect(
            verdict.oldReasons == ["kmod-fast-1.0-1.noarch needs kernel >= 3.2, the base has kernel-3.1-1.noarch (locked); build against a newer base image"]
        )
    }

    @Test func aPluginNeitherBaseSatisfiesNeedsANewerBaseWithPlansExplanation() throws {
        let future = try plugin(
            "future", packages: ["kmod-future"],
            bundled: [SpecPackage(name: "kmod-future", requires: ["kernel >= 3.3"], files: ["/usr/lib/kmod-future": "k\n"])])
        let verdict = upgrade.check(future)
        #expect(verdict.verdict == .needsNewerBase)
        #expect(!verdict.canMove)
        #expect(verdict.oldPackages == nil && verdict.newPackages == nil)
        // The same sentence `plan` gives against the new base.
        let plan = Result { () throws(PlanError) in try upgrade.new.plan(future) }
        #expect(
            verdict.reasons == ["kmod-future-1.0-1.noarch needs kernel >= 3.3, the base has kernel-3.2-1.noarch (locked); build against a newer base image"]
        )
        if case .failure(let error) = plan { #expect(error.reasons == verdict.reasons) } else { Issue.record("the new base should not satisfy it") }
    }

    @Test func aPackageTheNewBaseUpgradedThatConflictsBlocksThePluginAndIsNamed() throws {
        let clash = try plugin(
            "clash", packages: ["clash"],
            bundled: [SpecPackage(name: "clash", conflicts: ["corelib >= 2.0"], files: ["/usr/bin/clash": "c\n"])])
        let verdict = upgrade.check(clash)
        #expect(verdict.verdict == .blockedByNewBase)
        #expect(!verdict.canMove)
        #expect(verdict.oldPackages == ["clash-1.0-1.noarch"] && verdict.newPackages == nil)
        #expect(verdict.blamedChanges == [BaseChange(kind: .upgraded, name: "corelib", from: "corelib-1.0-1.noarch", to: "corelib-2.0-1.noarch")])
        #expect(
            verdict.reasons == [
                "clash-1.0-1.noarch conflicts with corelib >= 2.0, which the base's corelib-2.0-1.noarch (locked) provides; build against an older base image, one with corelib < 2.0, or use a newer clash that does not conflict with it"
            ])
    }

    @Test func aPackageTheNewBaseAddedThatConflictsBlocksThePluginAndIsNamed() throws {
        let solo = try plugin(
            "solo", packages: ["solo"], bundled: [SpecPackage(name: "solo", conflicts: ["helper"], files: ["/usr/bin/solo": "s\n"])])
        let verdict = upgrade.check(solo)
        #expect(verdict.verdict == .blockedByNewBase)
        #expect(verdict.blamedChanges == [BaseChange(kind: .added, name: "helper", to: "helper-1.0-1.noarch")])
        #expect(
            verdict.reasons == [
                "solo-1.0-1.noarch conflicts with helper, which the base's helper-1.0-1.noarch (locked) provides; build against a base image without it"
            ])
    }

    @Test func nevrasSplitAndCompareAsRpmDoes() throws {
        let parsed = try #require(NEVRA("python3-libs-1:3.9.18-3.el9.x86_64"))
        #expect(parsed.name == "python3-libs" && parsed.epoch == "1" && parsed.version == "3.9.18" && parsed.release == "3.el9" && parsed.arch == "x86_64")
        #expect(parsed.description == "python3-libs-1:3.9.18-3.el9.x86_64")
        #expect(NEVRA("nodash") == nil)
        let ten = try #require(NEVRA("a-1.10-1.noarch"))
        let nine = try #require(NEVRA("a-1.9-1.noarch"))
        #expect(ten.compareEVR(nine) > 0)  // 1.10 is newer than 1.9, as rpm says
        #expect(nine.compareEVR(ten) < 0 && ten.compareEVR(ten) == 0)
        #expect(try #require(NEVRA("a-1:1.0-1.noarch")).compareEVR(ten) > 0)  // an epoch wins
    }
}
