#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Packs a tree as a squashfs layer with `mksquashfs` (squashfs-tools), reproducibly: `-reproducible`,
/// creation time and every file time set to SOURCE_DATE_EPOCH, zstd, owners and modes as on disk, no
/// xattrs. mksquashfs writes a temporary file beside the destination, which is fsynced and renamed.
struct SquashfsImage {
    let sourceDateEpoch: Int64
    let zstdLevel: Int32

    func pack(root: FilePath, to path: FilePath) throws -> PackResult {
        // Refuse what an overlay must not carry, with the same errors as the cpio formats.
        let tree = try DeltaTree(root: root)
        var directoryInfo = stat()
        let directory = path.removingLastComponent()
        if directory.withPlatformString({ stat($0, &directoryInfo) }) != 0 {
            throw PackError.cannotWrite(path: path, reason: Errno(rawValue: errno).posixDescription)
        }
        let name = path.lastComponent?.string ?? "overlay"
        let temporary = path.removingLastComponent().appending(".\(name).partial-\(getpid())")
        var renamed = false
        Interruption.creating(temporary) {}  // mksquashfs creates it
        defer {
            if !renamed { _ = temporary.withPlatformString { unlink($0) } }
            Interruption.finished(temporary)
        }
        let time = String(max(0, sourceDateEpoch))
        let tool = ExternalTool(
            name: "mksquashfs",
            arguments: [
                root.string, temporary.string, "-noappend", "-reproducible", "-mkfs-time", time, "-all-time", time,
                "-comp", "zstd", "-Xcompression-level", String(min(max(zstdLevel, 1), 22)), "-no-xattrs",
                "-quiet", "-no-progress",
            ],
            removedEnvironment: ["SOURCE_DATE_EPOCH"])
        let output = try tool.run(subject: root)
        guard output.status == 0 else {
            if output.stderr.contains("No space left on device") { throw PackError.noSpace(path: path) }
            throw PackError.tool(name: "mksquashfs", path: root, status: output.status, stderr: output.stderr)
        }
        return try OverlayPacker.writing(path) {
            try publish(temporary, to: path, renamed: &renamed, entries: tree.entries.count)
        }
    }

    /// fsyncs mksquashfs's output, digests it and renames it into place.
    private func publish(_ temporary: FilePath, to path: FilePath, renamed: inout Bool, entries: Int) throws -> PackResult {
        let fd = try OwnedFileDescriptor.open(temporary, .readOnly, options: [.closeOnExec])
        try systemCall("fsync", temporary.string) { fsync(fd.rawValue) }  // a failure closes `fd` as it goes
        try fd.close()
        let sha256 = try SHA256Digest.file(temporary)
        var info = stat()
        _ = try temporary.withPlatformString { p in try systemCall("stat", temporary.string) { stat(p, &info) } }
        _ = try temporary.withPlatformString { from in
            try path.withPlatformString { to in
                try systemCall("rename", "\(temporary) to \(path)") { rename(from, to) }
            }
        }
        renamed = true
        AtomicFile.syncDirectory(path.removingLastComponent())
        return PackResult(path: path, size: Int64(info.st_size), sha256: sha256, entries: entries)
    }
}
