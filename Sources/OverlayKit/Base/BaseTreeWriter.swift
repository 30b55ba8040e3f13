internal import CArchive
#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Owns one `archive_write_disk` handle that writes a base image's entries (from an initramfs or a squashfs)
/// into a private directory: modes, times and, as root, owners as the image has them; device nodes as root;
/// `..`, absolute paths and paths through symbolic links refused (`ARCHIVE_EXTRACT_SECURE_*`). An entry
/// written again replaces the earlier one, as a later initramfs member does.
///
/// libarchive takes relative paths: use it on a thread whose working directory is the target
/// (`BaseTreeWriter.run`).
final class BaseTreeWriter {
    private let handle: OpaquePointer
    /// The image, for errors.
    private let image: String
    /// The image's root directory entry, given to the target directory once everything is written.
    private var root: ArchiveEntry?

    private init(image: String) throws {
        guard let handle = archive_write_disk_new() else {
            throw BaseError.unreadableImage(image, reason: "archive_write_disk_new returned no handle")
        }
        self.handle = handle
        self.image = image
        var flags =
            ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS
            | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_UNLINK
        if geteuid() == 0 { flags |= ARCHIVE_EXTRACT_OWNER }
        archive_write_disk_set_options(handle, Int32(flags))
    }

    deinit { archive_write_free(handle) }

    /// Makes `directory` (mode 0700), and on a thread of its own whose working directory it is, hands `body` a
    /// writer into it; the directory's deferred metadata (directory times) is written when `body` returns.
    static func run(image: String, into directory: FilePath, _ body: @escaping (BaseTreeWriter) throws -> Void) throws {
        try PosixThread.run(name: "base extract") {
            try unshare(.rootAndWorkingDirectory)
            _ = try directory.withPlatformString { p in try systemCall("chdir", directory.string) { chdir(p) } }
            let writer = try BaseTreeWriter(image: image)
            try body(writer)
            if archive_write_close(writer.handle) < ARCHIVE_WARN { throw writer.failure("") }
            if let root = writer.root {
                _ = try systemCall("chmod", directory.string) { chmod(".", mode_t(root.permissions)) }
                if geteuid() == 0 { _ = try systemCall("chown", directory.string) { chown(".", uid_t(root.uid), gid_t(root.gid)) } }
                var times = [
                    timespec(tv_sec: time_t(root.mtime.seconds), tv_nsec: root.mtime.nanoseconds),
                    timespec(tv_sec: time_t(root.mtime.seconds), tv_nsec: root.mtime.nanoseconds),
                ]
                _ = try systemCall("utimensat", directory.string) { utimensat(AT_FDCWD, ".", &times, 0) }
            }
        }
    }

    /// Writes `entry`'s header, then its data from `data`, which hands blocks with their offsets to the closure
    /// it is given. The image's root directory itself ("." or "") is given to the target directory at the end.
    func write(_ entry: ArchiveEntry, data: ((UnsafeRawBufferPointer, Int64) throws -> Void) throws -> Void) throws {
        var entry = entry
        entry.path = Self.relative(entry.path)
        guard !entry.path.isEmpty else {
            if entry.kind == .directory { root = entry }
            return
        }
        if let target = entry.hardlinkTarget { entry.hardlinkTarget = Self.relative(target) }
        guard let made = entry.makeArchiveEntry() else { throw failure(entry.pathname) }
        defer { archive_entry_free(made) }
        if archive_write_header(handle, made) < ARCHIVE_WARN { throw failure(entry.pathname) }
        if entry.size > 0 {
            try data { block, offset in
                if archive_write_data_block(handle, block.baseAddress, block.count, la_int64_t(offset)) < ARCHIVE_WARN {
                    throw failure(entry.pathname)
                }
            }
        }
        if archive_write_finish_entry(handle) < ARCHIVE_WARN { throw failure(entry.pathname) }
    }

    /// A path as stored ("./etc/x", "/etc/x", "etc/x/") made relative to the root ("etc/x"; "" for the root).
    static func relative(_ path: [UInt8]) -> [UInt8] {
        let components = path.split(separator: UInt8(ascii: "/")).filter { $0 != [UInt8(ascii: ".")] }
        return Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    private func failure(_ path: String) -> BaseError {
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(archive_errno(handle))"
        if archive_errno(handle) == ENOSPC { return .noSpace(image) }
        return .extraction(image, entry: path, reason: message)
    }
}
