#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// The shapes an overlay can take: a cpio newc archive (zstd- or gzip-compressed or bare) that Linux unpacks
/// into its rootfs after the base initrd, or a layer to mount (squashfs or erofs), which a node's init stacks over
/// its root with overlayfs.
public enum OverlayFormat: String, Sendable, CaseIterable, Codable {
    case cpioZstd = "cpio.zst"
    case cpioGzip = "cpio.gz"
    case cpio = "cpio"
    case squashfs = "squashfs"
    case erofs = "erofs"

    /// The file name extension for this format, without the leading dot.
    public var fileExtension: String { rawValue }

    /// A file system image to mount rather than an archive to unpack.
    public var isLayer: Bool { self == .squashfs || self == .erofs }

    /// How many bytes of a file `detect(magic:)` needs: the erofs superblock starts at 1024.
    static let magicLength = 1028

    /// Recognizes a format from the first bytes of a file: the zstd frame magic, the gzip magic, the newc
    /// magic `070701`/`070702`, the squashfs superblock magic `hsqs`, or the erofs superblock magic
    /// (0xE0F5E1E2, little-endian, at byte 1024). Returns nil for anything else.
    public static func detect(magic bytes: some Collection<UInt8>) -> OverlayFormat? {
        let all = Array(bytes.prefix(magicLength))
        if all.count == magicLength, all[1024..<1028].elementsEqual([0xE2, 0xE1, 0xF5, 0xE0]) { return .erofs }
        let head = Array(all.prefix(6))
        if head.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .cpioZstd }
        if head.starts(with: [0x1F, 0x8B]) { return .cpioGzip }
        if head.starts(with: Array("070701".utf8)) || head.starts(with: Array("070702".utf8)) { return .cpio }
        if head.starts(with: Array("hsqs".utf8)) { return .squashfs }
        return nil
    }

    /// Reads the first bytes of `path` and recognizes its format (see `detect(magic:)`).
    public static func detect(file path: FilePath) throws -> OverlayFormat? {
        let fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        var head = [UInt8](repeating: 0, count: magicLength)
        var count = 0
        while count < magicLength {
            let read = try head.withUnsafeMutableBytes { try fd.descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[count...])) }
            if read == 0 { break }
            count += read
        }
        return detect(magic: head.prefix(count))
    }
}
