internal import CArchive
#if canImport(Glibc)
    import Glibc
#endif
import SystemPackage

/// Owns one libarchive writer set to cpio newc (`archive_write_set_format_cpio_newc`), optionally with
/// libarchive's gzip filter, whose output goes to an `ArchiveSink` through `archive_write_open2` callbacks.
final class CpioWriter {
    private let handle: OpaquePointer
    private let client: Client
    private let output: FilePath

    /// What the C callbacks see: the sink, and the first error it threw (libarchive only sees -1).
    final class Client {
        let sink: ArchiveSink
        var error: Error?
        init(_ sink: ArchiveSink) { self.sink = sink }
    }

    init(sink: ArchiveSink, gzip: Bool, output: FilePath) throws {
        guard let handle = archive_write_new() else {
            throw PackError.archive(path: output, message: "archive_write_new returned no handle")
        }
        self.handle = handle
        self.client = Client(sink)
        self.output = output
        try check(archive_write_set_format_cpio_newc(handle))
        if gzip {
            try check(archive_write_add_filter_gzip(handle))
            // No timestamp in the gzip header, so the same tree gives the same bytes.
            try check(archive_write_set_filter_option(handle, "gzip", "timestamp", nil))
            try check(archive_write_set_filter_option(handle, "gzip", "compression-level", "9"))
        }
        // Blocks of 64 KiB for fewer callbacks; the last block is not padded with zeros.
        try check(archive_write_set_bytes_per_block(handle, 64 * 1024))
        try check(archive_write_set_bytes_in_last_block(handle, 1))
        let opaque = Unmanaged.passUnretained(client).toOpaque()
        try check(
            archive_write_open2(
                handle, opaque, nil,
                { archive, data, buffer, length in
                    guard let data else { return -1 }
                    let client = Unmanaged<Client>.fromOpaque(data).takeUnretainedValue()
                    do {
                        try client.sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
                        return la_ssize_t(length)
                    } catch {
                        if client.error == nil { client.error = error }
                        return -1
                    }
                }, nil, nil))
    }

    /// The libarchive format code, for `archive_entry_linkresolver_set_strategy`.
    var formatCode: Int32 { archive_format(handle) }

    /// Writes one entry's header (`archive_write_header`); `path` names it in errors.
    func writeHeader(_ entry: ArchiveEntry, path: FilePath) throws {
        guard let made = entry.makeArchiveEntry() else {
            throw PackError.archive(path: path, message: "archive_entry_new returned no entry")
        }
        defer { archive_entry_free(made) }
        try check(archive_write_header(handle, made), path: path)
    }

    /// Writes entry data (`archive_write_data`).
    func writeData(_ bytes: UnsafeRawBufferPointer, path: FilePath) throws {
        var offset = 0
        while offset < bytes.count {
            let written = archive_write_data(handle, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            if written < 0 { try check(Int32(written), path: path) }
            if written == 0 { throw PackError.archive(path: path, message: "archive_write_data wrote nothing") }
            offset += written
        }
    }

    /// Writes the trailer and flushes everything to the sink (`archive_write_close`).
    func close() throws {
        try check(archive_write_close(handle))
        try client.sink.finish()
    }

    private func check(_ status: Int32, path: FilePath? = nil) throws {
        if let error = client.error { throw error }
        if status >= ARCHIVE_WARN { return }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(status)"
        throw PackError.archive(path: path ?? output, message: message)
    }

    deinit { archive_write_free(handle) }
}
