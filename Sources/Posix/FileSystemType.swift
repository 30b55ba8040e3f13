internal import CLinux
import SystemPackage

/// The type of a mounted filesystem, as `statfs(2)` reports it in `f_type` (linux/magic.h's `*_SUPER_MAGIC`).
public struct FileSystemType: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// overlayfs (`OVERLAYFS_SUPER_MAGIC`), which cannot hold another overlayfs's upper layer.
    public static let overlayfs = FileSystemType(rawValue: UInt(clinux_overlayfs_super_magic))

    /// The type of the filesystem holding `path` (`statfs(2)`, through `clinux_statfs_type`).
    public static func of(_ path: FilePath) throws(SystemCallError) -> FileSystemType {
        var type: UInt = 0
        try systemCall("statfs", path.string) { path.withPlatformString { clinux_statfs_type($0, &type) } }
        return FileSystemType(rawValue: type)
    }
}
