internal import CZstd
import SystemPackage

/// An initramfs read as Linux unpacks it: cpio (newc) archives one after the other, each stored plain or
/// compressed (gzip, xz, zstd, bzip2, lz4, lzma), zero bytes between them allowed; a later archive's entry
/// replaces an earlier one at the same path. Read with libarchive.
///
/// libarchive reads one archive up to its trailer. The members are found as the kernel finds them: a plain
/// archive ends where libarchive's reader stopped using bytes; a compressed stream is read whole (libarchive
/// joins gzip members, and zstd frames, found with `ZSTD_findFrameCompressedSize`, into one stream) and the
/// archives inside it are read one after the other, each new reader starting where the last one stopped.
struct InitramfsImage {
    let path: FilePath
    /// How errors name the image.
    let label: String

    /// What an initramfs's first bytes say it is, nil when they are not one: "cpio", or a compression's name.
    static func recognise(_ head: [UInt8]) -> String? {
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts(Array("070701".utf8)) || starts(Array("070702".utf8)) { return "cpio" }
        if starts([0x1F, 0x8B]) || starts([0x1F, 0x9E]) { return "gzip" }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz" }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return "zstd" }
        if starts(Array("BZh".utf8)) { return "bzip2" }
        if starts([0x02, 0x21, 0x4C, 0x18]) || starts([0x04, 0x22, 0x4D, 0x18]) { return "lz4" }
        if starts([0x5D, 0x00, 0x00]) { return "lzma" }
        if starts([0x89, 0x4C, 0x5A, 0x4F]) { return "lzop" }
        return nil
    }

    /// Calls `body` with every entry of every archive, in order, the reader positioned at the entry's data
    /// (`body` reads or skips it). Throws `BaseError.damagedImage` when the file ends early, a compressed stream
    /// is damaged or holds something other than cpio archives.
    func forEachEntry(_ body: (ArchiveEntry, ArchiveReader) throws -> Void) throws {
        let file: MappedFile
        do { file = try MappedFile(path) } catch { throw BaseError.unreadableImage(label, reason: "\(error)") }
        let bytes = file.bytes
        var offset = 0
        while true {
            while offset < bytes.count, bytes[offset] == 0 { offset += 1 }
            guard offset < bytes.count else { return }
            let head = Array(bytes[offset..<min(bytes.count, offset + 8)])
            guard let kind = Self.recognise(head) else {
                throw BaseError.damagedImage(
                    label, kind: "initramfs",
                    reason:
                        "byte \(offset) starts neither a cpio archive nor compressed data (\(head.prefix(4).map { String(format2: $0) }.joined(separator: " ")))"
                )
            }
            do {
                if kind == "cpio" {
                    let region = UnsafeRawBufferPointer(rebasing: bytes[offset...])
                    let reader = try ArchiveReader(memory: region, path: path, formats: .cpio, filters: false)
                    try readArchive(reader, body)
                    offset += Int(reader.consumedBytes)
                } else {
                    let end = kind == "zstd" ? try Self.zstdFramesEnd(bytes, from: offset) : bytes.count
                    let region = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
                    let stream = try ArchiveReader(memory: region, path: path, formats: .raw, filters: true)
                    guard try stream.next() != nil else { throw ArchiveReader.Failure(message: "the \(kind) data is empty", unrecognized: false) }
                    try readArchives(decompressedBy: stream, kind: kind, at: offset, body)
                    offset += Int(stream.consumedBytes)
                }
            } catch let failure as ArchiveReader.Failure {
                throw BaseError.damagedImage(label, kind: "initramfs", reason: "the \(kind) member at byte \(offset): \(failure.message)")
            }
        }
    }

    /// Every entry of one cpio archive, up to its trailer.
    private func readArchive(_ reader: ArchiveReader, _ body: (ArchiveEntry, ArchiveReader) throws -> Void) throws {
        while let entry = try reader.next() {
            guard reader.isCpio else { throw ArchiveReader.Failure(message: "it holds no cpio archive", unrecognized: true) }
            try body(entry, reader)
        }
    }

    /// The cpio archives inside one decompressed stream, one reader each, each starting where the last one
    /// stopped using bytes.
    private func readArchives(
        decompressedBy stream: ArchiveReader, kind: String, at offset: Int, _ body: (ArchiveEntry, ArchiveReader) throws -> Void
    ) throws {
        let decompressed = ArchiveStream { try stream.nextDataBlock()?.block }
        while try decompressed.skipZeros() {
            decompressed.restart()
            let reader: ArchiveReader
            do {
                reader = try ArchiveReader(stream: decompressed, path: path, formats: .cpio)
                try readArchive(reader, body)
            } catch let failure as ArchiveReader.Failure {
                if let cause = decompressed.failure { throw cause }
                if failure.unrecognized { throw ArchiveReader.Failure(message: "the decompressed data holds no cpio archive", unrecognized: true) }
                throw failure
            }
            try decompressed.giveBack(afterUsing: reader.consumedBytes)
        }
    }

    /// Where the zstd frames starting at `offset` end: libarchive's zstd reader fails on whatever follows the
    /// last frame, so it is given only the frames.
    private static func zstdFramesEnd(_ bytes: UnsafeRawBufferPointer, from offset: Int) throws -> Int {
        guard let base = bytes.baseAddress else { return offset }
        var end = offset
        while end + 4 <= bytes.count {
            let magic = bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self).littleEndian
            guard magic == 0xFD2F_B528 || magic & 0xFFFF_FFF0 == 0x184D_2A50 else { break }
            let size = ZSTD_findFrameCompressedSize(base + end, bytes.count - end)
            if ZSTD_isError(size) != 0 {
                throw ArchiveReader.Failure(message: "zstd frame at byte \(end): \(String(cString: ZSTD_getErrorName(size)))", unrecognized: false)
            }
            end += size
        }
        return end
    }
}

extension String {
    /// A byte as two hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
