#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// What packing produced.
public struct PackResult: Sendable {
    /// Where the overlay was written.
    public let path: FilePath
    /// Its size in bytes.
    public let size: Int64
    /// SHA-256 of the file, 64 lowercase hex digits.
    public let sha256: String
    /// How many objects of the tree it holds (files, directories, symlinks; hardlinks count once per name).
    public let entries: Int
}

/// Packs a plugin's delta root into one overlay file, reproducibly: the same tree gives the same bytes,
/// whatever order the files were created in, their mtimes or inode numbers.
///
/// cpio formats are written with libarchive's cpio newc writer the way Linux's initramfs unpacker expects:
/// paths relative without "/" or "./" (`usr/bin/x`), entries sorted bytewise (parents first), owners and
/// modes as on disk, mtime = SOURCE_DATE_EPOCH, inodes renumbered 1, 2, … in path order, device 0, no user
/// or group names, hardlinks stored the newc way (data on the last link, `archive_entry_linkify`).
/// The caller hands over a cleaned tree: no rpmdb, no overlayfs whiteouts.
public struct OverlayPacker: Sendable {
    public let format: OverlayFormat
    public let sourceDateEpoch: Int64
    public let zstdLevel: Int32

    /// - Parameters:
    ///   - format: the overlay's shape.
    ///   - sourceDateEpoch: the time stamped on every entry (and the squashfs creation time).
    ///   - zstdLevel: zstd level for `cpio.zst` and `squashfs` (1–22; the window is capped at 8 MiB); erofs is lz4hc.
    /// 19: overlays are built once and fetched by every node at every boot, so size wins over build time.
    public static let defaultZstdLevel: Int32 = 19

    public init(format: OverlayFormat, sourceDateEpoch: Int64 = 0, zstdLevel: Int32 = OverlayPacker.defaultZstdLevel) {
        self.format = format
        self.sourceDateEpoch = sourceDateEpoch
        self.zstdLevel = zstdLevel
    }

    /// Packs the tree at `root` into `path`, atomically: on any error nothing appears at `path` (an older
    /// file there stays as it was). `progress` hears the bytes of file data packed so far and their total, as
    /// often as every 256 KiB (cpio only: a layer is written by its image tool in one call).
    public func pack(root: FilePath, to path: FilePath, progress: ((_ done: Int64, _ total: Int64) -> Void)? = nil) throws -> PackResult {
        if format.isLayer {
            return try LayerImage(format: format, sourceDateEpoch: sourceDateEpoch, zstdLevel: zstdLevel).pack(root: root, to: path)
        }
        var result: PackResult?
        try Self.writing(path) {
            try AtomicFile.write(to: path) { fd in
                result = try packCpio(root: root, into: fd, path: path, progress: progress)
            }
        }
        guard let result else { throw PackError.cannotWrite(path: path, reason: "packing produced no result") }
        return result
    }

    /// Walks the tree and streams it through libarchive (and zstd) into `fd`.
    private func packCpio(root: FilePath, into fd: FileDescriptor, path: FilePath, progress: ((Int64, Int64) -> Void)?) throws -> PackResult {
        let tree = try DeltaTree(root: root)
        // The data of a file with several names is written once.
        var counted = Set<InodeKey>()
        let total = tree.entries.reduce(0) { $0 + ($1.kind == .file && counted.insert(InodeKey($1)).inserted ? $1.size : 0) }
        let file = FileSink(fd)
        let zstd = format == .cpioZstd ? try ZstdSink(level: zstdLevel, next: file, path: path) : nil
        let sink: ArchiveSink = zstd ?? file
        // zstd's own count when it compresses (it buffers input in worker jobs), else the bytes written.
        if let zstd, let progress { zstd.onCompressed = { progress(min($0, total), total) } }
        var packed = Progress(total: total, report: zstd == nil ? progress : nil)
        let writer = try CpioWriter(sink: sink, gzip: format == .cpioGzip, output: path)
        try writeEntries(of: tree, to: writer, progress: &packed)
        try writer.close()
        return PackResult(path: path, size: file.size, sha256: file.sha256, entries: tree.entries.count)
    }

    /// Turns the bare errno errors of creating, syncing and renaming the output into sentences naming it.
    static func writing<T>(_ path: FilePath, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as Errno {
            if error == .noSpace || error == .diskQuotaExceeded { throw PackError.noSpace(path: path) }
            throw PackError.cannotWrite(path: path, reason: error.posixDescription)
        } catch let error as SystemCallError {
            if error.errno == .noSpace || error.errno == .diskQuotaExceeded { throw PackError.noSpace(path: path) }
            throw PackError.cannotWrite(path: path, reason: "\(error.call) failed: \(error.errno.posixDescription)")
        }
    }

