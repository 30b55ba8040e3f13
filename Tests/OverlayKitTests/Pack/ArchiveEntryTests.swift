import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

@Suite struct ArchiveEntryTests {
    func entry(
        _ path: String, _ kind: ArchiveEntry.Kind, _ permissions: UInt32, inode: Int64, _ change: (inout ArchiveEntry) -> Void = { _ in }
    ) -> ArchiveEntry {
        var entry = ArchiveEntry(path: Array(path.utf8), kind: kind, permissions: permissions)
        entry.uid = 107
        entry.gid = 36
        entry.mtime = ArchiveEntry.Time(seconds: 1_700_000_000)
        entry.inode = inode
        change(&entry)
        return entry
    }

    /// Every kind of entry written through the cpio writer (the packer's hardlink resolver in front, as when
    /// packing) reads back through the reader as the same value; a second name of a file reads as a hardlink to
    /// the first, as cpio stores it.
    @Test func everyKindOfEntryRoundTripsThroughTheCpioWriterAndReader() throws {
        let dir = try PackFixture.scratch("entry")
        defer { PackFixture.remove(dir) }
        let output = dir.appending("all.cpio")
        let written: [ArchiveEntry] = [
            entry("d", .directory, 0o755, inode: 1) { $0.links = 2 },
            entry("d/file", .file, 0o4755, inode: 2) { $0.size = 6 },
            entry("d/link", .symlink, 0o777, inode: 3) { $0.symlinkTarget = Array("file".utf8) },
            entry("d/tty", .characterDevice, 0o620, inode: 4) {
                $0.rdevMajor = 4
                $0.rdevMinor = 1
            },
            entry("d/disk", .blockDevice, 0o660, inode: 5) {
                $0.rdevMajor = 8
                $0.rdevMinor = 16
            },
            entry("d/pipe", .fifo, 0o600, inode: 6),
            entry("d/socket", .socket, 0o755, inode: 7),
            entry("d/name-one", .file, 0o644, inode: 8) {
                $0.links = 2
                $0.size = 6
            },
            entry("d/name-two", .file, 0o644, inode: 8) {
                $0.links = 2
                $0.size = 6
            },
        ]
        let fd = try FileDescriptor.open(output, .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        let sink = FileSink(fd)
        let writer = try CpioWriter(sink: sink, gzip: false, output: output)
        let resolver = try #require(HardlinkResolver(formatCode: writer.formatCode))
        var ready: [ArchiveEntry] = []
        for entry in written { ready += try #require(resolver.linkify(entry)) }
        ready += resolver.drain()
        for entry in ready {
            try writer.writeHeader(entry, path: output)
            if entry.size > 0 { try Array("hello\n".utf8).withUnsafeBytes { try writer.writeData($0, path: output) } }
        }
        try writer.close()
        try fd.close()

        let reader = try ArchiveReader(path: output, formats: .cpio)
        var read: [ArchiveEntry] = []
        var data: [String: String] = [:]
        while let entry = try reader.next() {
            read.append(entry)
            if entry.kind == .file || entry.kind == .hardlink, entry.size > 0, let bytes = try reader.data(limit: 100) {
                data[entry.pathname] = String(decoding: bytes, as: UTF8.self)
            }
        }
        #expect(reader.isCpio && reader.compression == .none)

        // newc stores a file's data on its last name: the first name is written empty, the second with the data.
        // A symlink's target is its data in cpio, so it reads back with the target's length as its size.
        var expected = Array(written.prefix(7))
        expected[2].size = 4
        expected.append(entry("d/name-one", .file, 0o644, inode: 8) { $0.links = 2 })
        expected.append(
            entry("d/name-two", .hardlink, 0o644, inode: 8) {
                $0.links = 2
                $0.size = 6
                $0.hardlinkTarget = Array("d/name-one".utf8)
            })
        #expect(read.map(\.pathname) == expected.map(\.pathname))
        for (got, want) in zip(read, expected) {
            #expect(got == want, "\(want.pathname)")
        }
        #expect(data == ["d/file": "hello\n", "d/name-two": "hello\n"])
    }
}
