import Foundation
import SystemPackage
import Testing
@testable import Formats
@testable import OverlayKit
import TestSupport

/// `overlay build` and `base create` when things go wrong half-way: killed at random points and at exact system
/// calls, stopped by SIGINT and SIGTERM, out of disk space, racing another build, or asked to change an overlay
/// nodes already booted. Real RPMs, the real CLI, real signals and real tmpfs mounts.
@Suite(.serialized) struct BuildFaultTests {
    let work: URL
    let base: URL
    let cache: URL
    /// A plugin of 16 MiB of seeded random bytes with a %post: a build takes a second or two.
    let bulk: URL
    /// A small plugin, quick to build.
    let vdsm: URL
    /// A plugin whose %post runs for a minute, with a child in the background.
    let slow: URL

    init() throws {
        let fixture = try Fixture.shared()
        work = try RPMFixture.temporaryDirectory("faults")
        base = fixture.base
        bulk = fixture.bulk
        vdsm = fixture.vdsm
        slow = fixture.slow
        cache = work.appendingPathComponent("cache")
    }

    // MARK: Killed

    @Test func aBuildKilledAtRandomPointsLeavesOnlyCompleteOutputsAndTheNextBuildClearsTheRest() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("out")
        // A first build warms the cache and says how long a build takes; kills are drawn over that time.
        let started = Date()
        let first = try overlay(["build", "--base", base.path, "--plugin", bulk.path, "--out", out.path, "--level", "3"], epoch: 0)
        #expect(first.status == 0, "\(first.stderr)")
        let duration = Date().timeIntervalSince(started)

        var random = SplitMix64(seed: 0x0F4_0175)
        var leftovers: [Int64] = []
        var killedBeforeEnd = 0
        for round in 1...10 {
            let delay = Double(random.next() % 1000) / 1000 * duration
            // Each round builds other bytes (another SOURCE_DATE_EPOCH) and replaces the last: kills land in
            // installs, packing and replacing publishes alike.
            let run = try BackgroundBuild(
                [
                    "build", "--base", base.path, "--plugin", bulk.path, "--out", out.path, "--level", "3", "--replace",
                    "--cachedir", cache.path,
                ], epoch: round, logs: work)
            usleep(useconds_t(delay * 1_000_000))
            kill(run.pid, SIGKILL)
            let end = try run.wait()
            if end.signalled { killedBeforeEnd += 1 }
            let state = try OutputState(out)
            #expect(state.problems.isEmpty, "round \(round), killed after \(delay) s: \(state.problems)")
            leftovers.append(state.leftoverBytes)
            try expectNothingRunningOrMounted(under: out)
        }
        #expect(killedBeforeEnd >= 7, "most kills should land inside a build")
        #expect(leftovers.contains { $0 > 1_000_000 }, "some kill should leave a work directory behind: \(leftovers)")

        // The next build that runs to the end clears every leftover and leaves exactly one overlay and its manifest.
        let last = try overlay(["build", "--base", base.path, "--plugin", bulk.path, "--out", out.path, "--level", "3", "--replace"], epoch: 11)
        #expect(last.status == 0, "\(last.stderr)")
        if leftovers.last ?? 0 > 0 { #expect(last.stderr.contains("that an interrupted build left in \(out.path)")) }
        let state = try OutputState(out)
        #expect(state.names == ["bulk-1.0.cpio.zst", "bulk-1.0.json", "bulk-1.0.rpmheaders"])
        #expect(state.problems.isEmpty && state.leftoverBytes == 0)
        print(
            "killed \(killedBeforeEnd) of 10 builds of \(String(format: "%.1f", duration)) s; leftover bytes after each kill: \(leftovers); after the next build: 0"
        )
    }

    /// The environment of a build under strace. LeakSanitizer stops the process's threads with ptrace to scan
    /// them, which it cannot do in a traced process: an instrumented binary checks everything else there.
    static let traced: [String: String] = {
        var environment = ["SOURCE_DATE_EPOCH": "1"]
        if let options = ProcessInfo.processInfo.environment["ASAN_OPTIONS"] { environment["ASAN_OPTIONS"] = options + ":detect_leaks=0" }
        return environment
    }()