    /// File data packed so far, for the caller's progress report.
    private struct Progress {
        let total: Int64
        let report: ((Int64, Int64) -> Void)?
        var done: Int64 = 0

        mutating func add(_ count: Int) {
            done += Int64(count)
            report?(done, total)
        }
    }

    private func writeEntries(of tree: DeltaTree, to writer: CpioWriter, progress: inout Progress) throws {
        let linkCounts = Self.linkCounts(tree)
        guard let resolver = HardlinkResolver(formatCode: writer.formatCode) else {
            throw PackError.archive(path: tree.root, message: "archive_entry_linkresolver_new returned no resolver")
        }
        var inodes: [InodeKey: Int64] = [:]
        var nextInode: Int64 = 1
        for item in tree.entries {
            var inode: Int64
            var links: UInt32 = 1
            if item.kind == .file, let count = linkCounts.files[InodeKey(item)], count > 1 {
                links = count
                if let known = inodes[InodeKey(item)] {
                    inode = known
                } else {
                    inode = nextInode
                    nextInode += 1
                    inodes[InodeKey(item)] = inode
                }
            } else {
                inode = nextInode
                nextInode += 1
                if item.kind == .directory { links = 2 + (linkCounts.subdirectories[item.relativePath] ?? 0) }
            }
            var entry = ArchiveEntry(path: item.relativePath, kind: Self.kind(item.kind), permissions: item.mode & 0o7777)
            entry.sourcePath = tree.path(of: item)
            entry.uid = Int64(item.uid)
            entry.gid = Int64(item.gid)
            entry.mtime = ArchiveEntry.Time(seconds: sourceDateEpoch)
            entry.inode = inode
            entry.device = 0
            entry.links = links
            entry.size = item.size
            entry.symlinkTarget = item.linkTarget
            guard let ready = resolver.linkify(entry) else {
                throw PackError.archive(path: tree.path(of: item), message: "archive_entry_new returned no entry")
            }
            for entry in ready { try write(entry, to: writer, progress: &progress) }
        }
        // Every name of a link set is in the tree, so this flushes the last name of each set (with the data).
        for ready in resolver.drain() { try write(ready, to: writer, progress: &progress) }
    }

    /// Writes one entry the resolver released, with its file data when the entry carries it.
    private func write(_ entry: ArchiveEntry, to writer: CpioWriter, progress: inout Progress) throws {
        guard let source = entry.sourcePath else {
            throw PackError.archive(path: FilePath(), message: "an entry lost its source path")
        }
        try writer.writeHeader(entry, path: source)
        let size = entry.size
        guard entry.kind == .file || entry.kind == .hardlink, size > 0 else { return }
        let fd: OwnedFileDescriptor
        do {
            fd = try OwnedFileDescriptor.open(source, .readOnly, options: [.noFollow, .closeOnExec])
        } catch let error as Errno {
            throw PackError.unreadable(path: source, reason: error.posixDescription)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        while true {
            let count: Int
            do { count = try fd.descriptor.read(into: buffer) } catch let error as Errno {
                throw PackError.unreadable(path: source, reason: error.posixDescription)
            }
            if count == 0 { break }
            copied += Int64(count)
            if copied > size { throw PackError.changedWhilePacking(path: source) }
            try writer.writeData(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), path: source)
            progress.add(count)
        }
        if copied != size { throw PackError.changedWhilePacking(path: source) }
    }

    private static func kind(_ kind: DeltaTreeEntry.Kind) -> ArchiveEntry.Kind {
        switch kind {
        case .file: .file
        case .directory: .directory
        case .symlink: .symlink
        }
    }

    private struct InodeKey: Hashable {
        let device: UInt64
        let inode: UInt64
        init(_ entry: DeltaTreeEntry) {
            device = entry.device
            inode = entry.inode
        }
    }

    /// How many names each multiply-linked file has inside the tree (links outside it don't count, so
    /// the output doesn't depend on them), and how many subdirectories each directory has.
    private static func linkCounts(_ tree: DeltaTree) -> (files: [InodeKey: UInt32], subdirectories: [[UInt8]: UInt32]) {
        var files: [InodeKey: UInt32] = [:]
        var subdirectories: [[UInt8]: UInt32] = [:]
        for entry in tree.entries {
            switch entry.kind {
            case .file: files[InodeKey(entry), default: 0] += 1
            case .directory:
                if let slash = entry.relativePath.lastIndex(of: UInt8(ascii: "/")) {
                    subdirectories[Array(entry.relativePath[..<slash]), default: 0] += 1
                }
            case .symlink: break
            }
        }
        return (files, subdirectories)
    }
}
