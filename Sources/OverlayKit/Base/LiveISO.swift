#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// A live ISO laid out as RHEL, CentOS, Fedora and oVirt Node live media: the root filesystem in
/// `LiveOS/squashfs.img`, the kernel and initrd under `images/pxeboot/` or `isolinux/`. Read with libarchive's
/// ISO 9660 reader, which gives each file's size and, when its first block of data arrives, how far into the ISO
/// it has read: the file's byte offset, checked by comparing that block with the ISO's bytes there. The
/// squashfs is then read in place at that offset (`SquashfsReader`), never copied out.
struct LiveISO {
    /// Where a file is stored in the ISO: contiguous, uncompressed.
    struct Extent: Sendable, Equatable {
        var offset: UInt64
        var size: UInt64
    }

    let path: FilePath
    /// `LiveOS/squashfs.img`.
    let squashfs: Extent
    /// The kernel and initrd, with their paths in the ISO, when it has them.
    let kernel: (path: String, extent: Extent)?
    let initrd: (path: String, extent: Extent)?

    static let squashfsPath = "LiveOS/squashfs.img"
    static let kernelPaths = ["images/pxeboot/vmlinuz", "isolinux/vmlinuz", "isolinux/vmlinuz0"]
    static let initrdPaths = ["images/pxeboot/initrd.img", "isolinux/initrd.img", "isolinux/initrd0.img"]

    /// Reads the ISO's directory and finds the live layout's files; `label` names the ISO in errors.
    init(path: FilePath, label: String) throws {
        self.path = path
        let wanted = [Self.squashfsPath] + Self.kernelPaths + Self.initrdPaths
        var found: [String: Extent] = [:]
        let fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        do {
            let reader = try ArchiveReader(path: path, formats: .iso9660)
            while let entry = try reader.next() {
                let name = String(decoding: BaseTreeWriter.relative(entry.path), as: UTF8.self)
                guard entry.kind == .file, let match = wanted.first(where: { $0.lowercased() == name.lowercased() }), found[match] == nil else { continue }
                found[match] = try Self.extent(of: name, size: entry.size, reader: reader, fd: fd.rawValue, iso: label)
            }
        } catch let failure as ArchiveReader.Failure {
            throw BaseError.damagedImage(label, kind: "ISO 9660", reason: failure.message)
        }
        guard let squashfs = found[Self.squashfsPath] else { throw BaseError.isoWithoutLiveOS(label) }
        self.squashfs = squashfs
        kernel = Self.kernelPaths.first { found[$0] != nil }.flatMap { p in found[p].map { (p, $0) } }
        initrd = Self.initrdPaths.first { found[$0] != nil }.flatMap { p in found[p].map { (p, $0) } }
    }

    /// Where the reader's current entry is stored: libarchive hands out its first block without having consumed
    /// it, so the ISO offset is what it consumed so far, or that less the block when it already had; whichever
    /// the ISO's own bytes agree with.
    private static func extent(of name: String, size: Int64, reader: ArchiveReader, fd: Int32, iso: String) throws -> Extent {
        guard size > 0 else { return Extent(offset: 0, size: 0) }
        guard let (block, _) = try reader.nextDataBlock(), !block.isEmpty else {
            throw BaseError.damagedImage(iso, kind: "ISO 9660", reason: "\(name) has no data")
        }
        let consumed = reader.consumedBytes
        let probe = min(block.count, 4096)
        var bytes = [UInt8](repeating: 0, count: probe)
        for candidate in [consumed, consumed - Int64(block.count)] where candidate >= 0 {
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, probe, off_t(candidate)) }
            if count == probe, bytes.elementsEqual(UnsafeRawBufferPointer(rebasing: block[0..<probe])) {
                return Extent(offset: UInt64(candidate), size: UInt64(size))
            }
        }
        throw BaseError.isoFileNotInPlace(iso, file: name)
    }
}
