import Foundation
import SystemPackage
import Testing
@testable import OverlayKit
import TestSupport

@Suite struct OverlayReaderTests {
    /// What packing wrote, reading gives back, for every format (detected from content, not name).
    @Test(arguments: OverlayFormat.allCases)
    func readsWhatWasPacked(format: OverlayFormat) throws {
        let dir = try PackFixture.scratch("read")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let out = dir.appending("overlay.bin")  // no telling extension
        _ = try OverlayPacker(format: format, sourceDateEpoch: 5).pack(root: root, to: out)
        let contents = try OverlayReader.read(out)
        #expect(contents.format == format)
        #expect(contents.entries.count == 16)
        let byPath = Dictionary(uniqueKeysWithValues: contents.entries.map { ($0.path, $0) })
        #expect(byPath["usr/lib/vdsm/key"] == .init(path: "usr/lib/vdsm/key", kind: .file, mode: 0o600, uid: 107, gid: 36, size: 6, linkTarget: nil))
        #expect(byPath["usr/bin/key-link"]?.kind == .symlink)
        #expect(byPath["usr/bin/key-link"]?.linkTarget == "../lib/vdsm/key")
        #expect(byPath["var/empty"] == .init(path: "var/empty", kind: .directory, mode: 0o700, uid: 5, gid: 6, size: 0, linkTarget: nil))
        #expect(byPath["usr/bin/hello"]?.mode == 0o755)
        // cpio stores a hardlink's data once; a layer lists every name of it as a file.
        let registrySize = try PackFixture.sh("stat -c %s \(PackFixture.q(root))/etc/ovirt.plugins.d/vdsm")
        let expected = 6 + 6 + 300_000 + 12 + (Int64(registrySize.dropLast()) ?? 0) + (format.isLayer ? 12 : 0)
        #expect(contents.totalBytes == expected)
        #expect(contents.registry["vdsm"]?["NAME"] == "vdsm")
        let entries = try contents.registryEntries()
        #expect(
            entries == [
                RegistryEntry(
                    name: "vdsm", version: "1.0", summary: "Virtual Desktop Server Manager",
                    packages: ["vdsm-1.0-1.noarch", "python3-libvirt-9.0-1.x86_64"], base: "sha256:abc")
            ])
    }

    @Test func inspectionPrintsSummaryAndStableJSON() throws {
        let dir = try PackFixture.scratch("inspect")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let out = dir.appending("vdsm.cpio.zst")
        let packed = try OverlayPacker(format: .cpioZstd).pack(root: root, to: out)
        let inspection = try OverlayInspection(path: out)
        let text = inspection.text()
        #expect(text.contains("format:   cpio.zst\n"))
        #expect(text.contains("size:     \(packed.size) bytes\n"))
        #expect(text.contains("sha256:   \(packed.sha256)\n"))
        #expect(text.contains("plugin:   vdsm 1.0\n"))
        #expect(text.contains("packages: vdsm-1.0-1.noarch python3-libvirt-9.0-1.x86_64\n"))
        #expect(text.contains("entries:  16 (\(inspection.totalBytes) bytes of file data)\n"))
        #expect(inspection.totalBytes > 300_000)
        #expect(text.contains("-rw------- 107:36      6 usr/lib/vdsm/key\n"))
        #expect(text.contains("lrwxrwxrwx 0:0        15 usr/bin/key-link -> ../lib/vdsm/key\n"))
        let json = try inspection.json()
        #expect(try inspection.json() == json)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["format"] as? String == "cpio.zst")
        #expect(object?["entryCount"] as? Int == 16)
        let plugins = object?["plugins"] as? [[String: Any]]
        #expect(plugins?.first?["name"] as? String == "vdsm")
        let items = object?["entries"] as? [[String: Any]]
        #expect(items?.contains { $0["path"] as? String == "var/empty" && $0["mode"] as? String == "0700" } == true)
    }

    @Test func errorsNameTheFile() throws {
        let dir = try PackFixture.scratch("errors")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let good = dir.appending("good.cpio.zst")
        _ = try OverlayPacker(format: .cpioZstd).pack(root: root, to: good)
        let q = PackFixture.q
        // Truncated and corrupted zstd, plain text, zstd of something that is not cpio.
        try PackFixture.sh("head -c $(( $(stat -c %s \(q(good))) / 2 )) \(q(good)) > \(q(dir))/half.zst")
        try PackFixture.sh("echo hello > \(q(dir))/text; echo hello | zstd -q > \(q(dir))/text.zst")
        try PackFixture.sh("printf 'NAME=\"vdsm\"\\nbroken line\\n' > \(q(root))/etc/ovirt.plugins.d/vdsm")
        _ = try OverlayPacker(format: .cpio).pack(root: root, to: dir.appending("broken.cpio"))
        try PackFixture.sh("rm \(q(root))/etc/ovirt.plugins.d/vdsm")
        _ = try OverlayPacker(format: .cpioGzip).pack(root: root, to: dir.appending("bare.cpio.gz"))
        _ = try OverlayPacker(format: .squashfs).pack(root: root, to: dir.appending("bare.squashfs"))
        try PackFixture.sh("head -c 4096 \(q(dir))/bare.squashfs > \(q(dir))/short.squashfs")
        let expected = [
            "text": "\(dir)/text is not an overlay: expected a cpio archive (bare, gzip or zstd), a squashfs or an erofs image",
            "text.zst": "\(dir)/text.zst is not an overlay: expected a cpio archive (bare, gzip or zstd), a squashfs or an erofs image",
            "broken.cpio": #"\#(dir)/broken.cpio holds a malformed registry entry: etc/ovirt.plugins.d/vdsm:2: expected KEY="value", found "broken line""#,
            "bare.cpio.gz": "\(dir)/bare.cpio.gz holds no plugin registry entry (etc/ovirt.plugins.d/<name>): it was not built by overlay or is incomplete",
            "bare.squashfs": "\(dir)/bare.squashfs holds no plugin registry entry (etc/ovirt.plugins.d/<name>): it was not built by overlay or is incomplete",
        ]
        for (name, message) in expected {
            #expect { try OverlayReader.read(dir.appending(name)) } throws: { "\($0)" == message }
        }
        for name in ["half.zst", "short.squashfs"] {
            #expect { try OverlayReader.read(dir.appending(name)) } throws: { error in
                "\(error)".hasPrefix("\(dir)/\(name) is damaged (") && !"\(error)".contains("\n")
            }
        }
    }

    /// The command a user runs: text, JSON, and a one-line error with exit status 1.
    @Test func inspectCommand() throws {
        let binary = OverlayCommand.executable.path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build the overlay executable first (swift build)")
        let dir = try PackFixture.scratch("cli")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let out = dir.appending("vdsm.cpio.gz")
        _ = try OverlayPacker(format: .cpioGzip).pack(root: root, to: out)
        let text = try PackFixture.sh("\(binary) inspect \(PackFixture.q(out))")
        #expect(text.hasPrefix("file:     \(out)\nformat:   cpio.gz\n"))
        let json = try PackFixture.sh("\(binary) inspect --json \(PackFixture.q(out))")
        #expect(json == (try OverlayInspection(path: out).json()))
        let failed = try PackFixture.run("\(binary) inspect \(PackFixture.q(root))/usr/bin/hello")
        #expect(failed.status == 1)
        #expect(failed.stdout.isEmpty)
        #expect(
            failed.stderr == "overlay: \(root)/usr/bin/hello is not an overlay: expected a cpio archive (bare, gzip or zstd), a squashfs or an erofs image\n")
    }
}
