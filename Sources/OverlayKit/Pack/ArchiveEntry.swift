internal import CArchive
#if canImport(Glibc)
    import Glibc
#endif
import SystemPackage

/// One archive member's header as a Swift value: what `ArchiveReader` returns and what `CpioWriter`,
/// `HardlinkResolver` and `ArchiveDiskWriter` take. The only place that converts to and from libarchive's
/// `struct archive_entry`.
///
/// Paths and link targets are bytes as stored (a name need not be UTF-8); `pathname`, `symlink` and `hardlink` give
/// them as text.
struct ArchiveEntry: Equatable, Sendable {
    /// The file type (libarchive's `AE_IF*`, the POSIX `S_IF*` bits). A `hardlink` is a regular file stored as
    /// another name of an earlier one (`hardlinkTarget`).
    enum Kind: Equatable, Sendable {
        case file, directory, symlink, hardlink, characterDevice, blockDevice, fifo, socket
        /// A type libarchive read that is none of the above, with its bits.
        case unknown(UInt32)
    }

    /// Seconds and nanoseconds since the epoch.
    struct Time: Equatable, Sendable {
        var seconds: Int64
        var nanoseconds: Int = 0
    }

    var path: [UInt8]
    var kind: Kind
    /// Permission bits, setuid, setgid and sticky included (`mode & 0o7777`).
    var permissions: UInt32
    var uid: Int64 = 0
    var gid: Int64 = 0
    var mtime = Time(seconds: 0)
    /// The access time, when the archive stores one (pax headers may).
    var atime: Time? = nil
    /// Bytes of data that follow the header.
    var size: Int64 = 0
    var symlinkTarget: [UInt8]? = nil
    var hardlinkTarget: [UInt8]? = nil
    /// The device a device node stands for.
    var rdevMajor: UInt64 = 0
    var rdevMinor: UInt64 = 0
    /// The inode number, device and link count written to the header (cpio renumbers inodes from these).
    var inode: Int64 = 0
    var device: UInt64 = 0
    var links: UInt32 = 1
    /// Where the data comes from on disk, when writing (`archive_entry_sourcepath`); not stored in the archive.
    var sourcePath: FilePath? = nil

    var pathname: String { String(decoding: path, as: UTF8.self) }
    var symlink: String? { symlinkTarget.map { String(decoding: $0, as: UTF8.self) } }
    var hardlink: String? { hardlinkTarget.map { String(decoding: $0, as: UTF8.self) } }

    init(path: [UInt8], kind: Kind, permissions: UInt32) {
        self.path = path
        self.kind = kind
        self.permissions = permissions
    }

    // MARK: libarchive's archive_entry

    /// `archive_entry_filetype` values (libarchive's `AE_IF*` macros, which do not import).
    private enum FileType {
        static let regularFile: UInt32 = 0o100000
        static let directory: UInt32 = 0o040000
        static let symbolicLink: UInt32 = 0o120000
        static let characterDevice: UInt32 = 0o020000
        static let blockDevice: UInt32 = 0o060000
        static let fifo: UInt32 = 0o010000
        static let socket: UInt32 = 0o140000
    }

    /// Reads every field of a libarchive entry. Paths come as libarchive gives them (`archive_entry_pathname`);
    /// one it cannot convert reads as empty.
    init(_ entry: OpaquePointer) {
        func bytes(_ pointer: UnsafePointer<CChar>?) -> [UInt8]? {
            pointer.map { Array(UnsafeBufferPointer(start: $0, count: strlen($0))).map(UInt8.init(bitPattern:)) }
        }
        path = bytes(archive_entry_pathname(entry)) ?? []
        hardlinkTarget = bytes(archive_entry_hardlink(entry))
        symlinkTarget = bytes(archive_entry_symlink(entry))
        let type = UInt32(archive_entry_filetype(entry))
        kind =
            switch type {
            case FileType.regularFile: hardlinkTarget == nil ? .file : .hardlink
            case FileType.directory: .directory
            case FileType.symbolicLink: .symlink
            case FileType.characterDevice: .characterDevice
            case FileType.blockDevice: .blockDevice
            case FileType.fifo: .fifo
            case FileType.socket: .socket
            default: .unknown(type)
            }
        permissions = UInt32(archive_entry_perm(entry))
        uid = Int64(archive_entry_uid(entry))
        gid = Int64(archive_entry_gid(entry))
        mtime = Time(seconds: Int64(archive_entry_mtime(entry)), nanoseconds: Int(archive_entry_mtime_nsec(entry)))
        if archive_entry_atime_is_set(entry) != 0 {
            atime = Time(seconds: Int64(archive_entry_atime(entry)), nanoseconds: Int(archive_entry_atime_nsec(entry)))
        }
        size = Int64(archive_entry_size(entry))
        rdevMajor = UInt64(archive_entry_rdevmajor(entry))
        rdevMinor = UInt64(archive_entry_rdevminor(entry))
        inode = Int64(archive_entry_ino64(entry))
        device = UInt64(archive_entry_dev(entry))
        links = UInt32(archive_entry_nlink(entry))
        sourcePath = archive_entry_sourcepath(entry).map { FilePath(platformString: $0) }
    }

    /// A new libarchive entry holding this value (`archive_entry_new`), which the caller frees, or nil if libarchive
    /// cannot make one.
    func makeArchiveEntry() -> OpaquePointer? {
        guard let entry = archive_entry_new() else { return nil }
        archive_entry_copy_pathname(entry, path.cString)
        sourcePath?.withPlatformString { archive_entry_copy_sourcepath(entry, $0) }
        let type: UInt32 =
            switch kind {
            case .file, .hardlink: FileType.regularFile
            case .directory: FileType.directory
            case .symlink: FileType.symbolicLink
            case .characterDevice: FileType.characterDevice
            case .blockDevice: FileType.blockDevice
            case .fifo: FileType.fifo
            case .socket: FileType.socket
            case .unknown(let bits): bits
            }
        archive_entry_set_mode(entry, mode_t(type | (permissions & 0o7777)))
        archive_entry_set_uid(entry, la_int64_t(uid))
        archive_entry_set_gid(entry, la_int64_t(gid))
        archive_entry_set_mtime(entry, time_t(mtime.seconds), mtime.nanoseconds)
        if let atime { archive_entry_set_atime(entry, time_t(atime.seconds), atime.nanoseconds) }
        archive_entry_set_ino64(entry, la_int64_t(inode))
        archive_entry_set_dev(entry, dev_t(device))
        archive_entry_set_nlink(entry, links)
        archive_entry_set_size(entry, la_int64_t(size))
        if let symlinkTarget { archive_entry_copy_symlink(entry, symlinkTarget.cString) }
        if let hardlinkTarget { archive_entry_copy_hardlink(entry, hardlinkTarget.cString) }
        if rdevMajor != 0 || rdevMinor != 0 {
            archive_entry_set_rdevmajor(entry, dev_t(rdevMajor))
            archive_entry_set_rdevminor(entry, dev_t(rdevMinor))
        }
        return entry
    }
}

extension Array where Element == UInt8 {
    /// The bytes as a NUL-terminated C string, to pass where C wants `const char *`.
    var cString: [CChar] { map { CChar(bitPattern: $0) } + [0] }
}
