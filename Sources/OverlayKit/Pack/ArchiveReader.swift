internal import CArchive
#if canImport(Glibc)
    import Glibc
#endif
import SystemPackage

/// Owns one libarchive reader (`archive_read_new`) over a file, with every compression filter libarchive
/// knows (`archive_read_support_filter_all`: the filter is found from the content, not the name) and the
/// archive formats the caller allows.
final class ArchiveReader {
    /// `raw`: no archive format, the (decompressed) bytes as one entry's data.
    enum Formats { case cpio, tar, iso9660, raw }

    /// The compression the reader found.
    enum Compression { case none, gzip, zstd, other }

    /// Why reading failed: the libarchive words, and whether the file never looked like an archive.
    struct Failure: Error {
        let message: String
        let unrecognized: Bool
    }

    private let handle: OpaquePointer
    let path: FilePath
    /// What a reader over a stream reads from; kept alive as long as the reader.
    private let stream: ArchiveStream?

    init(path: FilePath, formats: Formats) throws {
        handle = try Self.makeHandle(formats: formats, filters: true)
        self.path = path
        stream = nil
        let status = path.withPlatformString { archive_read_open_filename(handle, $0, 64 * 1024) }
        if status < ARCHIVE_WARN { throw failure(unrecognized: true) }
    }

    /// A reader over bytes in memory (`archive_read_open_memory`), which must stay valid while it reads; `path`
    /// names the file they are part of in errors. Without `filters`, compressed data is not recognised.
    init(memory: UnsafeRawBufferPointer, path: FilePath, formats: Formats, filters: Bool) throws {
        handle = try Self.makeHandle(formats: formats, filters: filters)
        self.path = path
        stream = nil
        let status = archive_read_open_memory(handle, memory.baseAddress, memory.count)
        if status < ARCHIVE_WARN { throw failure(unrecognized: true) }
    }

    /// A reader over the bytes `stream` hands out (`archive_read_open` with a read callback), without filters.
    init(stream: ArchiveStream, path: FilePath, formats: Formats) throws {
        handle = try Self.makeHandle(formats: formats, filters: false)
        self.path = path
        self.stream = stream
        let status = archive_read_open(
            handle, Unmanaged.passUnretained(stream).toOpaque(), nil,
            { archive, client, buffer in
                guard let client, let buffer else { return -1 }
                let stream = Unmanaged<ArchiveStream>.fromOpaque(client).takeUnretainedValue()
                do {
                    let block = try stream.read()
                    buffer.pointee = block.baseAddress
                    return la_ssize_t(block.count)
                } catch {
                    stream.failure = error
                    return -1
                }
            }, nil)
        if status < ARCHIVE_WARN { throw failure(unrecognized: true) }
    }

    private static func makeHandle(formats: Formats, filters: Bool) throws -> OpaquePointer {
        guard let handle = archive_read_new() else {
            throw Failure(message: "archive_read_new returned no handle", unrecognized: false)
        }
        if filters { archive_read_support_filter_all(handle) }
        switch formats {
        case .cpio: archive_read_support_format_cpio(handle)
        case .tar:
            archive_read_support_format_tar(handle)
            archive_read_support_format_gnutar(handle)
        case .iso9660: archive_read_support_format_iso9660(handle)
        case .raw: archive_read_support_format_raw(handle)
        }
        return handle
    }

    /// Bytes of the input the reader has used so far (`archive_filter_bytes` of the last filter): after the
    /// end of a cpio archive, where its trailer ends; after a compressed stream, where that stream ends. Bytes it
    /// was handed but has not used are not counted.
    var consumedBytes: Int64 { Int64(archive_filter_bytes(handle, -1)) }

    /// The compression filter's name (`archive_filter_name` of the outermost filter): "gzip", "zstd", "xz"…
    var compressionName: String { archive_filter_name(handle, 0).map { String(cString: $0) } ?? "none" }

    /// The next block of the current entry's data (`archive_read_data_block`), valid until the next call; nil at
    /// its end.
    func nextDataBlock() throws -> (block: UnsafeRawBufferPointer, offset: Int64)? {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        let status = archive_read_data_block(handle, &buffer, &size, &offset)
        if status == ARCHIVE_EOF { return nil }
        if status < ARCHIVE_WARN { throw failure(unrecognized: false) }
        return (UnsafeRawBufferPointer(start: buffer, count: size), Int64(offset))
    }

    /// The compression libarchive found (`archive_filter_code` of the outermost filter).
    var compression: Compression {
        switch archive_filter_code(handle, 0) {
        case ARCHIVE_FILTER_NONE: .none
        case ARCHIVE_FILTER_GZIP: .gzip
        case ARCHIVE_FILTER_ZSTD: .zstd
        default: .other
        }
    }

    /// Whether libarchive found a cpio archive (`archive_format`, valid once a header was read).
    var isCpio: Bool { archive_format(handle) & ARCHIVE_FORMAT_BASE_MASK == ARCHIVE_FORMAT_CPIO }

    /// Reads the next header (`archive_read_next_header`); nil at the end of the archive. Paths are as stored
    /// (maybe with "./" or "/").
    func next() throws -> ArchiveEntry? {
        var current: OpaquePointer?
        let status = archive_read_next_header(handle, &current)
        if status == ARCHIVE_EOF { return nil }
        if status < ARCHIVE_WARN { throw failure(unrecognized: archive_format(handle) == 0) }
        guard let current else { throw Failure(message: "libarchive returned no entry", unrecognized: false) }
        return ArchiveEntry(current)
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

    /// Hands the current entry's data to `body` block by block with each block's offset in the file
    /// (`archive_read_data_block`), which keeps holes in sparse files. A read error throws a `Failure` with
    /// libarchive's words, or `fallback` when it has none.
    func forEachDataBlock(fallback: String, _ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let status = archive_read_data_block(handle, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return }
            if status < ARCHIVE_WARN {
                throw Failure(message: archive_error_string(handle).map { String(cString: $0) } ?? fallback, unrecognized: false)
            }
            try body(UnsafeRawBufferPointer(start: buffer, count: size), Int64(offset))
        }
    }

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