    /// strace stops the build at an exact system call with SIGKILL: every rename (the staged files, the journal,
    /// the overlay into place, the manifest into place) and the overlay mount. Between the two renames into
    /// place the overlay stands beside the old manifest: the journal makes the next build finish the publish.
    @Test func aBuildKilledAtEachRenameAndMountIsFinishedOrClearedByTheNext() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let trial = work.appendingPathComponent("trial")
        #expect(try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", trial.path], epoch: 0).status == 0)
        // Count the renames of a build like the ones below (warm cache, replacing a published overlay).
        let trace = work.appendingPathComponent("renames.txt")
        let traced = try Command.capture(
            URL(fileURLWithPath: "/usr/bin/strace"),
            [
                "-f", "-qq", "-e", "trace=rename", "-o", trace.path, OverlayCommand.executable.path, "build", "--base", base.path,
                "--plugin", vdsm.path, "--out", trial.path, "--replace", "--cachedir", cache.path,
            ], environment: Self.traced)
        #expect(traced.status == 0, "\(traced.stderr)")
        let renames = try String(contentsOf: trace, encoding: .utf8).split(separator: "\n").filter { $0.contains("rename(") }
        let intoPlace = renames.firstIndex { $0.contains("\"\(trial.path)/vdsm-1.0.cpio.zst\")") }
        #expect(renames.count >= 7 && intoPlace != nil, "\(renames)")

