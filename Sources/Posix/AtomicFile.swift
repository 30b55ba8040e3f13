#if canImport(Glibc)
    import Glibc
#endif
import SystemPackage

/// Writes a file so that readers see either nothing or the whole of it: a temporary file beside the
/// destination is written, fsynced, renamed into place, and the directory fsynced. SIGINT and SIGTERM
/// remove the temporary (`Interruption`).
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: some Sequence<UInt8>, to path: FilePath, permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]) throws
    {
        try write(to: path, permissions: permissions) { fd in
            let data = Array(bytes)
            _ = try data.withUnsafeBytes { try fd.writeAll($0) }
        }
    }

    /// Lets `body` fill a temporary file beside `path`, then moves it into place. If `body` throws, nothing
    /// appears at `path` and the temporary file is removed.
    public static func write(
        to path: FilePath, permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead], _ body: (FileDescriptor) throws -> Void
    ) throws {
        let directory = path.removingLastComponent()
        let name = path.lastComponent?.string ?? "file"
        let temporary = directory.appending(".\(name).partial-\(getpid())")
        let fd = OwnedFileDescriptor(
            try Interruption.creating(temporary) {
                try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: permissions)
            })
        var renamed = false
        defer {
            if !renamed { _ = temporary.withPlatformString { unlink($0) } as Int32 }
            Interruption.finished(temporary)
        }
        try body(fd.descriptor)
        try systemCall("fsync", temporary.string) { fsync(fd.rawValue) }
        try fd.close()  // a late write error shows here; any failure above closes `fd` as it goes
        _ = try temporary.withPlatformString { from in
            try path.withPlatformString { to in
                try systemCall("rename", "\(temporary) to \(path)") { rename(from, to) }
            }
        }
        renamed = true
        syncDirectory(directory)
    }

    /// fsyncs a directory so a rename in it survives a crash. Best effort: some filesystems refuse it.
    public static func syncDirectory(_ directory: FilePath) {
        guard let dfd = try? OwnedFileDescriptor.open(directory, .readOnly, options: [.directory, .closeOnExec]) else { return }
        _ = fsync(dfd.rawValue)
    }
}
