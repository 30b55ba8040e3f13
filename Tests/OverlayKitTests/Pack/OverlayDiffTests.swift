import Foundation
import SystemPackage
import Testing
@testable import OverlayKit
import TestSupport

@Suite struct OverlayDiffTests {
    /// Two versions of a plugin's tree, packed in different formats: the diff names each package, file and registry
    /// key that changed, whatever the format, and the same overlay twice gives no difference.
    @Test(arguments: [OverlayFormat.squashfs, .erofs, .cpioGzip])
    func namesWhatChangedBetweenTwoOverlays(format: OverlayFormat) throws {
        let dir = try PackFixture.scratch("diff")
        defer { PackFixture.remove(dir) }
        let old = dir.appending("old")
        let new = dir.appending("new")
        try PackFixture.makeTree(at: old)
        try PackFixture.makeTree(at: new)
        let n = PackFixture.q(new)
        try PackFixture.sh(
            [
                "cp \(PackFixture.q(old))/usr/lib/vdsm/sub/blob \(n)/usr/lib/vdsm/sub/blob",  // same random bytes
                "printf 'HELLO\\n' > \(n)/usr/bin/hello",  // same size, other bytes
                "chmod 0644 \(n)/usr/lib/vdsm/key",
                "rm \(n)/usr/bin/key-link && ln -s ../lib/vdsm/sub/blob \(n)/usr/bin/key-link",
                "printf 'new\\n' > \(n)/usr/bin/added",
                "rm -r \(n)/var/empty",
                "sed -i -e 's/vdsm-1.0-1.noarch/vdsm-1.1-1.noarch/' -e 's/ python3-libvirt-9.0-1.x86_64/ libvirt-client-9.0-1.x86_64/' -e 's/VERSION=\"1.0\"/VERSION=\"1.1\"/' \(n)/etc/ovirt.plugins.d/vdsm",
            ].joined(separator: " && "))
        let a = try OverlayPacker(format: .cpioZstd, sourceDateEpoch: 5).pack(root: old, to: dir.appending("a.overlay")).path
        let b = try OverlayPacker(format: format, sourceDateEpoch: 5).pack(root: new, to: dir.appending("b.overlay")).path

        let diff = try OverlayDiff(from: a, to: b)
        #expect(diff.packagesAdded == ["libvirt-client-9.0-1.x86_64"])
        #expect(diff.packagesRemoved == ["python3-libvirt-9.0-1.x86_64"])
        #expect(diff.packagesChanged == [.init(name: "vdsm", from: "vdsm-1.0-1.noarch", to: "vdsm-1.1-1.noarch")])
        #expect(diff.filesAdded == ["usr/bin/added"])
        #expect(diff.filesRemoved == ["var/empty"])
        #expect(diff.filesChanged.map(\.path) == ["etc/ovirt.plugins.d/vdsm", "usr/bin/hello", "usr/bin/key-link", "usr/lib/vdsm/key"])
        #expect(diff.filesChanged.map(\.changed) == [["size"], ["content"], ["size", "target"], ["mode"]])
        #expect(diff.filesChanged[1].from.sha256 != nil && diff.filesChanged[1].from.sha256 != diff.filesChanged[1].to.sha256)
        #expect(diff.registryChanges.map(\.key) == ["PACKAGES", "VERSION"])
        #expect(diff.registryChanges.last == .init(plugin: "vdsm", key: "VERSION", from: "1.0", to: "1.1"))
        let text = diff.text()
        #expect(text.contains("  ~ vdsm-1.0-1.noarch → vdsm-1.1-1.noarch\n"))
        #expect(text.contains("  ~ /usr/lib/vdsm/key: mode 0600 → 0644\n"))
        #expect(text.contains("  + /usr/bin/added\n"))

        let same = try OverlayDiff(from: a, to: a)
        #expect(same.isEmpty)
        #expect(same.text() == "\(a) and \(a) hold the same packages, files and registry entries\n")
    }

    /// Through the release binary: a manifest stands for its overlay, `--json` is stable, and a file that is not an
    /// overlay is one sentence and exit 1.
    @Test func theCommandTakesManifestsAndSaysWhenItCannotRead() throws {
        let dir = try PackFixture.scratch("diff-cli")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        _ = try OverlayPacker(format: .cpioZstd).pack(root: root, to: dir.appending("vdsm-1.0.cpio.zst"))
        try Data(
            #"{"kind":"overlay","name":"vdsm","version":"1.0","summary":"","format":"cpio.zst","file":"vdsm-1.0.cpio.zst","size":1,"sha256":"x","base":"b","packages":[],"removed":[],"requires":[]}"#
                .utf8
        )
        .write(to: URL(fileURLWithPath: dir.appending("vdsm-1.0.json").string))
        let same = try OverlayCommand.run(["diff", dir.appending("vdsm-1.0.json").string, dir.appending("vdsm-1.0.cpio.zst").string, "--json"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("\"filesChanged\" : [\n\n  ]"))
        let bad = try OverlayCommand.run(["diff", dir.appending("vdsm-1.0.cpio.zst").string, root.appending("usr/bin/hello").string])
        #expect(bad.status == 1)
        #expect(
            bad.stderr
                == "overlay: \(root)/usr/bin/hello is not an overlay: expected a cpio archive (bare, gzip or zstd), a squashfs or an erofs image\n")
    }
}