        var points = (1...renames.count).map { ("rename", $0) }
        points += [("mount", 2), ("mount", 3)]  // the overlay over the base, then /dev for the scriptlets
        for (call, occurrence) in points {
            let out = work.appendingPathComponent("out-\(call)-\(occurrence)")
            #expect(try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path], epoch: 0).status == 0)
            let killed = try Command.capture(
                URL(fileURLWithPath: "/usr/bin/strace"),
                [
                    "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(call)", "-e", "inject=\(call):signal=KILL:when=\(occurrence)",
                    OverlayCommand.executable.path, "build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path,
                    "--replace", "--cachedir", cache.path,
                ], environment: Self.traced)
            // strace ends itself with the signal that ended the build.
            #expect(killed.status == SIGKILL, "\(call) #\(occurrence): \(killed.stderr)")
            let state = try OutputState(out)
            #expect(state.problems.isEmpty, "\(call) #\(occurrence): \(state.problems)")
            if call == "rename", occurrence == (intoPlace ?? 0) + 2 || occurrence == (intoPlace ?? 0) + 3 {
                // Killed between the overlay and the manifest: the new overlay stands beside the old manifest.
                #expect(state.pendingPublish, "\(call) #\(occurrence)")
            }
            try expectNothingRunningOrMounted(under: out)

            // The same build again: once a publish had begun, the journal finishes it and the build finds its
            // own bytes in place (no --replace needed); else it replaces the overlay published before.
            let next = try overlay(
                ["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path] + (state.pendingPublish ? [] : ["--replace"]),
                epoch: 1)
            #expect(next.status == 0, "\(call) #\(occurrence): \(next.stderr)")
            #expect(next.stdout.hasSuffix(state.pendingPublish ? "  unchanged\n" : "  replaced\n"), "\(call) #\(occurrence)")
            if call == "rename", occurrence == (intoPlace ?? 0) + 1 {
                #expect(
                    next.stderr.hasPrefix(
                        "overlay: finished publishing vdsm-1.0.cpio.zst, vdsm-1.0.rpmheaders, vdsm-1.0.json in \(out.path), which an interrupted build had begun\n"
                    ))
            } else if call == "rename", occurrence == (intoPlace ?? 0) + 2 {
                #expect(
                    next.stderr.hasPrefix(
                        "overlay: finished publishing vdsm-1.0.rpmheaders, vdsm-1.0.json in \(out.path), which an interrupted build had begun\n"))
            } else if call == "rename", occurrence == (intoPlace ?? 0) + 3 {
                #expect(next.stderr.hasPrefix("overlay: finished publishing vdsm-1.0.json in \(out.path), which an interrupted build had begun\n"))
            } else {
                #expect(!next.stderr.contains("finished publishing"), "\(call) #\(occurrence)")
            }
            let after = try OutputState(out)
            #expect(
                after.names == ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"] && after.problems.isEmpty && after.leftoverBytes == 0,
                "\(call) #\(occurrence)")
        }
    }

    /// SIGKILL cannot be handled: the scriptlet running in the overlay mount (and its child in the background)
    /// must still not outlive the build, nor keep the mount alive.
    @Test func aBuildKilledDuringAScriptletLeavesNoProcessOrMountBehind() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("out")
        let run = try BackgroundBuild(["build", "--base", base.path, "--plugin", slow.path, "--out", out.path, "--cachedir", cache.path], logs: work)
        try waitFor("the scriptlet to run") { processes(rootedUnder: out).count >= 3 }  // sh and two sleeps
        // The overlay (and /dev, /proc for the scriptlet) are mounted, seen from the scriptlet's namespace.
        #expect(mounts(under: out).count >= 3, "\(mounts(under: out))")
        kill(run.pid, SIGKILL)
        #expect(try run.wait().signalled)
        try expectNothingRunningOrMounted(under: out)
        let next = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path], epoch: 0)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.hasPrefix("overlay: removed "))
        #expect(next.stderr.hasSuffix(" that an interrupted build left in \(out.path) (.overlay-work-slow-\(run.pid))\n"))
        let state = try OutputState(out)
        #expect(state.names == ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"] && state.problems.isEmpty && state.leftoverBytes == 0)
    }

    // MARK: SIGINT and SIGTERM

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsTheBuildAtOnceRemovesItsFilesAndSaysWhatItInterrupted(signal: Int32) throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        let out = work.appendingPathComponent("out")
        #expect(try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path], epoch: 0).status == 0)
        let published = try OutputState(out)

        // While installing: the %post is running (in the chroot, with a child in the background).
        var run = try BackgroundBuild(["build", "--base", base.path, "--plugin", slow.path, "--out", out.path, "--cachedir", cache.path], logs: work)
        try waitFor("the scriptlet to run") { !processes(rootedUnder: out).isEmpty }
        var sent = Date()
        kill(run.pid, signal)
        var end = try run.wait()
        #expect(Date().timeIntervalSince(sent) < 5)
        #expect(!end.signalled && end.status == 128 + signal)
        #expect(
            run.stderr == """
                overlay: interrupted by \(name) while installing plugin "slow" (package 1 of 1, slow-1.0-1.noarch); \
                its unfinished files were removed from \(out.path), what was published there before is complete

                """)
        #expect(processes(rootedUnder: out).isEmpty, "the scriptlet and its child are gone with the build")
        #expect(try OutputState(out) == published)
        try expectNothingRunningOrMounted(under: out)

        // While packing: the packed file is being written inside the work directory.
        run = try BackgroundBuild(
            ["build", "--base", base.path, "--plugin", bulk.path, "--out", out.path, "--level", "19", "--cachedir", cache.path],
            logs: work)
        try waitFor("packing to start") {
            ((try? workDirectories(in: out)) ?? []).contains { FileManager.default.fileExists(atPath: $0.appendingPathComponent("stage").path) }
        }
        sent = Date()
        kill(run.pid, signal)
        end = try run.wait()
        #expect(Date().timeIntervalSince(sent) < 5)
        #expect(!end.signalled && end.status == 128 + signal)
        #expect(run.stderr.hasPrefix("overlay: interrupted by \(name) while packing plugin \"bulk\"; its unfinished files were removed"))
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(try OutputState(out) == published)
        try expectNothingRunningOrMounted(under: out)
    }

    // MARK: Two builds, one output directory

    @Test func aSecondBuildIntoTheSameDirectoryWaitsForTheFirstAndLeavesItsWorkAlone() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("out")
        let first = try BackgroundBuild(
            ["build", "--base", base.path, "--plugin", bulk.path, "--out", out.path, "--level", "3", "--cachedir", cache.path],
            logs: work)
        try waitFor("the first build to start") { !((try? workDirectories(in: out)) ?? []).isEmpty }
        let second = try BackgroundBuild(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path, "--cachedir", cache.path], logs: work)
        try waitFor("the second build to wait") { second.stderr.contains("waiting") }
        #expect(second.stderr == "overlay: waiting for the build (pid \(first.pid)) writing to \(out.path) to finish\n")
        let firstEnd = try first.wait()
        let secondEnd = try second.wait()
        #expect(firstEnd.status == 0 && !firstEnd.signalled, "\(first.stderr)")
        #expect(secondEnd.status == 0 && !secondEnd.signalled, "\(second.stderr)")
        // The second published after the first.
        let firstPublished = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("bulk-1.0.json").path)[.modificationDate] as? Date
        let secondPublished = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("vdsm-1.0.json").path)[.modificationDate] as? Date
        #expect(firstPublished! <= secondPublished!)
        let state = try OutputState(out)
        #expect(state.names == ["bulk-1.0.cpio.zst", "bulk-1.0.json", "bulk-1.0.rpmheaders", "vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"])
        #expect(state.problems.isEmpty && state.leftoverBytes == 0)

        // A build waiting for the lock and then stopped leaves the running one alone.
        let running = try BackgroundBuild(["build", "--base", base.path, "--plugin", slow.path, "--out", out.path, "--cachedir", cache.path], logs: work)
        try waitFor("the scriptlet to run") { !processes(rootedUnder: out).isEmpty }
        let waiting = try BackgroundBuild(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path, "--cachedir", cache.path], logs: work)
        try waitFor("the third build to wait") { waiting.stderr.contains("waiting") }
        kill(waiting.pid, SIGINT)
        let waitingEnd = try waiting.wait()
        #expect(waitingEnd.status == 130)
        #expect(
            waiting.stderr.hasSuffix(
                """
                overlay: interrupted by SIGINT while waiting for the build (pid \(running.pid)) writing to \(out.path) to finish; \
                its unfinished files were removed from \(out.path), what was published there before is complete

                """))
        #expect(!processes(rootedUnder: out).isEmpty, "the running build's scriptlet is untouched")
        kill(running.pid, SIGTERM)
        #expect(try running.wait().status == 143)
    }

    // MARK: No space left

    @Test func aFullOutputDirectoryIsOneLineAndLeavesNothing() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        // 16 MiB of packages: rpm's own free-space check refuses 8 MiB; 24 MiB holds the install but not the overlay.
        for (size, writing) in [("8m", "its installed packages into OUT"), ("24m", "OUT/bulk-1.0.cpio.zst"), ("24m squashfs", "OUT/bulk-1.0.squashfs")] {
            let out = try tmpfs(String(size.prefix(while: { $0 != " " })))
            defer { unmount(out) }
            let format = size.hasSuffix("squashfs") ? ["--format", "squashfs"] : []
            let result = try overlay(["build", "--base", base.path, "--plugin", bulk.path, "--out", out.path, "--level", "3"] + format, epoch: 0)
            #expect(result.status == 1)
            #expect(
                result.stderr
                    == "plugin \"bulk\": no space left on device while writing \(writing.replacingOccurrences(of: "OUT", with: out.path)): free space or choose another --out\n"
            )
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [])
        }

        // base create, the same way.
        let out = try tmpfs("8m")
        defer { unmount(out) }
        let repo = try RPMFixture.repo(Fixture.basePackages + [Fixture.bulkPackage(at: work)], at: work.appendingPathComponent("base-repo"))
        let created = try overlay(["base", "create", "--repo", repo.path, "--package", "busybox", "--package", "bulk", "--out", out.path], epoch: 0)
        #expect(created.status == 1)
        #expect(
            created.stderr == "overlay: no space left on device while writing the installed packages into \(out.path): free space or choose another --out\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [])
    }

    @Test func aFullCacheIsSkippedWithOneLineAndLeavesNothingPartial() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let full = try tmpfs("64k")
        defer { unmount(full) }
        // Fill it up, leaving no block free.
        _ = try? RPMFixture.run(["dd", "if=/dev/zero", "of=\(full.path)/filler", "bs=4k"])
        let out = work.appendingPathComponent("out")
        let result = try OverlayCommand.run(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path, "--cachedir", full.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("overlay: no space left on device while writing the cache \(full.path)/"))
        #expect(result.stderr.hasSuffix(": it was skipped; free space or choose another --cachedir\n"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        // Besides the folders, only the cache's trim stamp, an empty file (an inode, no block).
        let cached = try FileManager.default.subpathsOfDirectory(atPath: full.path).filter { $0 != "filler" && $0 != "trim.txt" }
        #expect(cached.allSatisfy { !$0.contains(".partial-") }, "\(cached)")
        #expect(
            cached.allSatisfy {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(full.path)/\($0)", isDirectory: &isDirectory) && isDirectory.boolValue
            }, "\(cached)")
        let state = try OutputState(out)
        #expect(state.names == ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"] && state.problems.isEmpty)
    }

    // MARK: Published overlays are immutable

    @Test func aPublishedOverlayIsNotChangedUnlessReplacedAndTheSameBytesAreANoOp() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("out")
        let overlayFile = out.appendingPathComponent("vdsm-1.0.cpio.zst")
        let first = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path], epoch: 0)
        #expect(first.status == 0, "\(first.stderr)")
        let published = try OutputState(out)
        let inode = try FileManager.default.attributesOfItem(atPath: overlayFile.path)[.systemFileNumber] as? Int

        let same = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path], epoch: 0)
        #expect(same.status == 0 && same.stderr == "")
        #expect(same.stdout.hasSuffix("  unchanged\n"))
        #expect(try FileManager.default.attributesOfItem(atPath: overlayFile.path)[.systemFileNumber] as? Int == inode)
        #expect(try OutputState(out) == published)

        // Other bytes under the same name and version (another SOURCE_DATE_EPOCH): the digest they would have.
        let elsewhere = work.appendingPathComponent("elsewhere")
        #expect(try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", elsewhere.path], epoch: 1700000000).status == 0)
        let other = try sha256(elsewhere.appendingPathComponent("vdsm-1.0.cpio.zst"))
        let old = try sha256(overlayFile)
        let refused = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path], epoch: 1700000000)
        #expect(refused.status == 1)
        #expect(
            refused.stderr == """
                plugin "vdsm": \(overlayFile.path) is already published with other content (there: sha256:\(old.prefix(12))…, \
                this build: sha256:\(other.prefix(12))…); nodes may have booted vdsm-1.0 under that name and ETag: bump the plugin's \
                version in plugin.toml, or pass --replace

                """)
        #expect(try OutputState(out) == published)

        let replaced = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path, "--replace"], epoch: 1700000000)
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(replaced.stdout.hasSuffix("sha256:\(other)  replaced\n"))
        var state = try OutputState(out)
        #expect(state.names == ["vdsm-1.0.cpio.zst", "vdsm-1.0.json", "vdsm-1.0.rpmheaders"] && state.problems.isEmpty)
        #expect(try sha256(overlayFile) == other)

        // Another format under the same name: the manifest would name another file. Refused, then replaced whole.
        let squashfs = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path, "--format", "squashfs"], epoch: 0)
        #expect(squashfs.status == 1)
        #expect(
            squashfs.stderr.hasPrefix("plugin \"vdsm\": \(out.path)/vdsm-1.0.json is already published with other content (there: sha256:\(other.prefix(12))…"))
        let swapped = try overlay(["build", "--base", base.path, "--plugin", vdsm.path, "--out", out.path, "--format", "squashfs", "--replace"], epoch: 0)
        #expect(swapped.status == 0, "\(swapped.stderr)")
        state = try OutputState(out)
        #expect(state.names == ["vdsm-1.0.json", "vdsm-1.0.rpmheaders", "vdsm-1.0.squashfs"] && state.problems.isEmpty)
    }

    // MARK: Helpers

    func overlay(_ arguments: [String], epoch: Int) throws -> OverlayCommand.Output {
        let cached = arguments.contains("--cachedir") ? arguments : arguments + ["--cachedir", cache.path]
        return try OverlayCommand.run(cached, environment: ["SOURCE_DATE_EPOCH": String(epoch)])
    }

    func sha256(_ file: URL) throws -> String {
        String(try RPMFixture.run(["sha256sum", file.path]).prefix(64))
    }

    /// A tmpfs of `size` mounted on a new directory (the test runs as root); `unmount` removes it.
    func tmpfs(_ size: String) throws -> URL {
        let point = work.appendingPathComponent("tmpfs-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
        try RPMFixture.run(["mount", "-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", point.path])
        return point
    }

    func unmount(_ point: URL) {
        _ = try? RPMFixture.run(["umount", "-l", point.path])
        try? FileManager.default.removeItem(at: point)
    }

    func workDirectories(in out: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix(".overlay-work-") }.map { out.appendingPathComponent($0) }
    }

    func waitFor(_ what: String, seconds: Double = 30, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw FixtureError.command("waiting for \(what)", -1, "timed out") }
            usleep(10_000)
        }
    }

    /// No process has its root (scriptlets chroot into the overlay mount) under `out`, and no mount namespace of
    /// any process holds a mount under it, within a few seconds (the kernel tears namespaces down as their last
    /// process ends).
    func expectNothingRunningOrMounted(under out: URL) throws {
        let deadline = Date().addingTimeInterval(5)
        var running: [String] = []
        var mounted: [String] = []
        repeat {
            running = processes(rootedUnder: out)
            mounted = mounts(under: out)
            if running.isEmpty && mounted.isEmpty { return }
            usleep(50_000)
        } while Date() < deadline
        #expect(running.isEmpty, "processes still rooted under \(out.path): \(running)")
        #expect(mounted.isEmpty, "mounts still under \(out.path): \(mounted)")
    }
}

