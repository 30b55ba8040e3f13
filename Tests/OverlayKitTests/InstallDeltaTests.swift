import Foundation
import SystemPackage
import Testing

@testable import OverlayKit

/// A base image made as an image builder would (rpm CLI, sqlite rpmdb at /var/lib/rpm) with a static
/// busybox as /bin/sh, and plugin packages installed on top of it into a delta root.
@Suite(.serialized) struct InstallDeltaTests {
    static let busybox = SpecPackage(
        name: "busybox", arch: "x86_64", files: ["/bin/sh": "->busybox"], hostFiles: ["/bin/busybox": "/bin/busybox"])
    static let corefiles = SpecPackage(
        name: "corefiles",
        files: [
            "/usr/share/node/": "", "/usr/share/node/core": "core\n", "/etc/node.conf": "a=1\n",
            "/usr/share/node/link": "->core",
        ])

    /// A scratch directory with a base root in `base/`, removed by `cleanup`.
    struct Scratch {
        let directory: URL
        var base: FilePath { FilePath(directory.appendingPathComponent("base").path) }
        var work: FilePath { FilePath(directory.appendingPathComponent("work").path) }
        var rpms: URL { directory.appendingPathComponent("rpms") }

        init() throws {
            directory = try RPMFixture.temporaryDirectory("install-delta")
            _ = try RPMFixture.base([InstallDeltaTests.busybox, InstallDeltaTests.corefiles], at: directory.appendingPathComponent("base"))
        }

        func build(_ packages: [SpecPackage]) throws -> [FilePath] {
            try RPMFixture.build(packages, into: rpms).map { FilePath($0.path) }
        }

        func cleanup() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test func deltaHoldsExactlyThePackageFilesAndWhatPostCreated() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let before = try TreeSnapshot(scratch.base)
        let hello = SpecPackage(
            name: "hello",
            files: [
                "/usr/share/hello/greeting": "hi\n",
                "/usr/share/node/": "",  // a directory shared with the base's corefiles
                "/usr/share/node/core": "core\n",  // a file shared with corefiles, same content
                "/usr/share/node/extra": "extra\n",
            ],
            post: """
                echo quiet > /dev/null
                read pid rest < /proc/self/stat
                read line < /usr/share/node/core
                echo "made by post from $line" > /etc/hello.conf
                """)
        let delta = try PackageInstaller.installDelta(
            packages: try scratch.build([hello]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)

        #expect(delta.installed == ["hello-1.0-1.noarch"])
        #expect(delta.path == scratch.work.appending("delta"))
        let entries = try TreeSnapshot(delta.path).entries.keys.sorted()
        #expect(
            entries == [
                "etc", "etc/hello.conf", "usr", "usr/share", "usr/share/hello", "usr/share/hello/greeting", "usr/share/node",
                "usr/share/node/extra",
            ])
        let made = try String(contentsOfFile: delta.path.appending("etc/hello.conf").string, encoding: .utf8)
        #expect(made == "made by post from core\n")
        #expect(try String(contentsOfFile: delta.path.appending("usr/share/hello/greeting").string, encoding: .utf8) == "hi\n")
        for entry in entries {
            let overlayAttributes = try FileTree.attributeNames(delta.path.appending(entry)).filter { $0.hasPrefix("trusted.overlay.") }
            #expect(overlayAttributes.isEmpty, "\(entry) keeps \(overlayAttributes)")
        }
        #expect(try TreeSnapshot(scratch.base) == before)
        // The work directory holds only the delta.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.work.string) == ["delta"])
        #expect(!mountsMention(scratch.directory.path))
        try delta.remove()
        #expect(!FileManager.default.fileExists(atPath: delta.path.string))
    }

