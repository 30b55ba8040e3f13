internal import CArchive
#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Owns one `archive_write_disk` handle, which extracts a plugin bundle's entries into the working directory
/// with libarchive's safety checks (`ARCHIVE_EXTRACT_SECURE_*`).
final class ArchiveDiskWriter {
    private let handle: OpaquePointer
    private let bundle: FilePath

    init(bundle: FilePath) throws {
        guard let handle = archive_write_disk_new() else {
            throw PluginBundleError.damaged(bundle: bundle, message: "archive_write_disk_new returned no handle")
        }
        self.handle = handle
        self.bundle = bundle
        let flags =
            ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS
            | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_NO_OVERWRITE
        archive_write_disk_set_options(handle, Int32(flags))
    }

    deinit { archive_write_free(handle) }

    /// Gives the calling thread its own working directory (`unshare(CLONE_FS)`) and enters `directory`, so the
    /// relative paths the disk writer is handed land inside it without moving the process's working directory.
    static func enterPrivately(_ directory: FilePath) throws {
        try unshare(.rootAndWorkingDirectory)
        _ = try directory.withPlatformString { p in try systemCall("chdir", directory.string) { chdir(p) } }
    }

    /// `archive_write_header`, then the entry's data block by block from the reader's current entry
    /// (`archive_write_data_block`).
    func write(_ entry: ArchiveEntry, from reader: ArchiveReader, path: String) throws {
        guard let made = entry.makeArchiveEntry() else {
            throw PluginBundleError.extraction(bundle: bundle, entry: path, message: "archive_entry_new returned no entry")
        }
        defer { archive_entry_free(made) }
        if archive_write_header(handle, made) < ARCHIVE_WARN { throw failure(path) }
        guard entry.size > 0 else { return }
        do {
            try reader.forEachDataBlock(fallback: "read error") { block, offset in
                if archive_write_data_block(handle, block.baseAddress, block.count, la_int64_t(offset)) < ARCHIVE_WARN { throw failure(path) }
            }
        } catch let failure as ArchiveReader.Failure {
            throw PluginBundleError.damaged(bundle: bundle, message: failure.message)
        }
        if archive_write_finish_entry(handle) < ARCHIVE_WARN { throw failure(path) }
    }

    func close() throws {
        if archive_write_close(handle) < ARCHIVE_WARN { throw failure("") }
    }

    private func failure(_ path: String) -> PluginBundleError {
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error"
        return PluginBundleError.extraction(bundle: bundle, entry: path, message: message)
    }
}
