import Foundation
import SystemPackage
import Testing
@testable import Formats
@testable import OverlayKit
import TestSupport

/// `overlay build` and friends, run as a user runs them, on real RPMs and a real rpmdb base with /bin/sh.
@Suite(.serialized) struct BuildTests {
    static let basePackages: [SpecPackage] = [
        SpecPackage(name: "busybox", arch: "x86_64", files: ["/bin/sh": "->busybox"], hostFiles: ["/bin/busybox": "/bin/busybox"]),
        SpecPackage(name: "kernel", version: "3.1", files: ["/boot/vmlinuz-3.1": "not really a kernel\n"]),
        SpecPackage(
            name: "ovirt-node-release", version: "3.0", provides: ["ovirt-node = 3.0"],
            files: ["/etc/os-release": "NAME=\"Test Node\"\nID=test-node\nVERSION_ID=3.0\n"]),
        SpecPackage(name: "corelib", version: "1.0", files: ["/usr/lib/corelib.so.1": "core\n"]),
    ]
    static let vdsm: [SpecPackage] = [
        SpecPackage(
            name: "vdsm", requires: ["vdsm-lib", "/bin/sh"], files: ["/usr/bin/vdsm": "#!/bin/sh\necho vdsm\n"],
            post: "mkdir -p /etc/vdsm\necho \"configured by %{name}\" > /etc/vdsm/by-post",
            attributes: ["/usr/bin/vdsm": "0755,root,root"]),
        SpecPackage(name: "vdsm-lib", requires: ["corelib >= 1.0"], files: ["/usr/lib/vdsm/lib.py": "lib\n"]),
    ]