/// Processes whose root directory lies under `directory`, as "pid command".
func processes(rootedUnder directory: URL) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.filter { Int32($0) != nil }.compactMap { pid in
        guard let root = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root"), root.hasPrefix(directory.path + "/") else {
            return nil
        }
        let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
        return "\(pid) \(command)"
    }
}

/// Mount points under `directory` in any process's mount namespace. mountinfo shows them relative to the
/// reading process's root, so a chrooted scriptlet's are put back under its root.
func mounts(under directory: URL) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var found = Set<String>()
    for pid in names where Int32(pid) != nil {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8),
            let root = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root")
        else { continue }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let point = (root == "/" ? "" : root) + fields[4]
            if point.hasPrefix(directory.path + "/") { found.insert(point) }
        }
    }
    return found.sorted()
}

/// What an output directory holds: its visible names, whether each overlay has its manifest and matches its
/// sha256, and what is hidden (left by a killed build).
struct OutputState: Equatable {
    var names: [String] = []
    var problems: [String] = []
    /// Bytes under the hidden entries (work directories a killed build left).
    var leftoverBytes: Int64 = 0
    /// A work directory holds a publish journal: the next build finishes that publish.
    var pendingPublish = false

    init(_ out: URL) throws {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).sorted()
        names = all.filter { !$0.hasPrefix(".") }
        for hidden in all where hidden.hasPrefix(".") {
            let path = out.appendingPathComponent(hidden)
            guard hidden.hasPrefix(".overlay-work-") else {
                problems.append("\(hidden) is not a work directory")
                continue
            }
            leftoverBytes += Int64(try RPMFixture.run(["du", "-sb", path.path]).prefix(while: { $0.isNumber })) ?? 0
            if FileManager.default.fileExists(atPath: path.appendingPathComponent("publish.json").path) { pendingPublish = true }
        }
        var named: Set<String> = []
        for name in names where name.hasSuffix(".json") {
            guard let manifest = try? JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: out.appendingPathComponent(name))) else {
                problems.append("\(name) is not a manifest")
                continue
            }
            named.insert(manifest.file)
            if let headers = manifest.headers {
                named.insert(headers)
                if !pendingPublish && !FileManager.default.fileExists(atPath: out.appendingPathComponent(headers).path) {
                    problems.append("\(name) names \(headers), which is missing")
                }
            }
            let file = out.appendingPathComponent(manifest.file)
            guard FileManager.default.fileExists(atPath: file.path) else {
                if !pendingPublish { problems.append("\(name) names \(manifest.file), which is missing") }
                continue
            }
            let digest = String(try RPMFixture.run(["sha256sum", file.path]).prefix(64))
            if digest != manifest.sha256 && !pendingPublish { problems.append("\(manifest.file) has sha256 \(digest), its manifest says \(manifest.sha256)") }
        }
        for name in names where !name.hasSuffix(".json") && !named.contains(name) && !pendingPublish {
            problems.append("\(name) has no manifest")
        }
    }
}

