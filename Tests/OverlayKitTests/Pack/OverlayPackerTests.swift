import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

@Suite struct OverlayPackerTests {
    /// The progress a packer reports rises to the tree's file data, in every cpio shape; under zstd it is what zstd
    /// has compressed, which finishes only when the frame does.
    @Test(arguments: [OverlayFormat.cpioZstd, .cpioGzip, .cpio])
    func packingReportsProgressUpToTheFileData(format: OverlayFormat) throws {
        let dir = try PackFixture.scratch("progress")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        _ = try PackFixture.sh("head -c 3000000 /dev/urandom > \(PackFixture.q(root.appending("usr/lib/vdsm/big")))")
        // Each file's data once, however many names (hard links) it has.
        let total = try Int64(
            PackFixture.sh("find \(PackFixture.q(root)) -type f -printf '%i %s\\n' | sort -u | awk '{ s += $2 } END { print s }'")
                .trimmingCharacters(in: .whitespacesAndNewlines))
        final class Seen: @unchecked Sendable { var reports: [(Int64, Int64)] = [] }
        let seen = Seen()
        _ = try OverlayPacker(format: format, zstdLevel: 3).pack(root: root, to: dir.appending("out.\(format.rawValue)")) { done, all in
            seen.reports.append((done, all))
        }
        #expect(!seen.reports.isEmpty)
        #expect(seen.reports.allSatisfy { $0.1 == total })
        #expect(zip(seen.reports, seen.reports.dropFirst()).allSatisfy { $0.0 <= $1.0 })
        #expect(seen.reports.last?.0 == total)
    }

    /// Packs the fixture tree and extracts it with GNU cpio; everything a node would see must match.
    @Test(arguments: [OverlayFormat.cpioZstd, .cpioGzip, .cpio])
    func cpioExtractsToTheSameTree(format: OverlayFormat) throws {
        let dir = try PackFixture.scratch("extract")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let out = dir.appending("vdsm.\(format.rawValue)")
        let result = try OverlayPacker(format: format, sourceDateEpoch: 1_700_000_000).pack(root: root, to: out)

        #expect(result.path == out)
        #expect(result.entries == 16)
        let size = try FileManager.default.attributesOfItem(atPath: out.string)[.size] as? Int64
        #expect(result.size == size)
        let sum = try PackFixture.sh("sha256sum \(PackFixture.q(out))").prefix(64)
        #expect(result.sha256 == String(sum))

        let decompress =
            switch format {
            case .cpioZstd: "zstd -dc"
            case .cpioGzip: "gzip -dc"
            default: "cat"
            }
        let listing = try PackFixture.sh("\(decompress) \(PackFixture.q(out)) | cpio -it --quiet")
        let names = listing.split(separator: "\n").map(String.init)
        #expect(names.allSatisfy { !$0.hasPrefix("/") && !$0.hasPrefix("./") })
        #expect(
            Set(names) == [
                "etc", "etc/ovirt.plugins.d", "etc/ovirt.plugins.d/vdsm", "usr", "usr/bin", "usr/bin/hello",
                "usr/bin/key-link", "usr/lib", "usr/lib/vdsm", "usr/lib/vdsm/a-link", "usr/lib/vdsm/key",
                "usr/lib/vdsm/sub", "usr/lib/vdsm/sub/blob", "usr/lib/vdsm/sub/z-link", "var", "var/empty",
            ])

