import SystemPackage
import Posix

/// Why packing or reading an overlay failed. Each description is one sentence naming the file.
public enum PackError: UserError, Sendable {
    /// The tree holds a device node, FIFO or socket, which an overlay must not carry.
    case unsupportedFileType(path: FilePath, kind: String)
    /// A directory or file of the tree could not be read.
    case unreadable(path: FilePath, reason: String)
    /// The overlay file could not be written.
    case cannotWrite(path: FilePath, reason: String)
    /// The overlay could not be written: its filesystem (or quota) is full.
    case noSpace(path: FilePath)
    /// A file changed size while it was being packed.
    case changedWhilePacking(path: FilePath)
    /// libarchive refused an entry or a write; `message` is `archive_error_string`.
    case archive(path: FilePath, message: String)
    /// libzstd failed; `message` is `ZSTD_getErrorName`.
    case zstd(path: FilePath, message: String)
    /// An external program (mksquashfs, unsquashfs, mkfs.erofs, fsck.erofs) failed.
    case tool(name: String, path: FilePath, status: Int32, stderr: String)
    /// The file is not an overlay in any known format.
    case notAnOverlay(path: FilePath)
    /// A `.json` given to inspect that is not an overlay's or a base's manifest naming its file.
    case notAManifest(path: FilePath)
    /// The overlay is damaged (a truncated or corrupt compressed stream or archive).
    case corrupt(path: FilePath, message: String)
    /// The overlay holds no `/etc/ovirt.plugins.d/<name>` registry entry.
    case noRegistryEntry(path: FilePath)
    /// A registry entry inside the overlay is malformed.
    case badRegistryEntry(path: FilePath, message: String)

    public var description: String {
        switch self {
        case .unsupportedFileType(let path, let kind):
            return "\(path) is a \(kind), which an overlay cannot carry: remove it from the plugin's tree or blacklist it"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .cannotWrite(let path, let reason):
            return "cannot write the overlay \(path): \(reason)"
        case .noSpace(let path):
            return "no space left on device while writing \(path): free space or choose another --out"
        case .changedWhilePacking(let path):
            return "\(path) changed size while it was being packed: nothing may write to the tree during packing; run again"
        case .archive(let path, let message):
            return "cannot write the archive entry for \(path): \(message)"
        case .zstd(let path, let message):
            return "zstd compression of \(path) failed: \(message)"
        case .tool(let name, let path, let status, let stderr):
            let detail = stderr.split(whereSeparator: \.isNewline).last.map { ": \($0)" } ?? ""
            return "\(name) failed on \(path) with exit status \(status)\(detail)"
        case .notAnOverlay(let path):
            return "\(path) is not an overlay: expected a cpio archive (bare, gzip or zstd), a squashfs or an erofs image"
        case .notAManifest(let path):
            return "\(path) is not a manifest overlay wrote (<name>-<version>.json or base.json naming its file): give the overlay or base image file itself"
        case .corrupt(let path, let message):
            return "\(path) is damaged (\(message)): rebuild or download the overlay again"
        case .noRegistryEntry(let path):
            return "\(path) holds no plugin registry entry (etc/ovirt.plugins.d/<name>): it was not built by overlay or is incomplete"
        case .badRegistryEntry(let path, let message):
            return "\(path) holds a malformed registry entry: \(message)"
        }
    }
}