/// A run of the CLI in the background, to signal or kill while it works; its output goes to files.
final class BackgroundBuild {
    private let process = Process()
    private let errorFile: URL

    init(_ arguments: [String], epoch: Int = 0, environment: [String: String] = [:], logs: URL) throws {
        let id = UUID().uuidString.prefix(8)
        errorFile = logs.appendingPathComponent("stderr-\(id)")
        let outputFile = logs.appendingPathComponent("stdout-\(id)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        process.executableURL = OverlayCommand.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(["SOURCE_DATE_EPOCH": String(epoch)]) { $1 }) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
    }

    /// A build a failed expectation left running is not left behind.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// Waits (ten minutes at most: a sanitizer build on a loaded machine is slow) and returns the exit status, or
    /// the signal when one ended it.
    func wait() throws -> (status: Int32, signalled: Bool) {
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning {
            guard Date() < deadline else {
                kill(pid, SIGKILL)
                throw FixtureError.command("overlay \(process.arguments?.joined(separator: " ") ?? "")", -1, "still running after ten minutes")
            }
            usleep(5_000)
        }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }
}

/// A fixed-seed generator (SplitMix64): the same kill delays and plugin bytes on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The base and plugins, built once for the suite (rpmbuild of 16 MiB takes a while).
private struct Fixture: Sendable {
    let base: URL
    let bulk: URL
    let vdsm: URL
    let slow: URL

