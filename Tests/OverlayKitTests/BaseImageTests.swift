import Foundation
import Testing
import TestSupport

/// `--base` as vendors ship it: an initramfs (cpio newc, plain, gzip, xz, zstd, several concatenated), a squashfs
/// image and a live ISO, each made at test time by the real tools (cpio, gzip, xz, zstd, mksquashfs, xorriso) from
/// a base root with a real rpmdb, and used through the release binary. Every command runs with TMPDIR set to a
/// directory of the test's own, which must be empty afterwards: an image is read into a private temporary root
/// that never outlives the command, whether it succeeded or failed.
@Suite(.serialized) struct BaseImageTests {
    let work: URL
    let base: URL
    let cache: URL
    let tmp: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("baseimages")
        base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        cache = work.appendingPathComponent("cache")
        tmp = work.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    func overlay(_ arguments: [String]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(arguments, environment: ["TMPDIR": tmp.path])
    }

    /// What the command left in its TMPDIR.
    func leftovers() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: tmp.path) }

    func shell(_ script: String) throws { try RPMFixture.run(["bash", "-euo", "pipefail", "-c", script]) }

    /// `root` as a cpio newc archive, parents before children, through `compress` ("cat" for none).
    func initramfs(of root: URL, compress: String, to file: URL) throws -> URL {
        try shell("cd '\(root.path)' && find . | LC_ALL=C sort | cpio -o -H newc --quiet | \(compress) > '\(file.path)'")
        return file
    }

    func squashfs(of root: URL, to file: URL) throws -> URL {
        try RPMFixture.run(["mksquashfs", root.path, file.path, "-noappend", "-quiet", "-no-progress", "-comp", "zstd", "-no-xattrs"])
        return file
    }

    /// A live ISO as RHEL and Fedora ship them: images/pxeboot/{vmlinuz,initrd.img} and LiveOS/squashfs.img.
    func liveISO(squashfs: URL, initrd: URL, to file: URL, liveOS: Bool = true) throws -> URL {
        let layout = work.appendingPathComponent("iso-\(file.lastPathComponent)")
        try FileManager.default.createDirectory(at: layout.appendingPathComponent("images/pxeboot"), withIntermediateDirectories: true)
        try Data("a kernel\n".utf8).write(to: layout.appendingPathComponent("images/pxeboot/vmlinuz"))
        try FileManager.default.copyItem(at: initrd, to: layout.appendingPathComponent("images/pxeboot/initrd.img"))
        if liveOS {
            try FileManager.default.createDirectory(at: layout.appendingPathComponent("LiveOS"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: squashfs, to: layout.appendingPathComponent("LiveOS/squashfs.img"))
        }
        try RPMFixture.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", file.path, "-R", "-J", "-V", "TEST_LIVE", layout.path])
        return file
    }

    func vdsmPlugin() throws -> URL {
        try PluginFixture.make(at: work.appendingPathComponent("plugins/vdsm"), name: "vdsm", packages: ["vdsm"], bundled: BuildTests.vdsm)
    }

    /// The identity `plan --json` reports for a base.
    func identity(_ base: URL, plugin: URL) throws -> String? {
        let result = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "--no-cache", "--json"])
        guard result.status == 0 else { return nil }
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["base"] as? String
    }

    @Test func everyFormOfTheSameBasePlansAsItsDirectoryDoes() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let expected = try overlay(["plan", "--base", base.path, "--plugin", plugin.path, "--no-cache"])
        #expect(expected.status == 0, "\(expected.stderr)")
        #expect(expected.stdout.contains("plugin vdsm 1.0: adds 2 packages"), "\(expected.stdout)")
        let cpioZstd = try initramfs(of: base, compress: "zstd -q -19", to: work.appendingPathComponent("base.cpio.zst"))
        let sqfs = try squashfs(of: base, to: work.appendingPathComponent("base.squashfs"))
        let forms = [
            try initramfs(of: base, compress: "cat", to: work.appendingPathComponent("base.cpio")),
            try initramfs(of: base, compress: "gzip -n", to: work.appendingPathComponent("base.cpio.gz")),
            try initramfs(of: base, compress: "xz --check=crc32", to: work.appendingPathComponent("base.cpio.xz")),
            cpioZstd, sqfs,
            try liveISO(squashfs: sqfs, initrd: cpioZstd, to: work.appendingPathComponent("live.iso")),
        ]
        for form in forms {
            let planned = try overlay(["plan", "--base", form.path, "--plugin", plugin.path, "--no-cache"])
            #expect(planned.status == 0, "\(form.lastPathComponent): \(planned.stderr)")
            #expect(planned.stdout == expected.stdout, "\(form.lastPathComponent)")
            #expect(try leftovers() == [], "\(form.lastPathComponent)")
        }
    }

    @Test func anOverlayBuiltAgainstAnyFormIsByteIdentical() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let cpioZstd = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("base.cpio.zst"))
        let sqfs = try squashfs(of: base, to: work.appendingPathComponent("base.squashfs"))
        let iso = try liveISO(squashfs: sqfs, initrd: cpioZstd, to: work.appendingPathComponent("live.iso"))
        var built: [String: [Data]] = [:]
        for (name, form) in [("directory", base), ("cpio.zst", cpioZstd), ("squashfs", sqfs), ("iso", iso)] {
            let out = work.appendingPathComponent("out-\(name)")
            let result = try overlay(["build", "--base", form.path, "--plugin", plugin.path, "--out", out.path, "--cachedir", cache.path])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            built[name] = try ["vdsm-1.0.cpio.zst", "vdsm-1.0.json"].map { try Data(contentsOf: out.appendingPathComponent($0)) }
            #expect(try leftovers() == [], "\(name)")
        }
        #expect(built["directory"]?.first?.isEmpty == false)
        for name in ["cpio.zst", "squashfs", "iso"] { #expect(built[name] == built["directory"], "\(name)") }
    }

    /// Linux unpacks concatenated archives in order, a later entry replacing an earlier one: here a later
    /// member carries another rpmdb, and the base is what that one lists.
    @Test func inAConcatenatedInitramfsTheLaterMemberWins() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let bigger = try RPMFixture.base(
            BuildTests.basePackages + [SpecPackage(name: "extra", files: ["/usr/bin/extra": "x\n"])], at: work.appendingPathComponent("bigger"))
        let first = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("first.cpio.zst"))
        // Only the later base's rpmdb, uncompressed and gzip-compressed: both as initramfs members.
        let rpmdbOnly = work.appendingPathComponent("rpmdb-only")
        try shell("mkdir -p '\(rpmdbOnly.path)/var/lib' && cp -a '\(bigger.path)/var/lib/rpm' '\(rpmdbOnly.path)/var/lib/'")
        let laterPlain = try initramfs(of: rpmdbOnly, compress: "cat", to: work.appendingPathComponent("later.cpio"))
        let laterGzip = try initramfs(of: rpmdbOnly, compress: "gzip -n", to: work.appendingPathComponent("later.cpio.gz"))
        let baseIdentity = try #require(try identity(base, plugin: plugin))
        let biggerIdentity = try #require(try identity(bigger, plugin: plugin))
        #expect(baseIdentity != biggerIdentity)

        func concatenated(_ name: String, _ parts: [URL], padding: Bool = false) throws -> URL {
            let file = work.appendingPathComponent(name)
            var data = Data()
            for part in parts {
                data += try Data(contentsOf: part)
                if padding { data += Data(count: 512) }  // zero padding between members, as boot loaders leave it
            }
            try data.write(to: file)
            return file
        }
        #expect(try identity(try concatenated("a", [first, laterGzip]), plugin: plugin) == biggerIdentity)
        #expect(try identity(try concatenated("b", [first, laterPlain], padding: true), plugin: plugin) == biggerIdentity)
        #expect(try identity(try concatenated("c", [laterPlain, laterGzip, first]), plugin: plugin) == baseIdentity)
        // Two zstd members, as `cat base.cpio.zst overlay.cpio.zst` makes them.
        let laterZstd = try initramfs(of: rpmdbOnly, compress: "zstd -q", to: work.appendingPathComponent("later.cpio.zst"))
        #expect(try identity(try concatenated("d", [first, laterZstd]), plugin: plugin) == biggerIdentity)
        // Two gzip members, which gzip reads as one stream holding two archives.
        let firstGzip = try initramfs(of: base, compress: "gzip -n", to: work.appendingPathComponent("first.cpio.gz"))
        #expect(try identity(try concatenated("e", [firstGzip, laterGzip]), plugin: plugin) == biggerIdentity)
        #expect(try leftovers() == [])
    }

    @Test func damagedAndUnknownImagesAreOneLineErrorsAndLeaveNothingBehind() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let cpioZstd = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("base.cpio.zst"))
        let cpioGzip = try initramfs(of: base, compress: "gzip -n", to: work.appendingPathComponent("base.cpio.gz"))
        let sqfs = try squashfs(of: base, to: work.appendingPathComponent("base.squashfs"))
        func truncated(_ file: URL, to fraction: Double) throws -> URL {
            let data = try Data(contentsOf: file)
            let cut = work.appendingPathComponent("cut-" + file.lastPathComponent)
            try data.prefix(Int(Double(data.count) * fraction)).write(to: cut)
            return cut
        }
        let notCpio = work.appendingPathComponent("tar.gz")
        try shell("tar -C '\(base.path)' -czf '\(notCpio.path)' .")
        let text = work.appendingPathComponent("notes.txt")
        try Data("just some text\n".utf8).write(to: text)
        let noLive = try liveISO(squashfs: sqfs, initrd: cpioZstd, to: work.appendingPathComponent("nolive.iso"), liveOS: false)

        let cases: [(URL, String)] = [
            (try truncated(cpioZstd, to: 0.5), "is a damaged or truncated initramfs image: the zstd member at byte 0"),
            (try truncated(cpioGzip, to: 0.5), "is a damaged or truncated initramfs image: the gzip member at byte 0"),
            (try truncated(sqfs, to: 0.5), "is a damaged or truncated squashfs image"),
            (notCpio, "is a damaged or truncated initramfs image: the gzip member at byte 0: the decompressed data holds no cpio archive"),
            (text, "is unknown data (first bytes 6a 75 73 74 20 73 6f 6d); --base takes a root directory, an initramfs"),
            (noLive, "is an ISO 9660 image without LiveOS/squashfs.img; --base takes a live ISO laid out as RHEL"),
        ]
        for (image, words) in cases {
            for command in ["plan", "build"] {
                let arguments =
                    [command, "--base", image.path, "--plugin", plugin.path, "--no-cache"]
                    + (command == "build" ? ["--out", work.appendingPathComponent("out").path] : [])
                let result = try overlay(arguments)
                #expect(result.status == 1, "\(command) \(image.lastPathComponent): \(result.stderr)")
                #expect(result.stderr.hasPrefix("overlay: base \(image.path) \(words)"), "\(command): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(try leftovers() == [], "\(command) \(image.lastPathComponent)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("out/vdsm-1.0.cpio.zst").path))
    }

    /// The older live media layout: the squashfs holds an ext4 LiveOS/rootfs.img. Named, with what to do.
    @Test func anExt4RootInsideTheSquashfsIsNamedWithWhatToDo() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let layout = work.appendingPathComponent("old-layout")
        let ext4 = layout.appendingPathComponent("LiveOS/rootfs.img")
        try FileManager.default.createDirectory(at: ext4.deletingLastPathComponent(), withIntermediateDirectories: true)
        try RPMFixture.run(["mkfs.ext4", "-q", "-d", base.path, ext4.path, "16M"])
        let sqfs = try squashfs(of: layout, to: work.appendingPathComponent("old.squashfs"))
        let initrd = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("base.cpio.zst"))
        let iso = try liveISO(squashfs: sqfs, initrd: initrd, to: work.appendingPathComponent("old.iso"))
        let result = try overlay(["plan", "--base", iso.path, "--plugin", plugin.path, "--no-cache"])
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "overlay: base \(iso.path) holds its root as an ext4 image (LiveOS/squashfs.img containing LiveOS/rootfs.img, the older live media layout), which overlay does not read; mount it read-only (mount -o loop,ro) or unpack it and pass the directory as --base\n"
        )
        #expect(try leftovers() == [])
    }

    /// `base import` copies the vendor's files unmodified and records the identity of the image's rpmdb: the
    /// same as the unpacked root's, and the same on a second import.
    @Test func importingALiveISOGivesItsFilesUnmodifiedAndAStableIdentity() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let initrd = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("base.cpio.zst"))
        let sqfs = try squashfs(of: base, to: work.appendingPathComponent("base.squashfs"))
        let iso = try liveISO(squashfs: sqfs, initrd: initrd, to: work.appendingPathComponent("live.iso"))
        let first = work.appendingPathComponent("imported-1")
        let second = work.appendingPathComponent("imported-2")
        for out in [first, second] {
            let result = try overlay(["base", "import", iso.path, "--out", out.path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("\(out.path)/initrd.img"), "\(result.stdout)")
        }
        #expect(try Data(contentsOf: first.appendingPathComponent("base.json")) == Data(contentsOf: second.appendingPathComponent("base.json")))
        #expect(try Data(contentsOf: first.appendingPathComponent("initrd.img")) == Data(contentsOf: initrd))
        #expect(try Data(contentsOf: first.appendingPathComponent("squashfs.img")) == Data(contentsOf: sqfs))
        #expect(try Data(contentsOf: first.appendingPathComponent("vmlinuz")) == Data("a kernel\n".utf8))
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: first.appendingPathComponent("base.json"))) as? [String: Any])
        #expect(manifest["identity"] as? String == (try identity(base, plugin: plugin)))
        #expect(manifest["file"] as? String == "initrd.img")
        #expect(manifest["kernel"] as? String == "vmlinuz")
        #expect((manifest["packages"] as? [String])?.count == BuildTests.basePackages.count)
        // A second import into the same directory is refused, and changes nothing there.
        let again = try overlay(["base", "import", iso.path, "--out", first.path])
        #expect(again.status == 1)
        #expect(again.stderr == "overlay: \(first.path)/base.json already exists; remove it or choose another --out directory\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: first.path).sorted() == ["base.json", "initrd.img", "squashfs.img", "vmlinuz"])
        // A directory is not an image to import.
        let directory = try overlay(["base", "import", base.path, "--out", work.appendingPathComponent("imported-3").path])
        #expect(directory.status == 1)
        #expect(directory.stderr.hasPrefix("overlay: base \(base.path) is a directory; base import takes an image"), "\(directory.stderr)")
        #expect(try leftovers() == [])
    }

    /// SIGINT while a build against an image installs (a %post sleeping in the chroot over the extracted root):
    /// the build stops, and the extracted root goes with its unfinished files.
    @Test func anInterruptedBuildRemovesTheExtractedBase() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let slow = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/slow"), name: "slow", packages: ["slow"],
            bundled: [
                SpecPackage(
                    name: "slow", requires: ["/bin/sh"], files: ["/usr/share/slow/README": "slow\n"], post: "sleep 600\necho done > /usr/share/slow/post")
            ])
        let image = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("base.cpio.zst"))
        let out = work.appendingPathComponent("out")
        let run = try BackgroundBuild(
            ["build", "--base", image.path, "--plugin", slow.path, "--out", out.path, "--cachedir", cache.path], environment: ["TMPDIR": tmp.path],
            logs: work)
        let deadline = Date().addingTimeInterval(60)
        while processes(rootedUnder: out).isEmpty && Date() < deadline { usleep(10_000) }
        #expect(try leftovers().count == 1, "the extracted base is there while the build runs")
        kill(run.pid, SIGINT)
        let end = try run.wait()
        #expect(!end.signalled && end.status == 130)
        #expect(run.stderr.hasPrefix("overlay: interrupted by SIGINT while installing plugin \"slow\""), "\(run.stderr)")
        #expect(try leftovers() == [])
        #expect(processes(rootedUnder: out).isEmpty)
    }

    /// `rebase --from` and `--to` take images as `--base` does: the same verdicts as for the directories.
    @Test func rebaseTakesImagesForBothBases() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let plugin = try vdsmPlugin()
        let cpioZstd = try initramfs(of: base, compress: "zstd -q", to: work.appendingPathComponent("base.cpio.zst"))
        let sqfs = try squashfs(of: base, to: work.appendingPathComponent("base.squashfs"))
        let directories = try overlay(["rebase", "--from", base.path, "--to", base.path, "--plugin", plugin.path, "--no-cache"])
        let images = try overlay(["rebase", "--from", cpioZstd.path, "--to", sqfs.path, "--plugin", plugin.path, "--no-cache"])
        #expect(directories.status == 0, "\(directories.stderr)")
        #expect(images.status == 0, "\(images.stderr)")
        #expect(images.stdout.contains("plugin vdsm 1.0: unchanged"), "\(images.stdout)")
        let named = images.stdout.replacingOccurrences(of: cpioZstd.path, with: base.path).replacingOccurrences(of: sqfs.path, with: base.path)
        #expect(named == directories.stdout)
        #expect(try leftovers() == [])
    }
}
