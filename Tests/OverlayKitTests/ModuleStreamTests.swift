import Foundation
import SystemPackage
import Testing
@testable import OverlayKit
import TestSupport

/// Module streams as dnf applies them, on a real repo whose modules.yaml modifyrepo_c added: default streams
/// are on, a plugin enables others with `modules = [...]`, the base's installed streams stay, and everything
/// else is invisible to the solver.
@Suite(.serialized) struct ModuleStreamTests {
    static let distPackages: [SpecPackage] = [
        SpecPackage(name: "tool", version: "1.0", files: ["/usr/bin/tool": "1\n"]),
        SpecPackage(name: "tool", version: "2.0", files: ["/usr/bin/tool": "2\n"]),
        SpecPackage(name: "tool", version: "3.0", files: ["/usr/bin/tool": "3\n"]),
        SpecPackage(name: "tool-extras", version: "2.0", requires: ["tool = 2.0"], files: ["/usr/share/tool/extras": "2\n"]),
        SpecPackage(name: "tool-extras", version: "3.0", requires: ["tool = 3.0"], files: ["/usr/share/tool/extras": "3\n"]),
        SpecPackage(name: "javalib", version: "1.0", files: ["/usr/share/java/lib.jar": "jar\n"]),
        SpecPackage(name: "app", requires: ["javalib"], files: ["/usr/bin/app": "app\n"]),
        SpecPackage(name: "web", version: "1.0", files: ["/usr/sbin/web": "1\n"]),
        SpecPackage(name: "web", version: "2.0", files: ["/usr/sbin/web": "2\n"]),
        SpecPackage(name: "dbserver", version: "1.0", files: ["/usr/sbin/dbserver": "1\n"]),
        SpecPackage(name: "dbserver", version: "2.0", files: ["/usr/sbin/dbserver": "2\n"]),
        SpecPackage(name: "dbclient", version: "1.0", files: ["/usr/bin/dbclient": "1\n"]),
        SpecPackage(name: "dbclient", version: "2.0", files: ["/usr/bin/dbclient": "2\n"]),
        SpecPackage(name: "nextgen", files: ["/usr/bin/nextgen": "n\n"]),
        SpecPackage(name: "javaapp", requires: ["javalib"], files: ["/usr/bin/javaapp": "j\n"]),
    ]
    static let modules = ModuleFixture(
        streams: [
            .init(
                name: "tools", stream: "2", artifacts: ["tool-0:2.0-1.noarch", "tool-extras-0:2.0-1.noarch", "tool-0:2.0-1.src"],
                requires: ["platform": ["el9"]]),
            .init(name: "tools", stream: "3", artifacts: ["tool-0:3.0-1.noarch", "tool-extras-0:3.0-1.noarch"], requires: ["platform": ["el9"]]),
            .init(name: "java", stream: "1", artifacts: ["javalib-0:1.0-1.noarch"]),
            .init(name: "webs", stream: "1", artifacts: ["web-0:1.0-1.noarch"]),
            .init(name: "webs", stream: "2", artifacts: ["web-0:2.0-1.noarch"]),
            .init(name: "db", stream: "1", artifacts: ["dbserver-0:1.0-1.noarch", "dbclient-0:1.0-1.noarch"]),
            .init(name: "db", stream: "2", artifacts: ["dbserver-0:2.0-1.noarch", "dbclient-0:2.0-1.noarch"]),
            .init(name: "nextgen", stream: "1", artifacts: ["nextgen-0:1.0-1.noarch"], requires: ["platform": ["el10"]]),
            .init(name: "javaapp", stream: "1", artifacts: ["javaapp-0:1.0-1.noarch"], requires: ["java": ["1"]]),
        ], defaults: ["webs": "1"])

    let work: URL
    let dist: URL
    let base: BaseImage
    let options: PlanOptions

