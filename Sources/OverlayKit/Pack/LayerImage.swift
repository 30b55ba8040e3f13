#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Packs a tree as a file system image a node mounts (a layer), reproducibly, with the image tool of its format:
///
/// - squashfs: `mksquashfs` (squashfs-tools) with `-reproducible`, the creation time and every file time set to
///   SOURCE_DATE_EPOCH, zstd, no xattrs;
/// - erofs: `mkfs.erofs` (erofs-utils) with every time set to SOURCE_DATE_EPOCH (`-T`), lz4hc, no xattrs, and a
///   file system UUID derived from the tree (its paths, kinds, modes, owners, sizes and link targets), so the same
///   tree gives the same bytes and two different layers do not share a UUID.
///
/// Owners and modes are those on disk. The tool writes a temporary file beside the destination, which is fsynced
/// and renamed.
struct LayerImage {
    let format: OverlayFormat
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
        Interruption.creating(temporary) {}  // the tool creates it
        defer {
            if !renamed { _ = temporary.withPlatformString { unlink($0) } }
            Interruption.finished(temporary)
        }
        let tool = try self.tool(root: root, output: temporary, tree: tree)
        let output = try tool.run(subject: root)
        guard output.status == 0 else {
            if output.stderr.contains("No space left on device") { throw PackError.noSpace(path: path) }
            throw PackError.tool(name: tool.name, path: root, status: output.status, stderr: output.stderr)
        }
        return try OverlayPacker.writing(path) {
            try publish(temporary, to: path, renamed: &renamed, entries: tree.entries.count)
        }
    }

    private func tool(root: FilePath, output: FilePath, tree: DeltaTree) throws -> ExternalTool {
        let time = String(max(0, sourceDateEpoch))
        switch format {
        case .squashfs:
            return ExternalTool(
                name: "mksquashfs",
                arguments: [
                    root.string, output.string, "-noappend", "-reproducible", "-mkfs-time", time, "-all-time", time,
                    "-comp", "zstd", "-Xcompression-level", String(min(max(zstdLevel, 1), 22)), "-no-xattrs",
                    "-quiet", "-no-progress",
                ],
                removedEnvironment: ["SOURCE_DATE_EPOCH"])
        case .erofs:
            return ExternalTool(
                name: "mkfs.erofs",
                arguments: [
                    "--quiet", "-zlz4hc,12", "-T", time, "-U", Self.uuid(for: tree), "-x-1", output.string, root.string,
                ],
                removedEnvironment: ["SOURCE_DATE_EPOCH"])
        case .cpio, .cpioGzip, .cpioZstd:
            throw PackError.cannotWrite(path: output, reason: "\(format.rawValue) is an archive, not a layer")
        }
    }

    /// A UUID (version 8, RFC 9562) made of the first 128 bits of SHA-256 of the tree's listing.
    static func uuid(for tree: DeltaTree) -> String {
        var digest = SHA256Digest()
        for entry in tree.entries {
            digest.update(entry.relativePath)
            digest.update(Array("\0\(entry.kind) \(entry.mode) \(entry.uid) \(entry.gid) \(entry.size)\0".utf8))
            digest.update(entry.linkTarget ?? [])
            digest.update([0])
        }
        var hex = Array(digest.finalize().prefix(32))
        hex[12] = "8"
        let variant = "89ab"
        hex[16] = variant[variant.index(variant.startIndex, offsetBy: Int(hex[16].hexDigitValue ?? 0) % 4)]
        let text = String(hex)
        return [text.prefix(8), text.dropFirst(8).prefix(4), text.dropFirst(12).prefix(4), text.dropFirst(16).prefix(4), text.dropFirst(20)]
            .joined(separator: "-")
    }

    /// fsyncs the tool's output, digests it and renames it into place.
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
