import Foundation
import SystemPackage
import Testing

@testable import Formats
@testable import OverlayKit
import TestSupport

/// The command-line conventions a dnf or Warewulf user reaches for, run through the release binary: repo globs
/// and order, -q/-v, the progress line on a terminal only, `list --dir`, `inspect` on a base, a plugin the base
/// already satisfies, and `make install`.
@Suite(.serialized) struct CommandLineTests {
    let work: URL
    let base: URL
    let cache: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("cli")
        base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        cache = work.appendingPathComponent("cache")
    }

    func overlay(_ arguments: [String]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(arguments + ["--cachedir", cache.path])
    }

    /// A plugin asking for `agent`, with three repos: mon-stable (agent 1.0), mon-testing (agent 2.0), extra (helper).
    func monitorPlugin() throws -> URL {
        var repoFiles: [String: String] = [:]
        for (id, package) in [
            ("mon-stable", SpecPackage(name: "agent", version: "1.0", files: ["/usr/bin/agent": "1\n"])),
            ("mon-testing", SpecPackage(name: "agent", version: "2.0", files: ["/usr/bin/agent": "2\n"])),
            ("extra", SpecPackage(name: "helper", files: ["/usr/bin/helper": "h\n"])),
        ] {
            let repo = try RPMFixture.repo([package], at: work.appendingPathComponent("repos/\(id)"))
            repoFiles["\(id).repo"] = "[\(id)]\nbaseurl=file://\(repo.path)\nenabled=1\ngpgcheck=0\n"
        }
        return try PluginFixture.make(at: work.appendingPathComponent("plugins/monitor"), name: "monitor", packages: ["agent"], repoFiles: repoFiles)
    }

    @Test func enablerepoAndDisablerepoTakeGlobsAndCommaListsInOrderAsDnfDoes() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try monitorPlugin()
        func planned(_ options: [String]) throws -> String? {
            let result = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "--json"] + options)
            guard result.status == 0 else { return nil }
            let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let package = ((report?["plugins"] as? [[String: Any]])?.first?["packages"] as? [[String: Any]])?.first
            return package.map { "\($0["nevra"] ?? "") from \($0["repo"] ?? "")" }
        }
        // A glob enables both monitor repos: the newest agent wins.
        #expect(try planned(["--enablerepo", "mon*"]) == "agent-2.0-1.noarch from mon-testing")
        // A later --disablerepo takes one back.
        #expect(try planned(["--enablerepo", "mon*", "--disablerepo", "*-testing"]) == "agent-1.0-1.noarch from mon-stable")
        // dnf's idiom: everything off, then a comma list on.
        #expect(try planned(["--disablerepo", "*", "--enablerepo", "mon-stable,extra"]) == "agent-1.0-1.noarch from mon-stable")
        #expect(try planned(["--enablerepo", "*", "--disablerepo", "mon-testing extra"]) == "agent-1.0-1.noarch from mon-stable")
        // The same two options the other way round: the last one that matches decides, so nothing is enabled.
        let off = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "--enablerepo", "mon-testing", "--disablerepo", "*"])
        #expect(off.status == 3)
        #expect(off.stderr.contains("which is disabled: pass --enablerepo mon-stable --enablerepo mon-testing to use it"), "\(off.stderr)")
        // A pattern that matches no repo is dnf's "Unknown repo", naming the repos there are.
        let unknown = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "--enablerepo", "mon*,ext?a,nosuch*"])
        #expect(unknown.status == 1)
        #expect(
            unknown.stderr == "overlay: --enablerepo 'nosuch*': no plugin defines a repo whose id matches it; defined repos: extra, mon-stable, mon-testing\n")
    }

    /// `plan` says "adds 0 packages" and `build` makes an overlay holding only the registry entry.
    @Test func aPluginTheBaseAlreadySatisfiesPlansAndBuildsItsRegistryEntryAlone() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/core"), name: "core", packages: ["corelib"],
            bundled: [SpecPackage(name: "unrelated", files: ["/usr/bin/unrelated": "u\n"])])
        let plan = try overlay(["plan", "--base", base.path, "--plugin", plugin.path])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("plugin core 1.0: adds 0 packages\n  corelib: already in the base\n"), "\(plan.stdout)")

        let out = work.appendingPathComponent("out")
        let build = try overlay(["build", "--base", base.path, "--plugin", plugin.path, "--out", out.path])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.isEmpty)
        #expect(build.stdout.hasPrefix("\(out.path)/core-1.0.cpio.zst  "))
        #expect(build.stdout.contains("  0 packages  sha256:"))
        let file = out.appendingPathComponent("core-1.0.cpio.zst")
        let entries = try RPMFixture.run(["sh", "-c", "zstd -dc '\(file.path)' | cpio --quiet -it"]).split(separator: "\n")
        #expect(entries == ["etc", "etc/ovirt.plugins.d", "etc/ovirt.plugins.d/core"])
        let inspected = try OverlayCommand.run(["inspect", file.path])
        #expect(inspected.stdout.contains("plugin:   core 1.0\n"))
        #expect(inspected.stdout.contains("packages: (none)\n"))
    }

    @Test func quietPrintsOnlyResultsAndVerboseEachStepAndPipesGetNoProgressLine() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try PluginFixture.make(at: work.appendingPathComponent("plugins/vdsm"), name: "vdsm", packages: ["vdsm"], bundled: BuildTests.vdsm)
        let out = work.appendingPathComponent("out")
        // An interrupted build's leftovers make a notice; -q leaves it out, the result line stays.
        try FileManager.default.createDirectory(at: out.appendingPathComponent(".overlay-work-vdsm-999999"), withIntermediateDirectories: true)
        let quiet = try overlay(["build", "--base", base.path, "--plugin", plugin.path, "--out", out.path, "-q"])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stderr == "")
        #expect(quiet.stdout.hasPrefix("\(out.path)/vdsm-1.0.cpio.zst  "))
        #expect(quiet.stdout.split(separator: "\n").count == 1)

        let verbose = try overlay(["build", "--base", base.path, "--plugin", plugin.path, "--out", out.path, "--verbose"])
        #expect(verbose.status == 0, "\(verbose.stderr)")
        #expect(verbose.stdout == quiet.stdout.replacingOccurrences(of: "\n", with: "  unchanged\n"))
        let lines = verbose.stderr.split(separator: "\n")
        let expected = [
            "base \(base.path): 4 packages locked, identity sha256:", "vdsm: solved in ", "vdsm: fetched 2 packages in ", "vdsm: installing vdsm-",
            "vdsm: installing vdsm-", "vdsm: installed 2 packages in ", "vdsm: packed ", "vdsm: published \(out.path)/vdsm-1.0.cpio.zst (",
        ]
        #expect(lines.count == expected.count && zip(lines, expected).allSatisfy { $0.hasPrefix($1) }, "\(verbose.stderr)")
        #expect(lines[1].hasSuffix(": adds 2 packages"))
        // Standard error is a pipe here: no carriage returns, no terminal escapes.
        #expect(!verbose.stderr.contains("\r") && !verbose.stderr.contains("\u{1B}"))

        let plan = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "-v"])
        #expect(plan.stderr.contains("vdsm: solved in "), "\(plan.stderr)")
        #expect(plan.stderr.contains(" with repos vdsm-bundled\n"), "\(plan.stderr)")
        let quietPlan = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "-q"])
        #expect(quietPlan.stdout == plan.stdout)
        #expect(quietPlan.stderr == "")
    }

    /// On a terminal (a pty from script(1)) packing that lasts more than a second shows a line with a percentage.
    @Test func aTerminalSeesPackingProgressWithAPercentage() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let payload = work.appendingPathComponent("payload.bin")
        try RPMFixture.run(["sh", "-c", "head -c 12000000 /dev/urandom > '\(payload.path)'"])
        let plugin = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/big"), name: "big", packages: ["big"],
            bundled: [SpecPackage(name: "big", hostFiles: ["/usr/share/big/payload.bin": payload.path])])
        let out = work.appendingPathComponent("out")
        let command = [OverlayCommand.executable.path, "build", "--base", base.path, "--plugin", plugin.path, "--out", out.path, "--cachedir", cache.path]
            .map { "'\($0)'" }.joined(separator: " ")
        let typescript = try Command.capture(URL(fileURLWithPath: "/usr/bin/script"), ["-qefc", command + " >/dev/null", "/dev/null"])
        #expect(typescript.status == 0, "\(typescript.stdout)")
        #expect(typescript.stdout.contains("\r\u{1B}[Kbig: packing "), "\(typescript.stdout.debugDescription)")
        #expect(
            typescript.stdout.range(of: #"big: packing [0-9.]+ [KM]iB of 11\.4 MiB  [0-9]+%  [0-9]+ s"#, options: .regularExpression) != nil,
            "\(typescript.stdout.debugDescription)")
        // The line is cleared at the end: the terminal is left on a clean line.
        #expect(typescript.stdout.hasSuffix("\r\u{1B}[K"), "\(typescript.stdout.suffix(80).debugDescription)")

        let quiet = try Command.capture(URL(fileURLWithPath: "/usr/bin/script"), ["-qefc", command + " --replace -q >/dev/null", "/dev/null"])
        #expect(quiet.status == 0)
        #expect(quiet.stdout.isEmpty, "\(quiet.stdout.debugDescription)")
    }

    @Test func listDirShowsTheOverlaysAndTheBaseAsManifestsDescribeThem() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("served")
        let repo = try RPMFixture.repo(BuildTests.basePackages, at: work.appendingPathComponent("repos/base"))
        let made = try overlay([
            "base", "create", "--repo", repo.path, "--package", "busybox", "--package", "corelib", "--package", "kernel",
            "--package", "ovirt-node-release", "--out", out.path, "-q",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let rootfs = out.appendingPathComponent("rootfs")
        let vdsm = try PluginFixture.make(at: work.appendingPathComponent("plugins/vdsm"), name: "vdsm", packages: ["vdsm"], bundled: BuildTests.vdsm)
        let built = try overlay(["build", "--base", rootfs.path, "--plugin", vdsm.path, "--out", out.path, "--compress", "gzip"])
        #expect(built.status == 0, "\(built.stderr)")
        let other = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", work.appendingPathComponent("other").path])
        #expect(other.status == 0)
        // An overlay built against another base, copied in with a version of its own, and a file that is not ours.
        let manifest = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: work.appendingPathComponent("other/vdsm-1.0.json")))
        var older = manifest
        older.version = "0.9"
        older.file = "vdsm-0.9.cpio.zst"
        older.base = "sha256:" + String(repeating: "0", count: 64)
        try JSONEncoder.manifest.encode(older).write(to: out.appendingPathComponent("vdsm-0.9.json"))
        try Data("{\"name\": \"not an overlay\"}".utf8).write(to: out.appendingPathComponent("settings.json"))

        let baseManifest = try JSONDecoder().decode(BaseManifest.self, from: Data(contentsOf: out.appendingPathComponent("base.json")))
        let current = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: out.appendingPathComponent("vdsm-1.0.json")))
        let list = try OverlayCommand.run(["list", "--dir", out.path])
        #expect(list.status == 0, "\(list.stderr)")
        // Columns are separated by two spaces or more; a size has one ("1.2 KiB").
        let rows = list.stdout.split(separator: "\n").map {
            $0.components(separatedBy: "  ").filter { !$0.isEmpty }.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        #expect(
            rows == [
                ["base \(baseManifest.identity)", "base.cpio.zst", Self.size(baseManifest.size), "4 packages"],
                ["NAME", "VERSION", "FORMAT", "SIZE", "PACKAGES", "BASE"],
                ["vdsm", "0.9", "cpio.zst", Self.size(manifest.size), "2", "sha256:000000000000 (another base)", "DAMAGED: vdsm-0.9.cpio.zst is missing"],
                ["vdsm", "1.0", "cpio.gz", Self.size(current.size), "2", "\(baseManifest.identity.prefix(19)) (this base)"],
            ], "\(list.stdout)")
        let json = try OverlayCommand.run(["list", "--dir", out.path, "--json"])
        let decoded = try JSONDecoder().decode([OverlayManifest].self, from: Data(json.stdout.utf8))
        #expect(decoded == [older, current])

        // inspect: the base image, by its initrd or by base.json, and an overlay by its manifest.
        let inspected = try OverlayCommand.run(["inspect", out.appendingPathComponent("base.cpio.zst").path])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(
            inspected.stdout.contains(
                "image:    base image (base.json beside it)\nidentity: \(baseManifest.identity)\npackages: 4 installed, locked for overlays\n"),
            "\(inspected.stdout)")
        #expect(inspected.stdout.contains(" bin/sh -> busybox\n"))
        let byManifest = try OverlayCommand.run(["inspect", out.appendingPathComponent("base.json").path])
        #expect(byManifest.stdout == inspected.stdout)
        let overlayJSON = try OverlayCommand.run(["inspect", out.appendingPathComponent("vdsm-1.0.json").path, "--json"])
        #expect(overlayJSON.status == 0)
        #expect(overlayJSON.stdout.contains("\"sha256\" : \"\(current.sha256)\""))
        #expect(!overlayJSON.stdout.contains("\"identity\""))
    }

    /// How the command line writes a size: "559 B", "1.2 KiB".
    static func size(_ bytes: Int64) -> String {
        bytes < 1024
            ? "\(bytes) B" : bytes < 1024 * 1024 ? String(format: "%.1f KiB", Double(bytes) / 1024) : String(format: "%.1f MiB", Double(bytes) / 1048576)
    }

    /// `make install DESTDIR=… PREFIX=/usr/local` stages the binary, the man page, three completions and the unit.
    @Test func makeInstallStagesTheBinaryManPageCompletionsAndUnit() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let staging = work.appendingPathComponent("staging")
        let make = try Command.capture(
            URL(fileURLWithPath: "/usr/bin/make"),
            ["-C", project.path, "--no-print-directory", "install", "DESTDIR=\(staging.path)", "PREFIX=/usr/local"],
            mergingErrors: true)
        #expect(make.status == 0, "\(make.stdout)")
        let prefix = staging.appendingPathComponent("usr/local")
        func text(_ path: String) throws -> String { try String(contentsOf: prefix.appendingPathComponent(path), encoding: .utf8) }

        let binary = prefix.appendingPathComponent("bin/overlay")
        #expect(FileManager.default.isExecutableFile(atPath: binary.path))
        let version = try Command.capture(binary, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "0.1.0\n")
        let man = try text("share/man/man1/overlay.1")
        #expect(man.contains(".Dt OVERLAY 1"))
        #expect(man.contains("--enablerepo"))
        #expect(try text("share/bash-completion/completions/overlay").contains("'--base')"))
        #expect(try text("share/zsh/site-functions/_overlay").hasPrefix("#compdef overlay"))
        #expect(
            try text("share/fish/vendor_completions.d/overlay.fish").contains(
                "-l 'plugin' -d 'A plugin directory or .tar/.tar.gz/.tar.zst bundle; repeat for several.' -rF"))
        let unit = try text("lib/systemd/system/overlay-serve.service")
        #expect(unit.contains("ExecStart=/usr/local/bin/overlay serve "))
        let attributes = try FileManager.default.attributesOfItem(atPath: prefix.appendingPathComponent("share/man/man1/overlay.1").path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644)
    }
}