    init() throws {
        work = try RPMFixture.temporaryDirectory("modules")
        dist = try RPMFixture.repo(Self.distPackages, at: work.appendingPathComponent("dist"))
        try Self.modules.add(to: dist)
        // The base has db:1's server installed, and says nothing about its platform or module states.
        base = try Self.base(at: work.appendingPathComponent("base"))
        options = PlanOptions(enabledRepos: ["dist"], cache: MetadataCache(directory: FilePath(work.appendingPathComponent("cache").path)), arch: "x86_64")
    }

    static func base(at root: URL, files: [String: String] = [:]) throws -> BaseImage {
        _ = try RPMFixture.base(
            [
                SpecPackage(name: "corelib", files: ["/usr/lib/corelib.so.1": "core\n"]),
                SpecPackage(name: "dbserver", version: "1.0", files: ["/usr/sbin/dbserver": "1\n"]),
            ], at: root)
        for (path, text) in files {
            let file = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        return try BaseImage(root: FilePath(root.path))
    }

    func plugin(_ name: String, packages: [String], modules: [String] = [], repos: String? = nil) throws -> Plugin {
        let text = repos ?? "[dist]\nname=Distribution\nbaseurl=file://\(dist.path)\n"
        let dir = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/\(name)"), name: name, packages: packages, modules: modules,
            repoFiles: ["dist.repo": text])
        return try Plugin(directory: FilePath(dir.path), arch: "x86_64")
    }

    func plan(_ plugin: Plugin, base: BaseImage? = nil, options: PlanOptions? = nil) throws -> [String] {
        try Planner(base: base ?? self.base, options: options ?? self.options).plan(plugin).packages.map(\.nevra)
    }

    func failure(_ plugin: Plugin, base: BaseImage? = nil) -> PlanError? {
        do {
            _ = try Planner(base: base ?? self.base, options: options).plan(plugin)
            return nil
        } catch let error as PlanError {
            return error
        } catch {
            return PlanError(plugin: plugin.name, kind: .failed, reasons: ["\(error)"])
        }
    }

    @Test func defaultStreamsAreOnAndEveryOtherStreamIsHidden() throws {
        // tool 2.0 and 3.0 are newer but belong to streams nobody enabled; web 2.0 is newer than the default's.
        #expect(try plan(plugin("plain", packages: ["tool", "web"])) == ["tool-1.0-1.noarch", "web-1.0-1.noarch"])
    }

    @Test func anEnabledStreamReplacesNonModularPackagesOfItsNames() throws {
        #expect(try plan(plugin("tools2", packages: ["tool"], modules: ["tools:2"])) == ["tool-2.0-1.noarch"])
        #expect(try plan(plugin("tools3", packages: ["tool-extras"], modules: ["tools:3"])) == ["tool-3.0-1.noarch", "tool-extras-3.0-1.noarch"])
        #expect(try plan(plugin("webs2", packages: ["web"], modules: ["webs:2"])) == ["web-2.0-1.noarch"])
    }

    @Test func aRequestOnlyInStreamsThatAreNotEnabledSaysWhichToEnable() throws {
        let java = failure(try plugin("java", packages: ["javalib"]))
        #expect(java?.kind == .unsatisfiable)
        #expect(java?.reasons == ["javalib is only in module stream java:1, which is not enabled: add modules = [\"java:1\"] to plugin.toml"])

        let extras = failure(try plugin("extras", packages: ["tool-extras"]))
        #expect(
            extras?.reasons == [
                "tool-extras is only in module streams tools:2, tools:3, none of which is enabled: add one of them to plugin.toml, such as modules = [\"tools:3\"]"
            ])

