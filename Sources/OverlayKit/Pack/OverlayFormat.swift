#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// The shapes an overlay can take: a cpio newc archive (zstd- or gzip-compressed or bare) that Linux unpacks
/// into its rootfs after the base initrd, or a squashfs layer to mount.
public enum OverlayFormat: String, Sendable, CaseIterable, Codable {
    case cpioZstd = "cpio.zst"
    case cpioGzip = "cpio.gz"
    case cpio = "cpio"
    case squashfs = "squashfs"

    /// The file name extension for this format, without the leading dot.
    public var fileExtension: String { rawValue }

    /// Recognizes a format from the first bytes of a file: the zstd frame magic, the gzip magic, the newc
    /// magic `070701`/`070702`, or the squashfs superblock magic `hsqs`. Returns nil for anything else.
    public static func detect(magic bytes: some Collection<UInt8>) -> OverlayFormat? {
        let head = Array(bytes.prefix(6))
        if head.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .cpioZstd }
        if head.starts(with: [0x1F, 0x8B]) { return .cpioGzip }
        if head.starts(with: Array("070701".utf8)) || head.starts(with: Array("070702".utf8)) { return .cpio }
        if head.starts(with: Array("hsqs".utf8)) { return .squashfs }
        return nil
    }

    /// Reads the first bytes of `path` and recognizes its format (see `detect(magic:)`).
    public static func detect(file path: FilePath) throws -> OverlayFormat? {
        let fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        var head = [UInt8](repeating: 0, count: 6)
        let count = try head.withUnsafeMutableBytes { try fd.descriptor.read(into: $0) }
        return detect(magic: head.prefix(count))
    }
}