    @Test func failingPostIsAnErrorNamingThePackageAndLeavesNothingMounted() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let failing = SpecPackage(name: "failing", files: ["/usr/share/failing/data": "x\n"], post: "echo configuring\necho cannot-configure >&2\nexit 1")
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: try scratch.build([failing]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        let text = String(describing: error)
        #expect(text.contains("failing-1.0-1.noarch"), "\(text)")
        #expect(text.contains("%post"), "\(text)")
        #expect(text.contains("exit status 1"), "\(text)")
        #expect(text.contains("configuring"), "\(text)")
        #expect(text.contains("cannot-configure"), "\(text)")
        #expect(!mountsMention(scratch.directory.path))
        #expect(!FileManager.default.fileExists(atPath: scratch.work.string))

        // Nothing holds the upper or work directory: the same work directory serves the next install.
        let fixed = SpecPackage(name: "fixed", files: ["/usr/share/fixed/data": "x\n"], post: "echo configured > /usr/share/fixed/state")
        let delta = try PackageInstaller.installDelta(
            packages: try scratch.build([fixed]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        #expect(delta.installed == ["fixed-1.0-1.noarch"])
        #expect(try TreeSnapshot(delta.path).entries.keys.sorted() == ["usr", "usr/share", "usr/share/fixed", "usr/share/fixed/data", "usr/share/fixed/state"])
    }

    @Test func packageOverwritingABaseFileIsAnErrorNamingThePath() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let before = try TreeSnapshot(scratch.base)
        let clash = SpecPackage(name: "clash", files: ["/usr/share/node/core": "different\n"])
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: try scratch.build([clash]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        let text = String(describing: error)
        #expect(
            text.contains("file /usr/share/node/core from install of clash-1.0-1.noarch conflicts with file from package corefiles-1.0-1.noarch"),
            "\(text)")
        #expect(try TreeSnapshot(scratch.base) == before)
        #expect(!mountsMention(scratch.directory.path))
    }

    @Test func scriptletDeletingABaseFileIsAnError() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let remover = SpecPackage(name: "remover", files: ["/usr/share/remover/data": "x\n"], post: "rm /etc/node.conf")
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: try scratch.build([remover]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        #expect(String(describing: error).contains("deleted /etc/node.conf from the base image"), "\(error)")
        #expect(FileManager.default.fileExists(atPath: scratch.base.appending("etc/node.conf").string))
    }

    @Test func scriptletReplacingABaseDirectoryIsAnError() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let replacer = SpecPackage(
            name: "replacer", files: ["/usr/share/replacer/data": "x\n"],
            post: "/bin/busybox rm -r /usr/share/node\n/bin/busybox mkdir /usr/share/node\necho new > /usr/share/node/fresh")
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: try scratch.build([replacer]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        #expect(String(describing: error).contains("replaced the base image's directory /usr/share/node"), "\(error)")
        #expect(FileManager.default.fileExists(atPath: scratch.base.appending("usr/share/node/core").string))
    }

    @Test func scriptletChangingABaseFileShipsTheNewVersion() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let tuner = SpecPackage(name: "tuner", files: ["/usr/share/tuner/data": "x\n"], post: "echo b=2 >> /etc/node.conf")
        let delta = try PackageInstaller.installDelta(
            packages: try scratch.build([tuner]), base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        #expect(try String(contentsOfFile: delta.path.appending("etc/node.conf").string, encoding: .utf8) == "a=1\nb=2\n")
        #expect(try String(contentsOfFile: scratch.base.appending("etc/node.conf").string, encoding: .utf8) == "a=1\n")
    }

    @Test func corruptPackageFileIsAnErrorNamingTheFile() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        try FileManager.default.createDirectory(at: scratch.rpms, withIntermediateDirectories: true)
        let garbage = scratch.rpms.appendingPathComponent("garbage-1.0-1.noarch.rpm")
        try Data("this is not an rpm\n".utf8).write(to: garbage)
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: [FilePath(garbage.path)], base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        #expect(String(describing: error).contains(garbage.path), "\(error)")
        #expect(!mountsMention(scratch.directory.path))

        // A real package with one payload byte flipped: its header reads, its payload digest does not verify.
        let good = try scratch.build([SpecPackage(name: "flipped", files: ["/usr/share/flipped/data": String(repeating: "payload ", count: 4000)])])[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: good.string))
        bytes[bytes.count - 100] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: good.string))
        let flipped = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(packages: [good], base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        #expect(String(describing: flipped).contains(good.string), "\(flipped)")
        #expect(!mountsMention(scratch.directory.path))
    }

    @Test func baseWithTheRpmdbInSysimage() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-delta")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let base = try RPMFixture.base([Self.busybox, Self.corefiles], at: scratch.appendingPathComponent("base"), dbpath: "/usr/lib/sysimage/rpm")
        let before = try TreeSnapshot(FilePath(base.path))
        let rpms = try RPMFixture.build(
            [SpecPackage(name: "tool", files: ["/usr/bin/tool": "#!/bin/sh\n"], post: "echo ok > /usr/share/node/tool-state")],
            into: scratch.appendingPathComponent("rpms"))
        let delta = try PackageInstaller.installDelta(
            packages: rpms.map { FilePath($0.path) }, base: FilePath(base.path), baseDBPath: "/usr/lib/sysimage/rpm",
            workDirectory: FilePath(scratch.appendingPathComponent("work").path))
        #expect(
            try TreeSnapshot(delta.path).entries.keys.sorted() == [
                "usr", "usr/bin", "usr/bin/tool", "usr/share", "usr/share/node", "usr/share/node/tool-state",
            ])
        #expect(try TreeSnapshot(FilePath(base.path)) == before)
    }

    @Test func wrongDatabasePathIsAnErrorNotAnEmptyRpmdb() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let before = try TreeSnapshot(scratch.base)
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: try scratch.build([SpecPackage(name: "any", files: ["/usr/share/any/data": "x\n"])]), base: scratch.base,
                baseDBPath: "/usr/lib/sysimage/rpm", workDirectory: scratch.work)
        }
        #expect(String(describing: error).contains("has no usable rpm database at /usr/lib/sysimage/rpm (there is no rpmdb.sqlite)"), "\(error)")
        #expect(try TreeSnapshot(scratch.base) == before)
    }

    @Test func workDirectoryOnOverlayfsIsRefusedClearly() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let outer = scratch.directory.appendingPathComponent("outer")
        for name in ["lower", "upper", "work", "merged"] {
            try FileManager.default.createDirectory(at: outer.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        let merged = outer.appendingPathComponent("merged").path
        try RPMFixture.run([
            "mount", "-t", "overlay", "overlay", "-o",
            "lowerdir=\(outer.path)/lower,upperdir=\(outer.path)/upper,workdir=\(outer.path)/work", merged,
        ])
        defer { _ = try? RPMFixture.run(["umount", merged]) }
        let work = FilePath(merged).appending("install")
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: try scratch.build([SpecPackage(name: "any", files: ["/usr/share/any/data": "x\n"])]), base: scratch.base,
                baseDBPath: "/var/lib/rpm", workDirectory: work)
        }
        #expect(String(describing: error).contains("is on overlayfs, which cannot hold an overlayfs upper layer"), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: work.string))
    }

    @Test func workDirectoryMustBeEmpty() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        try FileManager.default.createDirectory(atPath: scratch.work.appending("leftover").string, withIntermediateDirectories: true)
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(packages: [], base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
        }
        #expect(String(describing: error).contains("is not empty"))
        #expect(FileManager.default.fileExists(atPath: scratch.work.appending("leftover").string))
    }
}

/// True when this process's mount table mentions `path`.
func mountsMention(_ path: String) -> Bool {
    let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
    return mounts.contains(path)
}