        let other = failure(try plugin("other", packages: ["tool-extras = 3.0"], modules: ["tools:2"]))
        #expect(
            other?.reasons == [
                "tool-extras = 3.0 is only in module stream tools:3, but tools:2 is the active stream of tools: set modules = [\"tools:3\"] in plugin.toml to use it"
            ])
    }

    @Test func aDependencyOnlyInAStreamThatIsNotEnabledSaysWhichToEnable() throws {
        let app = failure(try plugin("app", packages: ["app"]))
        #expect(app?.kind == .unsatisfiable)
        #expect(
            app?.reasons == [
                "app-1.0-1.noarch needs javalib, which nothing provides (not the base, not the enabled repos); it is only in module stream java:1, which is not enabled: add modules = [\"java:1\"] to plugin.toml"
            ])
        #expect(try plan(plugin("app-java", packages: ["app"], modules: ["java:1"])) == ["app-1.0-1.noarch", "javalib-1.0-1.noarch"])
    }

    @Test func aStreamsModuleRequirementEnablesTheStreamItNames() throws {
        // javaapp:1 requires java:[1], so enabling it enables java:1 too, and javalib becomes visible.
        #expect(try plan(plugin("javaapp", packages: ["javaapp"], modules: ["javaapp:1"])) == ["javaapp-1.0-1.noarch", "javalib-1.0-1.noarch"])
    }

    @Test func onePlannerSolvesPluginAfterPluginInOnePoolAsSeparatePlannersWould() throws {
        // The plugins share their repos, so the planner keeps one pool; each plugin's streams replace the last's.
        let planner = try Planner(base: base, options: options)
        let noCache = PlanOptions(enabledRepos: options.enabledRepos, cache: nil, arch: options.arch)
        let shared = try Planner(base: base, options: noCache)
        for (name, packages, modules, expected) in [
            ("one", ["tool"], ["tools:2"], ["tool-2.0-1.noarch"]),
            ("two", ["tool"], [], ["tool-1.0-1.noarch"]),
            ("three", ["tool-extras"], ["tools:3"], ["tool-3.0-1.noarch", "tool-extras-3.0-1.noarch"]),
            ("four", ["app"], ["java:1"], ["app-1.0-1.noarch", "javalib-1.0-1.noarch"]),
            ("five", ["web", "tool"], [], ["tool-1.0-1.noarch", "web-1.0-1.noarch"]),
        ] {
            let plugin = try plugin(name, packages: packages, modules: modules)
            #expect(try shared.plan(plugin).packages.map(\.nevra) == expected)
            #expect(try planner.plan(plugin).packages.map(\.nevra) == expected)
        }
        #expect(failure(try plugin("six", packages: ["javalib"]))?.reasons.first?.hasPrefix("javalib is only in module stream java:1") == true)
        #expect(throws: PlanError.self) { try shared.plan(try plugin("seven", packages: ["javalib"])) }
        #expect(try shared.plan(try plugin("eight", packages: ["javalib"], modules: ["java:1"])).packages.map(\.nevra) == ["javalib-1.0-1.noarch"])
    }

    @Test func anUnknownModuleOrStreamIsBadInputNamingTheChoices() throws {
        let stream = failure(try plugin("tools4", packages: ["tool"], modules: ["tools:4"]))
        #expect(stream?.kind == .failed)
        #expect(stream?.reasons == ["module stream tools:4 is not in the enabled repos; tools has streams tools:2, tools:3: fix modules in plugin.toml"])

        let module = failure(try plugin("toolz", packages: ["tool"], modules: ["toolz:2"]))
        #expect(module?.kind == .failed)
        #expect(
            module?.reasons == [
                "module \"toolz\" (modules = [\"toolz:2\"]) is not in the enabled repos, which have modules db, java, javaapp, nextgen, tools, webs: fix modules in plugin.toml"
            ])
    }

    @Test func theBasesInstalledStreamCountsAsEnabledAndItsPackagesStayVisible() throws {
        // dbserver-1.0 is installed: db:1 is the base's stream, so its client comes from it, and the installed
        // server is never hidden (asking for it adds nothing).
        #expect(try plan(plugin("dbclient", packages: ["dbclient"])) == ["dbclient-1.0-1.noarch"])
        let server = try Planner(base: base, options: options).plan(try plugin("dbserver", packages: ["dbserver", "tool"]))
        #expect(server.alreadyInBase == ["dbserver"])
        #expect(server.packages.map(\.nevra) == ["tool-1.0-1.noarch"])
    }

    @Test func theBasesModuleStatesAndPlatformAreRead() throws {
        let enabled = try Self.base(
            at: work.appendingPathComponent("base-webs2"),
            files: [
                "etc/dnf/modules.d/webs.module": "[webs]\nname=webs\nstream=2\nprofiles=\nstate=enabled\n"
            ])
        #expect(try plan(plugin("web", packages: ["web"]), base: enabled) == ["web-2.0-1.noarch"])

        let disabled = try Self.base(
            at: work.appendingPathComponent("base-no-webs"),
            files: [
                "etc/dnf/modules.d/webs.module": "[webs]\nname=webs\nstream=\nprofiles=\nstate=disabled\n"
            ])
        #expect(
            failure(try plugin("web", packages: ["web"]), base: disabled)?.reasons == [
                "web is only in module streams webs:1, webs:2, none of which is enabled: add one of them to plugin.toml, such as modules = [\"webs:2\"]"
            ])

        let el9 = try Self.base(
            at: work.appendingPathComponent("base-el9"),
            files: [
                "usr/lib/os-release": "NAME=\"Test\"\nPLATFORM_ID=\"platform:el9\"\n"
            ])
        #expect(try plan(plugin("tools2", packages: ["tool"], modules: ["tools:2"]), base: el9) == ["tool-2.0-1.noarch"])
        let nextgen = failure(try plugin("nextgen", packages: ["nextgen"], modules: ["nextgen:1"]), base: el9)
        #expect(nextgen?.kind == .unsatisfiable)
        #expect(
            nextgen?.reasons == [
                "module stream nextgen:1 needs platform el10, but the base image is platform:el9; choose another stream in plugin.toml or build against a base image that meets it"
            ])
    }

    @Test func aModuleHotfixesRepoIsNeverHidden() throws {
        let hotfix = try RPMFixture.repo(
            [SpecPackage(name: "javalib", version: "1.5", files: ["/usr/share/java/lib.jar": "fixed\n"])],
            at: work.appendingPathComponent("hotfix"))
        let dist = "[dist]\nbaseurl=file://\(self.dist.path)\n"
        var both = options
        both.enabledRepos = ["*"]
        // java:1 is enabled, so non-modular packages named javalib are hidden, unless their repo says module_hotfixes.
        let plain = try plugin("plain-extra", packages: ["javalib"], modules: ["java:1"], repos: dist + "[extra]\nbaseurl=file://\(hotfix.path)\n")
        #expect(try plan(plain, options: both) == ["javalib-1.0-1.noarch"])
        let fixed = try plugin(
            "hotfix", packages: ["javalib"], modules: ["java:1"],
            repos: dist + "[fixes]\nbaseurl=file://\(hotfix.path)\nmodule_hotfixes=1\n")
        #expect(try plan(fixed, options: both) == ["javalib-1.5-1.noarch"])
    }

    @Test func streamsHidePackagesWhicheverEnabledRepoTheyAreIn() throws {
        let other = try RPMFixture.repo([SpecPackage(name: "other", files: ["/usr/bin/other": "o\n"])], at: work.appendingPathComponent("other"))
        var all = options
        all.enabledRepos = ["*"]
        // The modular repo is the second and last of three repos in the pool (the base's, other, dist).
        let plugin = try plugin(
            "second", packages: ["tool", "other"],
            repos: "[another]\nbaseurl=file://\(other.path)\n[dist]\nbaseurl=file://\(dist.path)\n")
        #expect(try plan(plugin, options: all) == ["other-1.0-1.noarch", "tool-1.0-1.noarch"])
    }

    @Test func moduleMetadataIsCachedAndThePlanCacheKeyHoldsTheStreams() throws {
        let dir = work.appendingPathComponent("plugins/cached")
        try PluginFixture.make(at: dir, name: "cached", packages: ["tool"], repoFiles: ["dist.repo": "[dist]\nbaseurl=file://\(dist.path)\n"])
        #expect(try plan(Plugin(directory: FilePath(dir.path), arch: "x86_64")) == ["tool-1.0-1.noarch"])
        let moduleFiles = try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("cache/modules").path)
        #expect(moduleFiles.count == 1 && moduleFiles[0].hasSuffix(".json"))

        try PluginFixture.make(
            at: dir, name: "cached", packages: ["tool"], modules: ["tools:3"],
            repoFiles: ["dist.repo": "[dist]\nbaseurl=file://\(dist.path)\n"])
        #expect(try plan(Plugin(directory: FilePath(dir.path), arch: "x86_64")) == ["tool-3.0-1.noarch"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("cache/plans").path).count == 2)
    }

    @Test func malformedModulesInPluginTomlNameFileLineAndColumn() throws {
        let dir = work.appendingPathComponent("plugins/bad")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let toml = dir.appendingPathComponent("plugin.toml")
        func run(_ text: String) throws -> OverlayCommand.Output {
            try text.write(to: toml, atomically: true, encoding: .utf8)
            return try OverlayCommand.run(["plan", "--base", base.root.string, "--plugin", dir.path, "--cachedir", work.appendingPathComponent("cache").path])
        }
        let head = "name = \"bad\"\nversion = \"1.0\"\npackages = [\"tool\"]\n"
        let noStream = try run(head + "modules = [\"tools:2\", \"maven\"]\n")
        #expect(noStream.status == 1)
        #expect(noStream.stderr == "overlay: \(toml.path):4:23: modules[1] \"maven\" is not a module stream; write \"name:stream\", such as \"maven:3.8\"\n")

        let twice = try run(head + "modules = [\n  \"tools:2\",\n  \"tools:3\",\n]\n")
        #expect(twice.status == 1)
        #expect(
            twice.stderr
                == "overlay: \(toml.path):6:3: modules[1] \"tools:3\" enables a second stream of module tools (modules[0] is \"tools:2\"); a module has one enabled stream: keep one\n"
        )

        let typed = try run(head + "modules = \"tools:2\"\n")
        #expect(typed.status == 1)
        #expect(typed.stderr == "overlay: \(toml.path):4: \"modules\" must be an array of strings such as modules = [\"…\"], not a string\n")
    }

    @Test func corruptModuleMetadataIsSaidPlainly() throws {
        let broken = try RPMFixture.repo([SpecPackage(name: "thing", files: ["/usr/bin/thing": "t\n"])], at: work.appendingPathComponent("broken"))
        let file = broken.appendingPathComponent("modules.yaml")
        try "---\ndocument: modulemd\nversion: 2\ndata:\n  name: [unclosed\n".write(to: file, atomically: true, encoding: .utf8)
        try RPMFixture.run(["modifyrepo_c", "--mdtype=modules", file.path, broken.appendingPathComponent("repodata").path])
        let thing = work.appendingPathComponent("plugins/thing")
        try PluginFixture.make(at: thing, name: "thing", packages: ["thing"], repoFiles: ["broken.repo": "[broken]\nbaseurl=file://\(broken.path)\n"])
        let result = try OverlayCommand.run(["plan", "--base", base.root.string, "--plugin", thing.path, "--enablerepo", "broken", "--no-cache"])
        #expect(result.status == 1)
        // One line, libmodulemd's words in it, nothing else on standard error.
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.hasPrefix("plugin \"thing\": repo \"broken\": cannot read repo metadata \(broken.path)/repodata/"))
        #expect(result.stderr.contains("-modules.yaml.gz: modules.yaml: "))
        #expect(result.stderr.hasSuffix("; regenerate it with createrepo_c\n"))
    }
}
