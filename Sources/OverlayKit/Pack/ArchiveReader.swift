internal import CArchive
#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Owns one libarchive reader (`archive_read_new`) over a file, with every compression filter libarchive
/// knows (`archive_read_support_filter_all`: the filter is found from the content, not the name) and the
/// archive formats the caller allows.
final class ArchiveReader {
    enum Formats { case cpio, tar }

    /// One header as libarchive read it. Paths are as stored (maybe with "./" or "/").
    struct Header {
        let pathname: String
        let fileType: UInt32
        let permissions: UInt32
        let uid: Int64
        let gid: Int64
        let size: Int64
        let symlink: String?
        let hardlink: String?
        let device: (major: UInt64, minor: UInt64)
    }

    /// Why reading failed: the libarchive words, and whether the file never looked like an archive.
    struct Failure: Error {
        let message: String
        let unrecognized: Bool
    }

    /// `archive_entry_filetype` values (libarchive's `AE_IF*`, the POSIX `S_IF*` bits).
    static let regularFile: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symbolicLink: UInt32 = 0o120000

    private let handle: OpaquePointer
    private var entry: OpaquePointer?
    let path: FilePath

    init(path: FilePath, formats: Formats) throws {
        guard let handle = archive_read_new() else {
            throw Failure(message: "archive_read_new returned no handle", unrecognized: false)
        }
        self.handle = handle
        self.path = path
        archive_read_support_filter_all(handle)
        switch formats {
        case .cpio: archive_read_support_format_cpio(handle)
        case .tar: archive_read_support_format_tar(handle); archive_read_support_format_gnutar(handle)
        }
        let status = path.withPlatformString { archive_read_open_filename(handle, $0, 64 * 1024) }
        if status < ARCHIVE_WARN { throw failure(unrecognized: true) }
    }

    /// The compression libarchive found (`archive_filter_code` of the outermost filter).
    var filterCode: Int32 { archive_filter_code(handle, 0) }
    /// The archive format libarchive found (`archive_format`), valid once a header was read.
    var formatCode: Int32 { archive_format(handle) }

    /// Reads the next header (`archive_read_next_header`); nil at the end of the archive.
    func next() throws -> Header? {
        var current: OpaquePointer?
        let status = archive_read_next_header(handle, &current)
        if status == ARCHIVE_EOF { entry = nil; return nil }
        if status < ARCHIVE_WARN { throw failure(unrecognized: archive_format(handle) == 0) }
        guard let current else { throw Failure(message: "libarchive returned no entry", unrecognized: false) }
        entry = current
        func string(_ pointer: UnsafePointer<CChar>?) -> String? { pointer.map { String(cString: $0) } }
        return Header(
            pathname: string(archive_entry_pathname(current)) ?? "",
            fileType: UInt32(archive_entry_filetype(current)),
            permissions: UInt32(archive_entry_perm(current)),
            uid: Int64(archive_entry_uid(current)),
            gid: Int64(archive_entry_gid(current)),
            size: Int64(archive_entry_size(current)),
            symlink: string(archive_entry_symlink(current)),
            hardlink: string(archive_entry_hardlink(current)),
            device: (UInt64(archive_entry_rdevmajor(current)), UInt64(archive_entry_rdevminor(current))))
    }

    /// Reads the current entry's data, refusing more than `limit` bytes (`archive_read_data`).
    func data(limit: Int) throws -> [UInt8]? {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if count < 0 { throw failure(unrecognized: false) }
            if count == 0 { return result }
            result += buffer[0..<count]
            if result.count > limit { return nil }
        }
    }

    /// Skips the current entry's data; compressed input is still decompressed, so damage shows here too.
    func skipData() throws {
        if archive_read_data_skip(handle) < ARCHIVE_WARN { throw failure(unrecognized: false) }
    }

    /// Calls `body` with the C entry of the last header read, for handing to a libarchive writer.
    func withCurrentEntry<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        guard let entry else { throw Failure(message: "no current entry", unrecognized: false) }
        return try body(entry)
    }

    /// Calls `body` with the reader's handle.
    func withUnsafeHandle<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T { try body(handle) }

    /// The reader's error. `unrecognized` only when asked for at the start of the archive and libarchive
    /// said the format was not one it reads (`ARCHIVE_ERRNO_FILE_FORMAT`, EILSEQ), not that the
    /// compressed stream was damaged.
    func failure(unrecognized atStart: Bool) -> Failure {
        let unrecognized = atStart && archive_errno(handle) == EILSEQ
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(archive_errno(handle))"
        return Failure(message: message, unrecognized: unrecognized)
    }

    deinit { archive_read_free(handle) }
}