    static let basePackages = BuildTests.basePackages

    nonisolated(unsafe) private static var made: Fixture?
    private static let lock = NSLock()

    static func shared() throws -> Fixture {
        try lock.withLock {
            if let made { return made }
            let root = try RPMFixture.temporaryDirectory("faults-fixture")
            let base = try RPMFixture.base(basePackages, at: root.appendingPathComponent("base"))
            let bulk = try PluginFixture.make(
                at: root.appendingPathComponent("plugins/bulk"), name: "bulk", packages: ["bulk"],
                bundled: [bulkPackage(at: root)])
            try? FileManager.default.removeItem(at: root.appendingPathComponent("bulk-data"))
            let vdsm = try PluginFixture.make(at: root.appendingPathComponent("plugins/vdsm"), name: "vdsm", packages: ["vdsm"], bundled: BuildTests.vdsm)
            let slow = try PluginFixture.make(
                at: root.appendingPathComponent("plugins/slow"), name: "slow", packages: ["slow"],
                bundled: [
                    SpecPackage(
                        name: "slow", requires: ["/bin/sh"], files: ["/usr/share/slow/README": "slow\n"],
                        post: "sleep 600 &\nsleep 600\necho done > /usr/share/slow/post")
                ])
            let fixture = Fixture(base: base, bulk: bulk, vdsm: vdsm, slow: slow)
            made = fixture
            return fixture
        }
    }

    /// 16 files of 1 MiB of seeded random bytes (zstd cannot shrink them) and a %post.
    static func bulkPackage(at root: URL) throws -> SpecPackage {
        let data = root.appendingPathComponent("bulk-data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 16)
        var hostFiles: [String: String] = [:]
        for index in 0..<16 {
            let file = data.appendingPathComponent("part\(index)")
            var bytes = [UInt64](repeating: 0, count: 1 << 17)
            for word in bytes.indices { bytes[word] = random.next() }
            try bytes.withUnsafeBytes { try Data($0).write(to: file) }
            hostFiles["/usr/share/bulk/part\(index)"] = file.path
        }
        return SpecPackage(name: "bulk", requires: ["/bin/sh"], hostFiles: hostFiles, post: "echo installed > /usr/share/bulk/post")
    }
}
