import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Where a base image comes from, as `--base` names it, told apart by content (magic bytes), not by name: an
/// unpacked root directory; an initramfs (cpio archives, plain or compressed, concatenated); a squashfs image;
/// or a live ISO (`LiveOS/squashfs.img`). Planning needs only the rpmdb and the few files the base's identity and
/// module state come from (`openForPlanning`); building needs the whole tree as the overlayfs lower layer
/// (`materialize`). Images are read in process (libarchive, libsquashfs): no root, no loop device.
public struct BaseImageSource: Sendable {
    public enum Kind: Sendable, Equatable {
        case directory
        /// The first member's format: "cpio" or its compression ("zstd", "gzip"…).
        case initramfs(String)
        case squashfs
        case liveISO
    }

    /// The path as given, for messages.
    public let path: FilePath
    public let kind: Kind
    /// The path made absolute: images are read on a thread whose working directory is the extraction root.
    let absolutePath: FilePath

    /// What planning reads of an image: the rpmdb (at either place) and what module state comes from.
    static let planningPaths = BaseImage.dbPaths.map { String($0.dropFirst()) } + ["etc/os-release", "usr/lib/os-release", "etc/dnf/modules.d"]

    /// Finds what `path` is from its first bytes.
    public init(_ path: FilePath) throws(BaseError) {
        self.path = path
        absolutePath = path.isAbsolute ? path : FilePath(FileManager.default.currentDirectoryPath).pushing(path)
        var info = stat()
        guard stat(path.string, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw .notFound(path.string) }
            throw .unreadableImage(path.string, reason: Errno(rawValue: errno).posixDescription)
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            kind = .directory
            return
        }
        let head: [UInt8]
        do {
            head = try Self.head(of: path, count: 0x8006)
        } catch {
            throw .unreadableImage(path.string, reason: "\(error)")
        }
        if head.starts(with: Array("hsqs".utf8)) {
            kind = .squashfs
        } else if head.count >= 0x8006, Array(head[0x8001..<0x8006]) == Array("CD001".utf8) {
            kind = .liveISO
        } else if let found = InitramfsImage.recognise(head) {
            kind = .initramfs(found)
        } else {
            throw .unrecognizedImage(path.string, found: Self.describe(head))
        }
    }

    /// Opens the base for planning: a directory as it is; an image by extracting only the rpmdb, os-release and
    /// dnf's module state into a private temporary root.
    public func openForPlanning() throws -> OpenedBase {
        try open(selecting: Self.planningPaths)
    }

    /// Opens the base with its whole tree on disk, for a build: a directory as it is; an image extracted into a
    /// private temporary root (removed by `OpenedBase.close`, and on SIGINT or SIGTERM).
    public func materialize() throws -> OpenedBase {
        try open(selecting: nil)
    }

    private func open(selecting paths: [String]?) throws -> OpenedBase {
        if kind == .directory { return OpenedBase(image: try BaseImage(root: path), temporary: nil) }
        let root = FilePath(NSTemporaryDirectory()).appending("overlay-base-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try Interruption.creating(root) {
            _ = try root.withPlatformString { p in try systemCall("mkdir", root.string) { mkdir(p, 0o700) } }
        }
        do {
            try extract(selecting: paths, into: root)
            return OpenedBase(image: try BaseImage(root: root, label: path.string), temporary: root)
        } catch {
            OpenedBase.remove(root)
            if OutputError.isNoSpace(error) { throw BaseError.noSpace(path.string) }
            throw error
        }
    }

    /// Writes the image's entries (only those at or under `paths`, when given) into `root`.
    func extract(selecting paths: [String]?, into root: FilePath) throws {
        switch kind {
        case .directory:
            return
        case .initramfs:
            let image = InitramfsImage(path: absolutePath, label: path.string)
            try BaseTreeWriter.run(image: path.string, into: root) { writer in
                var written = Set<[UInt8]>()
                try image.forEachEntry { entry, reader in
                    var entry = entry
                    let relative = BaseTreeWriter.relative(entry.path)
                    if let paths {
                        guard Self.selected(relative, by: paths) else { return }
                        // A second name of a file that was not selected is written as the file itself.
                        if let target = entry.hardlinkTarget, !written.contains(BaseTreeWriter.relative(target)) {
                            entry.kind = .file
                            entry.hardlinkTarget = nil
                        }
                        written.insert(relative)
                    }
                    try writer.write(entry) { body in
                        try reader.forEachDataBlock(fallback: "read error") { block, offset in try body(block, offset) }
                    }
                }
            }
        case .squashfs:
            let reader = try SquashfsReader(path: absolutePath, label: path.string)
            try extract(reader, selecting: paths, into: root)
        case .liveISO:
            let iso = try LiveISO(path: absolutePath, label: path.string)
            let fd = try OwnedFileDescriptor.open(absolutePath, .readOnly, options: [.closeOnExec])
            let reader = try SquashfsReader(
                fd: fd.rawValue, offset: iso.squashfs.offset, size: iso.squashfs.size, label: "\(path.string) (\(LiveISO.squashfsPath))")
            try extract(reader, selecting: paths, into: root)
            _ = consume fd
        }
    }

    private func extract(_ reader: SquashfsReader, selecting paths: [String]?, into root: FilePath) throws {
        if !BaseImage.dbPaths.contains(where: { reader.contains(String($0.dropFirst())) }), reader.contains("LiveOS/rootfs.img") {
            throw BaseError.ext4LiveRoot(path.string)
        }
        try BaseTreeWriter.run(image: reader.label, into: root) { writer in
            for path in paths ?? [""] { try reader.extract(path, to: writer) }
        }
    }

    /// Whether `path` is one of `paths` or under one.
    static func selected(_ path: [UInt8], by paths: [String]) -> Bool {
        let text = String(decoding: path, as: UTF8.self)
        return paths.contains { text == $0 || text.hasPrefix($0 + "/") }
    }

    private static func head(of path: FilePath, count: Int) throws -> [UInt8] {
        let fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        var bytes = [UInt8](repeating: 0, count: count)
        var total = 0
        while total < count {
            let read = try bytes.withUnsafeMutableBytes { buffer in
                try systemCall("pread", path.string) { pread(fd.rawValue, buffer.baseAddress.map { $0 + total }, count - total, off_t(total)) }
            }
            if read == 0 { break }
            total += read
        }
        return Array(bytes.prefix(total))
    }

    /// What an unrecognised file is, by its magic bytes, in a few words.
    static func describe(_ head: [UInt8]) -> String {
        func at(_ offset: Int, _ magic: [UInt8]) -> Bool { head.count >= offset + magic.count && Array(head[offset..<offset + magic.count]) == magic }
        if head.isEmpty { return "an empty file" }
        if at(0x438, [0x53, 0xEF]) { return "an ext2/3/4 filesystem image" }
        if at(1024, [0xE2, 0xE1, 0xF5, 0xE0]) { return "an EROFS image" }
        if at(0, Array("XFSB".utf8)) { return "an XFS filesystem image" }
        if at(0, Array("QFI".utf8) + [0xFB]) { return "a qcow2 disk image" }
        if at(257, Array("ustar".utf8)) { return "a tar archive" }
        if at(0, [0xED, 0xAB, 0xEE, 0xDB]) { return "an RPM package" }
        if at(0, Array("PK".utf8) + [3, 4]) { return "a zip archive" }
        if at(0x202, Array("HdrS".utf8)) { return "a Linux kernel (bzImage)" }
        if at(0, [0x7F] + Array("ELF".utf8)) { return "an ELF executable" }
        if at(0, Array("070707".utf8)) || at(0, [0xC7, 0x71]) { return "an old-format cpio archive, which Linux does not unpack (it takes newc)" }
        let shown = head.prefix(8).map { String(format2: $0) }.joined(separator: " ")
        return "unknown data (first bytes \(shown))"
    }
}

/// A base opened for planning or building. An image's temporary root is removed by `close` (or when this is
/// dropped); a directory is never touched.
public final class OpenedBase: Sendable {
    /// The base, with its root on disk.
    public let image: BaseImage
    /// The private root an image was extracted into, when it was.
    public let temporary: FilePath?
    private let closed = Locked(false)

    init(image: BaseImage, temporary: FilePath?) {
        self.image = image
        self.temporary = temporary
    }

    /// Removes the temporary root, if there is one.
    public func close() {
        guard let temporary else { return }
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        if !wasClosed { Self.remove(temporary) }
    }

    static func remove(_ root: FilePath) {
        try? FileManager.default.removeItem(atPath: root.string)
        Interruption.finished(root)
    }

    deinit { close() }
}
