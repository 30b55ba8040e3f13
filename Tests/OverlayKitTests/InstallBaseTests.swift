import Foundation
import SystemPackage
import Testing

@testable import OverlayKit

/// New base roots made with `PackageInstaller.installBase` from real RPMs, read back with librpm.
@Suite(.serialized) struct InstallBaseTests {
    static let hello = SpecPackage(
        name: "hello", files: ["/usr/share/hello/greeting": "hi\n"],
        post: "read line < /usr/share/hello/greeting\necho \"post saw $line\" > /usr/share/hello/seen")

    /// Progress lines, appended from the install thread.
    final class ProgressLog: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ progress: InstallProgress) {
            lock.lock()
            defer { lock.unlock() }
            lines.append("\(progress.completed + 1)/\(progress.total) \(progress.package)")
        }
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return lines
        }
    }

    @Test func installsIntoAnEmptyDirectoryWithAShellFirstAndAnRpmdbListingThePackages() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-base")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // hello's %post needs /bin/sh, which only busybox provides: listed first, it must still go in second.
        let rpms = try RPMFixture.build([Self.hello, InstallDeltaTests.busybox], into: scratch.appendingPathComponent("rpms"))
        let root = FilePath(scratch.appendingPathComponent("root").path)
        let progress = ProgressLog()
        let report = try PackageInstaller.installBase(packages: rpms.map { FilePath($0.path) }, root: root) { progress.append($0) }

        #expect(report.installed == ["busybox-1.0-1.x86_64", "hello-1.0-1.noarch"])
        #expect(report.scriptletFailures.isEmpty)
        #expect(progress.all == ["1/2 busybox-1.0-1.x86_64", "2/2 hello-1.0-1.noarch"])
        #expect(try RPMDatabase.installedPackages(root: root, dbPath: "/var/lib/rpm") == ["busybox-1.0-1.x86_64", "hello-1.0-1.noarch"])
        #expect(FileManager.default.fileExists(atPath: root.appending("var/lib/rpm/rpmdb.sqlite").string))
        #expect(try String(contentsOfFile: root.appending("usr/share/hello/seen").string, encoding: .utf8) == "post saw hi\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root.appending("bin/sh").string) == "busybox")
        // Nothing of rpm's went to the Debian default rpmdb place inside the root.
        #expect(!FileManager.default.fileExists(atPath: root.appending("root/.rpmdb").string))
    }

    @Test func aBaseItMadeTakesPluginsOnTop() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-base")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let rpms = try RPMFixture.build([InstallDeltaTests.busybox, InstallDeltaTests.corefiles], into: scratch.appendingPathComponent("rpms"))
        let root = FilePath(scratch.appendingPathComponent("root").path)
        _ = try PackageInstaller.installBase(packages: rpms.map { FilePath($0.path) }, root: root)
        let before = try TreeSnapshot(root)

        let plugin = try RPMFixture.build([Self.hello], into: scratch.appendingPathComponent("plugin"))
        let delta = try PackageInstaller.installDelta(
            packages: plugin.map { FilePath($0.path) }, base: root, baseDBPath: PackageInstaller.baseDatabasePath,
            workDirectory: FilePath(scratch.appendingPathComponent("work").path))
        #expect(delta.installed == ["hello-1.0-1.noarch"])
        #expect(
            try TreeSnapshot(delta.path).entries.keys.sorted() == ["usr", "usr/share", "usr/share/hello", "usr/share/hello/greeting", "usr/share/hello/seen"])
        #expect(try TreeSnapshot(root) == before)

        let clash = try RPMFixture.build([SpecPackage(name: "clash", files: ["/etc/node.conf": "mine\n"])], into: scratch.appendingPathComponent("clash"))
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: clash.map { FilePath($0.path) }, base: root, baseDBPath: PackageInstaller.baseDatabasePath,
                workDirectory: FilePath(scratch.appendingPathComponent("work2").path))
        }
        #expect(
            String(describing: error).contains("file /etc/node.conf from install of clash-1.0-1.noarch conflicts with file from package corefiles-1.0-1.noarch")
        )
    }

    @Test func scriptletsGetDevAndProcEvenWhenAPackageOwnsThem() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-base")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let filesystem = SpecPackage(name: "filesystem", files: ["/dev/": "", "/proc/": "", "/etc/": ""], attributes: ["/proc/": "0555,root,root"])
        let user = SpecPackage(
            name: "user", requires: ["filesystem"], files: ["/usr/share/user/data": "x\n"],
            post: "echo noise > /dev/null\nread pid rest < /proc/self/stat\necho \"pid $pid\" > /etc/user.state")
        let rpms = try RPMFixture.build([user, filesystem, InstallDeltaTests.busybox], into: scratch.appendingPathComponent("rpms"))
        let root = FilePath(scratch.appendingPathComponent("root").path)
        let report = try PackageInstaller.installBase(packages: rpms.map { FilePath($0.path) }, root: root)
        #expect(Set(report.installed) == ["busybox-1.0-1.x86_64", "filesystem-1.0-1.noarch", "user-1.0-1.noarch"])
        #expect(try String(contentsOfFile: root.appending("etc/user.state").string, encoding: .utf8).hasPrefix("pid "))
        // The mounts are gone: /dev and /proc are the package's empty directories, with the package's modes.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appending("dev").string).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appending("proc").string).isEmpty)
        let procMode = try FileManager.default.attributesOfItem(atPath: root.appending("proc").string)[.posixPermissions] as? NSNumber
        #expect(procMode?.intValue == 0o555)
        #expect(!mountsMention(scratch.path))
    }

    @Test func missingDependencyIsAnErrorInRpmsWords() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-base")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let needy = SpecPackage(name: "needy", requires: ["libmissing >= 2"], files: ["/usr/share/needy/data": "x\n"])
        let rpms = try RPMFixture.build([needy], into: scratch.appendingPathComponent("rpms"))
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installBase(packages: rpms.map { FilePath($0.path) }, root: FilePath(scratch.appendingPathComponent("root").path))
        }
        #expect(String(describing: error).contains("libmissing >= 2 is needed by needy-1.0-1.noarch"), "\(error)")
    }

    @Test func failingPostIsAnErrorUnlessAllowed() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-base")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let broken = SpecPackage(name: "broken", files: ["/usr/share/broken/data": "x\n"], post: "echo broken-post-output\nexit 3")
        let rpms = try RPMFixture.build([broken, InstallDeltaTests.busybox], into: scratch.appendingPathComponent("rpms")).map { FilePath($0.path) }
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installBase(packages: rpms, root: FilePath(scratch.appendingPathComponent("root").path))
        }
        let text = String(describing: error)
        #expect(text.contains("%post scriptlet of broken-1.0-1.noarch failed"), "\(text)")
        #expect(text.contains("exit status 3"), "\(text)")
        #expect(text.contains("broken-post-output"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("root").path))

        let report = try PackageInstaller.installBase(
            packages: rpms, root: FilePath(scratch.appendingPathComponent("root2").path), allowScriptletFailures: true)
        #expect(report.installed == ["busybox-1.0-1.x86_64", "broken-1.0-1.noarch"])
        #expect(report.scriptletFailures.count == 1)
        #expect(report.scriptletFailures.first?.contains("%post(broken-1.0-1.noarch) scriptlet failed, exit status 3") == true)
    }

    @Test func rootMustBeEmpty() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-base")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Data("x".utf8).write(to: scratch.appendingPathComponent("something"))
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installBase(packages: [], root: FilePath(scratch.path))
        }
        #expect(String(describing: error) == "the directory \(scratch.path) is not empty: give a new or empty directory")
    }
}