    let work: URL
    let base: URL
    let cache: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("build")
        base = try RPMFixture.base(Self.basePackages, at: work.appendingPathComponent("base"))
        cache = work.appendingPathComponent("cache")
    }

    func overlay(_ arguments: [String], environment: [String: String] = [:]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(arguments + ["--cachedir", cache.path], environment: environment)
    }

    func plugin(_ name: String, packages: [String], bundled: [SpecPackage], blacklist: [String] = [], requires: [String] = []) throws -> URL {
        try PluginFixture.make(
            at: work.appendingPathComponent("plugins/\(name)"), name: name, packages: packages, bundled: bundled,
            requires: requires, blacklist: blacklist)
    }

    func snapshot(_ root: URL) throws -> TreeSnapshot {
        try TreeSnapshot(FilePath(root.path))
    }

    /// The entry names of a cpio.zst overlay, listed by the cpio tool.
    func entries(_ overlay: URL) throws -> [String] {
        try RPMFixture.run(["sh", "-c", "zstd -dc '\(overlay.path)' | cpio --quiet -it"]).split(separator: "\n").map(String.init)
    }

    func extract(_ overlay: URL) throws -> URL {
        let target = work.appendingPathComponent("extracted-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try RPMFixture.run(["sh", "-c", "cd '\(target.path)' && zstd -dc '\(overlay.path)' | cpio --quiet -idm"])
        return target
    }

    @Test func buildsAnOverlayHoldingOnlyThePluginsDeltaAndLeavesTheBaseUntouched() throws {
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm, requires: ["ovirt-node >= 3.0"])
        let before = try snapshot(base)
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try snapshot(base) == before)

        let file = out.appendingPathComponent("vdsm-1.0.cpio.zst")
        #expect(
            try entries(file) == [
                "etc", "etc/ovirt.plugins.d", "etc/ovirt.plugins.d/vdsm", "etc/vdsm", "etc/vdsm/by-post",
                "usr", "usr/bin", "usr/bin/vdsm", "usr/lib", "usr/lib/vdsm", "usr/lib/vdsm/lib.py",
            ])
        let tree = try extract(file)
        // The %post ran with the base's /bin/sh; what it wrote belongs to the delta.
        #expect(try String(contentsOf: tree.appendingPathComponent("etc/vdsm/by-post"), encoding: .utf8) == "configured by vdsm\n")
        let registry = try String(contentsOf: tree.appendingPathComponent("etc/ovirt.plugins.d/vdsm"), encoding: .utf8)
        let identity = BaseIdentity.of(packages: ["busybox-1.0-1.x86_64", "corelib-1.0-1.noarch", "kernel-3.1-1.noarch", "ovirt-node-release-3.0-1.noarch"])
        #expect(
            registry == """
                NAME="vdsm"
                VERSION="1.0"
                SUMMARY="The vdsm plugin"
                PACKAGES="vdsm-1.0-1.noarch vdsm-lib-1.0-1.noarch"
                BASE="\(identity)"

                """)

        let manifest = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: out.appendingPathComponent("vdsm-1.0.json")))
        #expect(manifest.file == "vdsm-1.0.cpio.zst")
        #expect(manifest.base == identity)
        #expect(manifest.packages == ["vdsm-1.0-1.noarch", "vdsm-lib-1.0-1.noarch"])
        #expect(manifest.sha256 == (try RPMFixture.run(["sha256sum", file.path]).prefix(64)).description)
        #expect(manifest.size == (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int64))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"])

        // A node that unpacked the overlay lists the plugin.
        let list = try OverlayCommand.run(["list", "--root", tree.path, "--json"])
        #expect(list.status == 0)
        let plugins = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        #expect(plugins?.count == 1)
        #expect(plugins?.first?["name"] as? String == "vdsm")
        #expect(plugins?.first?["packages"] as? [String] == ["vdsm-1.0-1.noarch", "vdsm-lib-1.0-1.noarch"])
        #expect(plugins?.first?["base"] as? String == identity)
    }

    @Test func theSameInputsGiveByteIdenticalOverlays() throws {
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        var digests: [String] = []
        for (index, epoch) in ["1700000000", "1700000000", "1800000000"].enumerated() {
            let out = work.appendingPathComponent("out\(index)")
            let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path], environment: ["SOURCE_DATE_EPOCH": epoch])
            #expect(result.status == 0, "\(result.stderr)")
            digests.append(try Data(contentsOf: out.appendingPathComponent("vdsm-1.0.cpio.zst")).base64EncodedString())
        }
        #expect(digests[0] == digests[1])
        #expect(digests[0] != digests[2])
        let listing = try RPMFixture.run(["sh", "-c", "zstd -dc '\(work.appendingPathComponent("out0/vdsm-1.0.cpio.zst").path)' | cpio --quiet -itv"])
        #expect(listing.contains("Nov 14  2023"))
    }

    @Test func theZstdLevelIsTheAdminsChoiceAndStillReproducible() throws {
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        var overlays: [Data] = []
        for (index, level) in ["3", "3", "19"].enumerated() {
            let out = work.appendingPathComponent("level\(index)")
            let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path, "--level", level])
            #expect(result.status == 0, "\(result.stderr)")
            overlays.append(try Data(contentsOf: out.appendingPathComponent("vdsm-1.0.cpio.zst")))
        }
        #expect(overlays[0] == overlays[1])
        #expect(overlays[0] != overlays[2])
        #expect(try entries(work.appendingPathComponent("level0/vdsm-1.0.cpio.zst")).contains("etc/vdsm/by-post"))

        let tooHigh = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", work.path, "--level", "30"])
        #expect(tooHigh.status == 64)
        #expect(tooHigh.stderr == "overlay: --level takes a zstd level from 1 to 22; see 'overlay build --help'\n")
        let gzip = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", work.path, "--level", "3", "--compress", "gzip"])
        #expect(gzip.status == 64)
        #expect(gzip.stderr == "overlay: --level applies to zstd compression; see 'overlay build --help'\n")
    }

    @Test func theBlacklistDropsFilesAndTheManifestSaysWhich() throws {
        let dir = try plugin(
            "docs", packages: ["tool"],
            bundled: [
                SpecPackage(
                    name: "tool",
                    files: [
                        "/usr/bin/tool": "t\n", "/usr/share/doc/tool/README": "r\n", "/usr/share/doc/tool/NEWS": "n\n",
                        "/usr/share/man/man1/tool.1": "m\n",
                    ])
            ], blacklist: ["/usr/share/doc/**", "/usr/share/man/*/*.1"])
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            try entries(out.appendingPathComponent("docs-1.0.cpio.zst")) == [
                "etc", "etc/ovirt.plugins.d", "etc/ovirt.plugins.d/docs", "usr", "usr/bin", "usr/bin/tool",
            ])
        let manifest = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: out.appendingPathComponent("docs-1.0.json")))
        #expect(manifest.removed == ["/usr/share/doc/tool/NEWS", "/usr/share/doc/tool/README", "/usr/share/man/man1/tool.1"])
    }

    @Test func aPackageOverwritingABaseFileIsAnErrorNamingThePathAndWritesNothing() throws {
        let dir = try plugin(
            "clash", packages: ["clash"],
            bundled: [
                SpecPackage(name: "clash", files: ["/usr/lib/corelib.so.1": "different\n"])
            ])
        let before = try snapshot(base)
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("plugin \"clash\""))
        #expect(result.stderr.contains("/usr/lib/corelib.so.1"))
        #expect(result.stderr.contains("corelib-1.0-1.noarch"))
        #expect(try snapshot(base) == before)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? [] == [])
    }

    @Test func aPluginNeedingANewerKernelExitsThreeAndSaysANewerBaseIsNeeded() throws {
        let dir = try plugin(
            "newkernel", packages: ["kmod-fast"],
            bundled: [
                SpecPackage(name: "kmod-fast", requires: ["kernel >= 3.2"], files: ["/usr/lib/kmod-fast": "k\n"])
            ])
        let good = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--plugin", good.path, "--out", out.path])
        #expect(result.status == 3)
        #expect(
            result.stderr
                == "plugin \"newkernel\": kmod-fast-1.0-1.noarch needs kernel >= 3.2, the base has kernel-3.1-1.noarch (locked); build against a newer base image\n"
        )
        // The plugin that can be built still is.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"])

        let plan = try overlay(["plan", "--base", base.path, "--plugin", dir.path, "--json"])
        #expect(plan.status == 3)
        let json = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any]
        let entry = (json?["plugins"] as? [[String: Any]])?.first
        #expect(entry?["ok"] as? Bool == false)
        #expect((entry?["errors"] as? [String])?.first?.contains("kernel >= 3.2") == true)
    }

    @Test func aMalformedPluginTomlNamesFileLineAndColumn() throws {
        let dir = work.appendingPathComponent("plugins/bad")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "name = \"bad\"\nversion = \"1.0\"\npackages = [\"a\",\n".write(to: dir.appendingPathComponent("plugin.toml"), atomically: true, encoding: .utf8)
        let result = try overlay(["plan", "--base", base.path, "--plugin", dir.path])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("overlay: \(dir.path)/plugin.toml:"))
        #expect(result.stderr.contains("invalid TOML"))
        #expect(result.stderr.split(separator: "\n").count == 1)

        try "name = \"bad\"\nversion = \"1.0\"\npackages = \"vdsm\"\n".write(to: dir.appendingPathComponent("plugin.toml"), atomically: true, encoding: .utf8)
        let typed = try overlay(["plan", "--base", base.path, "--plugin", dir.path])
        #expect(typed.status == 1)
        #expect(typed.stderr == "overlay: \(dir.path)/plugin.toml:3: \"packages\" must be an array of strings such as packages = [\"…\"], not a string\n")

        // TOMLKit's toml++ aborted the process on a table header without a name (found by fuzzing plugin.toml).
        try "name = \"bad\"\n[*]\n".write(to: dir.appendingPathComponent("plugin.toml"), atomically: true, encoding: .utf8)
        let header = try overlay(["plan", "--base", base.path, "--plugin", dir.path])
        #expect(header.status == 1)
        #expect(
            header.stderr
                == "overlay: \(dir.path)/plugin.toml:2:2: invalid TOML: a table header must start with a name, as in [name] or [[name]]; fix the syntax at that position\n"
        )
    }

    /// A bundled repo whose repomd.xml is not UTF-8 crashed the process inside Foundation's XMLParser (found by
    /// fuzzing repomd.xml); libsolv reads it now, and it is corrupt metadata, said in one line.
    @Test func aRepoIndexThatCrashedXMLParserIsReportedInOneLine() throws {
        let dir = work.appendingPathComponent("plugins/garbled")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rpms/repodata"), withIntermediateDirectories: true)
        try "name = \"garbled\"\nversion = \"1.0\"\npackages = [\"vdsm\"]\n".write(
            to: dir.appendingPathComponent("plugin.toml"), atomically: true, encoding: .utf8)
        let repomd = dir.appendingPathComponent("rpms/repodata/repomd.xml")
        try Data([0x0a, 0x3c, 0xd8, 0x3c, 0xd8, 0xbb, 0xbc, 0xaf, 0xaa, 0xbb, 0xbc, 0xaf, 0xaa, 0xb0, 0xa6, 0xba]).write(to: repomd)
        let plan = try overlay(["plan", "--base", base.path, "--plugin", dir.path])
        #expect(plan.status == 1)
        #expect(plan.stderr.hasPrefix("plugin \"garbled\": repo \"garbled-bundled\": cannot read repo metadata "), "\(plan.stderr)")
        #expect(
            plan.stderr.hasSuffix("repomd.xml: repo_repomdxml: not well-formed (invalid token) at line 2:1; regenerate it with createrepo_c\n"),
            "\(plan.stderr)")
        #expect(plan.stderr.split(separator: "\n").count == 1)
    }

    @Test func anUnreadableBaseIsSaidPlainly() throws {
        let empty = work.appendingPathComponent("not-a-base")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        let result = try overlay(["plan", "--base", empty.path, "--plugin", dir.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("has no rpmdb"))
        #expect(!FileManager.default.fileExists(atPath: empty.appendingPathComponent("root/.rpmdb").path))
    }

    @Test func aCorruptPackageIsSaidPlainly() throws {
        let dir = try plugin("corrupt", packages: ["tool"], bundled: [SpecPackage(name: "tool", files: ["/usr/bin/tool": "t\n"])])
        let rpm = dir.appendingPathComponent("rpms/tool-1.0-1.noarch.rpm")
        var bytes = try Data(contentsOf: rpm)
        bytes[bytes.count - 100] ^= 0xFF
        try bytes.write(to: rpm)
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("tool-1.0-1.noarch"))
        #expect(result.stderr.contains("checksum"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? [] == [])
    }

    @Test func aBundledPluginBuildsLikeItsDirectory() throws {
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        let bundle = work.appendingPathComponent("vdsm.tar.zst")
        try RPMFixture.run(["tar", "--zstd", "-cf", bundle.path, "-C", dir.deletingLastPathComponent().path, "vdsm"])
        let fromDir = work.appendingPathComponent("out-dir")
        let fromBundle = work.appendingPathComponent("out-bundle")
        #expect(try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", fromDir.path]).status == 0)
        let result = try overlay(["build", "--base", base.path, "--plugin", bundle.path, "--out", fromBundle.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            try Data(contentsOf: fromDir.appendingPathComponent("vdsm-1.0.cpio.zst"))
                == Data(contentsOf: fromBundle.appendingPathComponent("vdsm-1.0.cpio.zst")))
    }

    @Test func baseCreateMakesABaseThatOverlaysAreBuiltAgainst() throws {
        let repo = try RPMFixture.repo(
            Self.basePackages + [SpecPackage(name: "unwanted", files: ["/usr/bin/unwanted": "u\n"])],
            at: work.appendingPathComponent("base-repo"))
        let out = work.appendingPathComponent("new-base")
        let created = try overlay([
            "base", "create", "--repo", repo.path, "--package", "busybox", "--package", "kernel", "--package", "corelib",
            "--package", "ovirt-node-release", "--out", out.path,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["base.cpio.zst", "base.json", "rootfs", "vmlinuz"])
        let manifest = try JSONDecoder().decode(BaseManifest.self, from: Data(contentsOf: out.appendingPathComponent("base.json")))
        #expect(manifest.packages == ["busybox-1.0-1.x86_64", "corelib-1.0-1.noarch", "kernel-3.1-1.noarch", "ovirt-node-release-3.0-1.noarch"])
        #expect(manifest.kernel == "vmlinuz")
        #expect(try String(contentsOf: out.appendingPathComponent("vmlinuz"), encoding: .utf8) == "not really a kernel\n")
        #expect(try entries(out.appendingPathComponent("base.cpio.zst")).contains("var/lib/rpm/rpmdb.sqlite"))

        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        let overlays = work.appendingPathComponent("overlays")
        let built = try overlay(["build", "--base", out.appendingPathComponent("rootfs").path, "--plugin", dir.path, "--out", overlays.path, "--json"])
        #expect(built.status == 0, "\(built.stderr)")
        let manifests = try JSONDecoder().decode([OverlayManifest].self, from: Data(built.stdout.utf8))
        #expect(manifests.map(\.base) == [manifest.identity])

        // The same inputs give the same base image, byte for byte.
        let twin = work.appendingPathComponent("twin-base")
        let recreated = try overlay([
            "base", "create", "--repo", repo.path, "--package", "busybox", "--package", "kernel", "--package", "corelib",
            "--package", "ovirt-node-release", "--out", twin.path,
        ])
        #expect(recreated.status == 0, "\(recreated.stderr)")
        #expect(try Data(contentsOf: twin.appendingPathComponent("base.cpio.zst")) == Data(contentsOf: out.appendingPathComponent("base.cpio.zst")))

        let again = try overlay(["base", "create", "--repo", repo.path, "--package", "busybox", "--out", out.path])
        #expect(again.status == 1)
        #expect(again.stderr == "overlay: \(out.path)/rootfs already exists; remove it or choose another --out directory\n")
    }

    /// `overlay rpmdb`: a role's rpmdb lists the base's packages and its overlays', agrees with the files the node
    /// unpacks (`rpm -Va`), is appended to the role's boot after its overlays, and leaves the base untouched.
    @Test func aRolesRPMDatabaseListsTheBaseAndItsPluginsAndAgreesWithTheFiles() throws {
        let repo = try RPMFixture.repo(Self.basePackages, at: work.appendingPathComponent("base-repo"))
        let served = work.appendingPathComponent("served")
        let created = try overlay([
            "base", "create", "--repo", repo.path, "--package", "busybox", "--package", "kernel", "--package", "corelib",
            "--package", "ovirt-node-release", "--out", served.path,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let root = served.appendingPathComponent("rootfs")
        let docs = SpecPackage(
            name: "docs-tool", files: ["/usr/bin/docs-tool": "d\n", "/usr/share/doc/docs-tool/README": "read me\n"])
        let vdsm = try plugin("vdsm", packages: ["vdsm", "docs-tool"], bundled: Self.vdsm + [docs], blacklist: ["/usr/share/doc/**"])
        let built = try overlay(["build", "--base", root.path, "--plugin", vdsm.path, "--out", served.path])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(FileManager.default.fileExists(atPath: served.appendingPathComponent("vdsm-1.0.rpmheaders").path))
        let fleet = work.appendingPathComponent("fleet.toml")
        if !FileManager.default.fileExists(atPath: served.appendingPathComponent("vmlinuz").path) {
            try Data("a kernel\n".utf8).write(to: served.appendingPathComponent("vmlinuz"))
        }
        try Data(
            """
            [base]
            kernel = "vmlinuz"
            initrd = ["base.cpio.zst"]
            [roles.compute]
            plugins = ["vdsm"]
            [[nodes]]
            mac = "52:54:00:12:34:56"
            role = "compute"

            """.utf8
        ).write(to: fleet)
        let baseDatabase = try Data(contentsOf: root.appendingPathComponent("var/lib/rpm/rpmdb.sqlite"))
        let baseInitrd = try Data(contentsOf: served.appendingPathComponent("base.cpio.zst"))

        let made = try OverlayCommand.run(["rpmdb", "--base", root.path, "--fleet", fleet.path, "--dir", served.path])
        #expect(made.status == 0, "\(made.stderr)")
        let manifest = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: served.appendingPathComponent("vdsm-1.0.json")))
        #expect(manifest.packages.count == 3)  // vdsm, vdsm-lib, docs-tool
        let basePackages = try RPMFixture.run(["rpm", "--root", root.path, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NEVRA}\n"])
            .split(separator: "\n").map(String.init)
        #expect(made.stdout.contains("rpmdb/compute-rpmdb.cpio.zst"))
        #expect(made.stdout.contains("role compute: \(basePackages.count + 3) packages (3 from 1 overlay)"))

        // The node's root: the base, the overlay, then the role's rpmdb, unpacked in that order.
        let node = work.appendingPathComponent("node")
        try FileManager.default.createDirectory(at: node, withIntermediateDirectories: true)
        for initrd in ["base.cpio.zst", "vdsm-1.0.cpio.zst", "rpmdb/compute-rpmdb.cpio.zst"] {
            _ = try RPMFixture.run(["sh", "-c", "cd '\(node.path)' && zstd -dc '\(served.appendingPathComponent(initrd).path)' | cpio --quiet -idmu"])
        }
        let rpm = ["rpm", "--root", node.path, "--dbpath", "/var/lib/rpm"]
        let listed = try RPMFixture.run(rpm + ["-qa", "--qf", "%{NEVRA}\n"]).split(separator: "\n").map(String.init).sorted()
        #expect(listed == (basePackages + manifest.packages).sorted())
        // The blacklisted README is listed by the package but recorded as not installed: rpm -V does not miss it.
        #expect(try RPMFixture.run(rpm + ["-ql", "docs-tool"]).contains("/usr/share/doc/docs-tool/README"))
        // (Every time stamp in an initrd is SOURCE_DATE_EPOCH, not the package's, so mtimes are not compared.)
        #expect(try RPMFixture.run(rpm + ["-Va", "--nomtime"]) == "")

        // The base image is untouched, and the fleet appends the rpmdb after the role's overlays.
        #expect(try Data(contentsOf: root.appendingPathComponent("var/lib/rpm/rpmdb.sqlite")) == baseDatabase)
        #expect(try Data(contentsOf: served.appendingPathComponent("base.cpio.zst")) == baseInitrd)
        let bootFiles = work.appendingPathComponent("boot")
        let config = try OverlayCommand.run(["boot-config", "--dir", served.path, "--fleet", fleet.path, "--out", bootFiles.path])
        #expect(config.status == 0, "\(config.stderr)")
        let script = try String(contentsOf: bootFiles.appendingPathComponent("ipxe/52-54-00-12-34-56"), encoding: .utf8)
        #expect(script.contains("initrd --name vdsm-1.0.cpio.zst ../vdsm-1.0.cpio.zst\ninitrd --name compute-rpmdb.cpio.zst ../rpmdb/compute-rpmdb.cpio.zst\n"))

        // Same inputs, same bytes.
        let first = try Data(contentsOf: served.appendingPathComponent("rpmdb/compute-rpmdb.cpio.zst"))
        #expect(try OverlayCommand.run(["rpmdb", "--base", root.path, "--fleet", fleet.path, "--dir", served.path]).status == 0)
        #expect(try Data(contentsOf: served.appendingPathComponent("rpmdb/compute-rpmdb.cpio.zst")) == first)

        // Once the role's overlay changes, the old rpmdb is no longer handed out, and the server says why.
        let rebuilt = try overlay(
            ["build", "--base", root.path, "--plugin", vdsm.path, "--out", served.path, "--replace"], environment: ["SOURCE_DATE_EPOCH": "99"])
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        let stale = try OverlayCommand.run(["boot-config", "--dir", served.path, "--fleet", fleet.path, "--out", bootFiles.path])
        #expect(stale.status == 0)
        #expect(
            stale.stderr.contains(
                "overlay: role compute: rpmdb/compute.json was made from other overlays (vdsm-1.0.cpio.zst) than the role has now, so the role's rpmdb is not served; run overlay rpmdb again, or remove it"
            ), "\(stale.stderr)")
        #expect(!(try String(contentsOf: bootFiles.appendingPathComponent("ipxe/52-54-00-12-34-56"), encoding: .utf8)).contains("rpmdb"))
    }

    @Test func aSquashfsLayerHoldsTheSameDelta() throws {
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path, "--format", "squashfs"])
        #expect(result.status == 0, "\(result.stderr)")
        let listing = try RPMFixture.run(["unsquashfs", "-lc", "-d", "", out.appendingPathComponent("vdsm-1.0.squashfs").path])
        let files = listing.split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") }.sorted()
        #expect(
            files == [
                "/etc/ovirt.plugins.d/vdsm", "/etc/vdsm/by-post", "/usr/bin/vdsm", "/usr/lib/extension-release.d/extension-release.vdsm",
                "/usr/lib/vdsm/lib.py",
            ])
        let inspected = try OverlayCommand.run(["inspect", out.appendingPathComponent("vdsm-1.0.squashfs").path, "--json"])
        #expect(inspected.status == 0)
        #expect(inspected.stdout.contains("\"vdsm-lib-1.0-1.noarch\""))
    }

    /// An erofs layer holds the same delta, and each layer is also a systemd-sysext image of the base: its
    /// extension-release names the base's ID and VERSION_ID, and the manifest says so.
    @Test func anErofsLayerIsAlsoASysextImageOfTheBase() throws {
        let dir = try plugin("vdsm", packages: ["vdsm"], bundled: Self.vdsm)
        let out = work.appendingPathComponent("out")
        let result = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path, "--format", "erofs", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let manifest = try JSONDecoder().decode([OverlayManifest].self, from: Data(result.stdout.utf8)).first
        #expect(manifest?.format == "erofs")
        #expect(manifest?.file == "vdsm-1.0.erofs")
        #expect(
            manifest?.extensionRelease
                == OverlayManifest.ExtensionRelease(
                    file: "usr/lib/extension-release.d/extension-release.vdsm", id: "test-node", versionID: "3.0", sysextLevel: nil))
        let image = out.appendingPathComponent("vdsm-1.0.erofs")
        let extracted = work.appendingPathComponent("extracted")
        _ = try RPMFixture.run(["fsck.erofs", "--extract=\(extracted.path)", image.path])
        #expect(
            try String(contentsOf: extracted.appendingPathComponent("usr/lib/extension-release.d/extension-release.vdsm"), encoding: .utf8)
                == "ID=\"test-node\"\nVERSION_ID=\"3.0\"\n")
        #expect(try String(contentsOf: extracted.appendingPathComponent("usr/bin/vdsm"), encoding: .utf8) == "#!/bin/sh\necho vdsm\n")
        let inspected = try OverlayCommand.run(["inspect", image.path])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(inspected.stdout.contains("format:   erofs\n"))
        #expect(inspected.stdout.contains("vdsm-lib-1.0-1.noarch"))

        // The same inputs give the same image, byte for byte.
        let again = work.appendingPathComponent("again")
        #expect(try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", again.path, "--format", "erofs"]).status == 0)
        #expect(try Data(contentsOf: again.appendingPathComponent("vdsm-1.0.erofs")) == Data(contentsOf: image))

        // A cpio overlay is unpacked into the node's root, not merged by systemd-sysext: it carries no extension-release.
        let cpio = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", work.appendingPathComponent("cpio").path, "--json"])
        let cpioManifest = try JSONDecoder().decode([OverlayManifest].self, from: Data(cpio.stdout.utf8)).first
        #expect(cpioManifest?.extensionRelease == nil)
        #expect(!(try entries(work.appendingPathComponent("cpio/vdsm-1.0.cpio.zst")).contains("usr/lib/extension-release.d/extension-release.vdsm")))
    }

    @Test func anOnlineRepoIsUsedOnlyWhenEnabledAndIsDownloadedOverHTTP() throws {
        let served = work.appendingPathComponent("served")
        try RPMFixture.repo([SpecPackage(name: "monitor-agent", requires: ["corelib"], files: ["/usr/bin/monitor-agent": "m\n"])], at: served)
        let server = try LocalHTTPServer(directory: served)
        defer { server.stop() }
        let dir = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/monitor"), name: "monitor", packages: ["monitor-agent"],
            repoFiles: ["monitor.repo": "[monitor]\nname=Monitoring\nbaseurl=http://127.0.0.1:\(server.port)/\nenabled=1\n"])
        let out = work.appendingPathComponent("out")
        let disabled = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path])
        #expect(disabled.status == 3)
        #expect(disabled.stderr.contains("--enablerepo monitor"))

        let unknown = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path, "--enablerepo", "monitr"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "overlay: --enablerepo monitr: no plugin defines a repo with that id; defined repos: monitor\n")

        let enabled = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--out", out.path, "--enablerepo", "monitor"])
        #expect(enabled.status == 0, "\(enabled.stderr)")
        #expect(try entries(out.appendingPathComponent("monitor-1.0.cpio.zst")).contains("usr/bin/monitor-agent"))
        #expect(FileManager.default.fileExists(atPath: cache.appendingPathComponent("packages/monitor/monitor-agent-1.0-1.noarch.rpm").path))
    }
}

/// Python's http.server on 127.0.0.1 and a free port, serving a directory.
final class LocalHTTPServer {
    let port: Int
    private let process = Process()

    init(directory: URL) throws {
        port = try Self.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory.path, "\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if (try? RPMFixture.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/"])) != nil { return }
            usleep(50_000)
        }
    }

    func stop() {
        // SIGKILL: a child of the test runner may inherit a signal mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    static func freePort() throws -> Int {
        let output = try RPMFixture.run(["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])
        return Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}