        let unpacked = dir.appending("unpacked")
        try FileManager.default.createDirectory(atPath: unpacked.string, withIntermediateDirectories: true)
        try PackFixture.sh("cd \(PackFixture.q(unpacked)) && \(decompress) \(PackFixture.q(out)) | cpio -idm --quiet --no-absolute-filenames")
        // Same contents, modes, owners, link targets; every mtime is SOURCE_DATE_EPOCH.
        let describe =
            #"cd %@ && find . -mindepth 1 -printf '%%P %%M %%U:%%G %%s %%l\n' | grep -v ' d' | sort; find . -mindepth 1 -type f | sort | xargs sha256sum"#
        let before = try PackFixture.sh(String(format: describe, PackFixture.q(root)))
        let after = try PackFixture.sh(String(format: describe, PackFixture.q(unpacked)))
        #expect(before == after)
        let dirsBefore = try PackFixture.sh("cd \(PackFixture.q(root)) && find . -mindepth 1 -type d -printf '%P %M %U:%G\\n' | sort")
        let dirsAfter = try PackFixture.sh("cd \(PackFixture.q(unpacked)) && find . -mindepth 1 -type d -printf '%P %M %U:%G\\n' | sort")
        #expect(dirsBefore == dirsAfter)
        // GNU cpio stamps files, not directories (their children touch them afterwards); the header test checks all entries.
        #expect(dirsAfter.contains("var/empty drwx------ 5:6"))
        let mtimes = try PackFixture.sh("cd \(PackFixture.q(unpacked)) && find . -type f -printf '%T@ %P\\n' | grep -v '^1700000000.0000000000 ' | sort")
        #expect(mtimes == "")
        // The hardlink pair is still one file with two names.
        let inodes = try PackFixture.sh("cd \(PackFixture.q(unpacked)) && stat -c '%i %h' usr/lib/vdsm/a-link usr/lib/vdsm/sub/z-link")
        let lines = inodes.split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == lines[1] && lines[0].hasSuffix(" 2"))
    }

    /// newc details a kernel relies on: renumbered inodes, no device numbers, no names; one zstd frame.
    @Test func headersAreNormalized() throws {
        let dir = try PackFixture.scratch("headers")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let out = dir.appending("o.cpio.zst")
        _ = try OverlayPacker(format: .cpioZstd).pack(root: root, to: out)
        let verbose = try PackFixture.sh("zstd -dc \(PackFixture.q(out)) | cpio -itv --quiet --numeric-uid-gid")
        #expect(verbose.contains("-rw------- ") && verbose.contains(" 107      36 "))
        #expect(verbose.contains("lrwxrwxrwx") && verbose.contains("usr/bin/key-link -> ../lib/vdsm/key"))
        // Exactly one frame, with a checksum, and a window the kernel's unzstd accepts.
        let info = try PackFixture.sh("zstd -lv \(PackFixture.q(out))")
        #expect(info.contains("# Zstandard Frames: 1"))
        #expect(info.contains("Check: XXH64"))
        let raw = dir.appending("o.cpio")
        try PackFixture.sh("zstd -dc \(PackFixture.q(out)) > \(PackFixture.q(raw))")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw.string)))
        // Parse the newc headers (110 bytes, hex fields) to read ino, devmajor/minor and check path order.
        var offset = 0
        var inodes: [Int] = []
        var names: [String] = []
        func field(_ index: Int) -> Int { Int(String(decoding: bytes[(offset + 6 + index * 8)..<(offset + 14 + index * 8)], as: UTF8.self), radix: 16) ?? -1 }
        while offset + 110 <= bytes.count {
            #expect(String(decoding: bytes[offset..<(offset + 6)], as: UTF8.self) == "070701")
            let nameSize = field(11)
            let fileSize = field(6)
            let name = String(decoding: bytes[(offset + 110)..<(offset + 110 + nameSize - 1)], as: UTF8.self)
            if name == "TRAILER!!!" { break }
            #expect(field(7) == 0 && field(8) == 0 && field(9) == 0 && field(10) == 0)  // dev and rdev
            #expect(field(5) == 0)  // mtime = default SOURCE_DATE_EPOCH
            inodes.append(field(0))
            names.append(name)
            offset = (offset + 110 + nameSize + 3) & ~3
            offset = (offset + fileSize + 3) & ~3
        }
        #expect(names.count == 16)
        #expect(Set(inodes) == Set(1...15))  // two names share the hardlink's inode
        // Path order, except that newc defers a hardlink's earlier name until the next one is seen.
        #expect(names.filter { $0 != "usr/lib/vdsm/a-link" } == names.filter { $0 != "usr/lib/vdsm/a-link" }.sorted())
        #expect(bytes.count - offset < 512)  // no block padding after the trailer
    }

    /// The same tree gives the same bytes, whatever order it was created in and whatever its mtimes.
    @Test(arguments: OverlayFormat.allCases)
    func packingIsReproducible(format: OverlayFormat) throws {
        let dir = try PackFixture.scratch("repro")
        defer { PackFixture.remove(dir) }
        let first = dir.appending("first")
        let second = dir.appending("second")
        try PackFixture.makeTree(at: first)
        try PackFixture.makeTree(at: second, reversed: true, mtime: "2024-06-07 08:09:10")
        // Same random blob in both trees.
        try PackFixture.sh(
            "cp \(PackFixture.q(first))/usr/lib/vdsm/sub/blob \(PackFixture.q(second))/usr/lib/vdsm/sub/blob && touch -d '2011-01-01' \(PackFixture.q(second))/usr/lib/vdsm/sub/blob"
        )
        let packer = OverlayPacker(format: format, sourceDateEpoch: 1_600_000_000)
        let a = try packer.pack(root: first, to: dir.appending("a.\(format.rawValue)"))
        let b = try packer.pack(root: first, to: dir.appending("b.\(format.rawValue)"))
        let c = try packer.pack(root: second, to: dir.appending("c.\(format.rawValue)"))
        try PackFixture.sh("cmp \(PackFixture.q(a.path)) \(PackFixture.q(b.path)) && cmp \(PackFixture.q(a.path)) \(PackFixture.q(c.path))")
        #expect(a.sha256 == b.sha256 && a.sha256 == c.sha256)
    }

    @Test func squashfsHoldsTheTree() throws {
        let dir = try PackFixture.scratch("squash")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        let out = dir.appending("vdsm.squashfs")
        let result = try OverlayPacker(format: .squashfs, sourceDateEpoch: 1_700_000_000).pack(root: root, to: out)
        #expect(result.sha256 == String(try PackFixture.sh("sha256sum \(PackFixture.q(out))").prefix(64)))
        let listing = try PackFixture.sh("unsquashfs -lln \(PackFixture.q(out))")
        #expect(listing.contains("-rw------- 107/36"))
        #expect(listing.contains("squashfs-root/usr/bin/key-link -> ../lib/vdsm/key"))
        #expect(listing.contains("drwx------ 5/6"))
        let stats = try PackFixture.sh("unsquashfs -s \(PackFixture.q(out))")
        #expect(stats.contains("Compression zstd"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.string).sorted() == ["root", "vdsm.squashfs"])
    }

    @Test(arguments: [OverlayFormat.cpioZstd, .squashfs])
    func deviceNodeIsRefusedAndNothingAppears(format: OverlayFormat) throws {
        let dir = try PackFixture.scratch("device")
        defer { PackFixture.remove(dir) }
        let root = dir.appending("root")
        try PackFixture.makeTree(at: root)
        try PackFixture.sh("mknod \(PackFixture.q(root))/usr/lib/vdsm/null c 1 3")
        let out = dir.appending("o.\(format.rawValue)")
        try PackFixture.sh("printf old > \(PackFixture.q(out))")
        #expect {
            try OverlayPacker(format: format).pack(root: root, to: out)
        } throws: { error in
            "\(error)" == "\(root)/usr/lib/vdsm/null is a character device, which an overlay cannot carry: remove it from the plugin's tree or blacklist it"
        }
        // The old file is untouched and no partial file is left beside it.
        #expect(try String(contentsOfFile: out.string, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.string).sorted() == ["o.\(format.rawValue)", "root"])
    }

    @Test func unreadableRootLeavesNoFile() throws {
        let dir = try PackFixture.scratch("missing")
        defer { PackFixture.remove(dir) }
        let out = dir.appending("o.cpio.zst")
        #expect {
            try OverlayPacker(format: .cpioZstd).pack(root: dir.appending("absent"), to: out)
        } throws: { error in
            "\(error)" == "cannot read \(dir)/absent: No such file or directory"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.string).isEmpty)
    }

    /// A file also linked from outside the tree is an ordinary file in the overlay: one name, its data.
    @Test func linkOutsideTheTreeIsAPlainFile() throws {
        let dir = try PackFixture.scratch("outside-link")
        defer { PackFixture.remove(dir) }
        let q = PackFixture.q
        try PackFixture.sh("mkdir -p \(q(dir))/root/etc && echo data > \(q(dir))/root/etc/conf && ln \(q(dir))/root/etc/conf \(q(dir))/elsewhere")
        let out = dir.appending("o.cpio")
        _ = try OverlayPacker(format: .cpio).pack(root: dir.appending("root"), to: out)
        let listing = try PackFixture.sh("cpio -itv --quiet --numeric-uid-gid < \(q(out))")
        #expect(listing.contains("-rw-r--r--   1 0        0               5 ") && listing.contains(" etc/conf\n"))
        let unpacked = dir.appending("unpacked")
        try PackFixture.sh("mkdir \(q(unpacked)) && cd \(q(unpacked)) && cpio -id --quiet < \(q(out)) && cat etc/conf")
        #expect(try String(contentsOfFile: unpacked.appending("etc/conf").string, encoding: .utf8) == "data\n")
    }

    @Test func missingOutputDirectoryIsASentence() throws {
        let dir = try PackFixture.scratch("no-output-dir")
        defer { PackFixture.remove(dir) }
        try PackFixture.makeTree(at: dir.appending("root"))
        for format in OverlayFormat.allCases {
            let out = dir.appending("absent/o.\(format.rawValue)")
            #expect {
                try OverlayPacker(format: format).pack(root: dir.appending("root"), to: out)
            } throws: { error in
                let text = "\(error)"
                return text.contains("\(dir)/absent") && !text.contains("\n")
            }
        }
    }
}
