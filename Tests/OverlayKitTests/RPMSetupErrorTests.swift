import Foundation
import Posix
import SystemPackage
import TestSupport
import Testing

@testable import OverlayKit

#if canImport(Glibc)
    import Glibc
#endif

/// Failures before any package is involved (rpm's configuration, an rpmdb rpm cannot open, a directory that
/// cannot be made or removed) are named for what failed, with the system's or rpm's own reason and what to do:
/// never as packages rpm "could not install".
@Suite(.serialized) struct RPMSetupErrorTests {
    let work: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("rpm-setup-errors")
    }

    @Test func unreadableRPMConfigurationIsNamedAsSuchByPlanAndBaseCreate() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        let plugin = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/tool"), name: "tool", packages: ["tool"],
            bundled: [SpecPackage(name: "tool", files: ["/usr/bin/tool": "t\n"])])
        let missing = work.appendingPathComponent("no-rpm-config").path
        let expected =
            "overlay: rpm cannot read its configuration files in \(missing) (Unable to open \(missing)/rpmrc for reading: No such file or directory); RPM_CONFIGDIR names it: unset RPM_CONFIGDIR or point it at rpm's configuration directory (/usr/lib/rpm)\n"

        let plan = try OverlayCommand.run(["plan", "--base", base.path, "--plugin", plugin.path], environment: ["RPM_CONFIGDIR": missing])
        #expect(plan.status == 1)
        #expect(plan.stderr == expected)

        let repo = try RPMFixture.repo(BuildTests.basePackages, at: work.appendingPathComponent("base-repo"))
        let out = work.appendingPathComponent("new-base")
        let created = try OverlayCommand.run(
            ["base", "create", "--repo", repo.path, "--package", "busybox", "--out", out.path], environment: ["RPM_CONFIGDIR": missing])
        #expect(created.status == 1)
        #expect(created.stderr == expected)
        // OUT itself is made to lock it; nothing was written into it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [])
    }

    @Test func anRPMDBRPMCannotOpenIsNamedWithRPMsWordsAndTheFix() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let root = work.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("var/lib/rpm"), withIntermediateDirectories: true)
        try Data("not a database, not at all\n".utf8).write(to: root.appendingPathComponent("var/lib/rpm/rpmdb.sqlite"))
        let error = try #require(throws: RPMError.self) {
            _ = try RPMDatabase.installedPackages(root: FilePath(root.path), dbPath: "/var/lib/rpm")
        }
        let text = error.description
        #expect(text.hasPrefix("cannot open the rpm database /var/lib/rpm in \(root.path) (rpm: "), "\(text)")
        #expect(text.contains("file is not a database"), "\(text)")
        #expect(
            text.hasSuffix(
                "; the directory must hold an rpmdb this rpm reads (sqlite, or Berkeley DB read-only): unpack the image again or rebuild its rpmdb (rpm --root \(root.path) --dbpath /var/lib/rpm --rebuilddb)"
            ),
            "\(text)")
        #expect(!text.contains("could not install"))
    }

    @Test func aRootThatCannotBeMadeNamesTheSystemsReason() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let file = work.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let root = FilePath(file.path).appending("root")
        let error = try #require(throws: InstallError.self) {
            _ = try PackageInstaller.installBase(packages: [], root: root)
        }
        #expect(error.description == "installing the packages failed: mkdir \(root) failed: Not a directory")
    }

    @Test func aFileThatCannotBeRemovedNamesItAndTheSystemsReason() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let mountPoint = FilePath(work.path).appending("readonly")
        try FileTree.makeDirectory(mountPoint)
        // A read-only tmpfs in a mount namespace of this test's own thread: unlink fails with EROFS.
        let description = try PosixThread.run(name: "ro tmpfs") { () throws -> String in
            try unshare([.mountNamespace])
            try systemCall("mount", "/ (private)") { mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) }
            try systemCall("mount", "tmpfs") { mount("tmpfs", mountPoint.string, "tmpfs", 0, "size=1m") }
            defer { umount2(mountPoint.string, Int32(MNT_DETACH)) }
            try FileTree.makeDirectory(mountPoint.appending("tree"))
            try Data("x".utf8).write(to: URL(fileURLWithPath: mountPoint.appending("tree/file").string))
            try systemCall("mount", "tmpfs read-only") {
                mount(nil, mountPoint.string, nil, UInt(MS_REMOUNT) | UInt(MS_RDONLY), nil)
            }
            do {
                try FileTree.remove(mountPoint.appending("tree"))
                return "removed"
            } catch {
                return "\(error)"
            }
        }
        #expect(description == "installing the packages failed: unlink \(mountPoint)/tree/file failed: Read-only file system")
    }
}
