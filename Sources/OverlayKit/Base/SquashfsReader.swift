internal import CSquashfs
#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// Owns the libsquashfs objects that read one squashfs image in place (squashfs-tools-ng): the file (or a view
/// of it at an offset inside another file, a live ISO), its decompressor, id table, directory reader and data
/// reader. Reads only the inodes, directories and data blocks asked for: no root, no loop device, no copy of
/// the image.
final class SquashfsReader {
    /// The file the image is in (the ISO for an image inside one), and how to name the image in errors.
    let label: String
    private let file: OpaquePointer
    private let compressor: OpaquePointer
    private let idTable: OpaquePointer
    private let directories: OpaquePointer
    private let data: OpaquePointer
    /// The super block, at an address that stays put: the directory reader keeps a pointer to it.
    private let superBlock: UnsafeMutablePointer<sqfs_super_t>

    /// Opens the image at `path` (`sqfs_open_file`), named `label` in errors.
    convenience init(path: FilePath, label: String) throws {
        guard let file = path.withPlatformString({ sqfs_open_file($0, UInt32(SQFS_FILE_OPEN_READ_ONLY.rawValue)) }) else {
            throw BaseError.unreadableImage(label, reason: Errno(rawValue: errno).posixDescription)
        }
        try self.init(file: file, label: label)
    }

    /// Opens the image stored as `size` bytes at `offset` of the open file `fd`, which the caller keeps open.
    convenience init(fd: Int32, offset: UInt64, size: UInt64, label: String) throws {
        guard let file = csquashfs_view_new(fd, offset, size) else {
            throw BaseError.unreadableImage(label, reason: "out of memory")
        }
        try self.init(file: file, label: label)
    }

    /// Takes `file`: it is destroyed with the reader, or at once when the image cannot be read.
    private init(file: UnsafeMutablePointer<sqfs_file_t>, label: String) throws {
        self.label = label
        let superBlock = UnsafeMutablePointer<sqfs_super_t>.allocate(capacity: 1)
        superBlock.initialize(to: sqfs_super_t())
        var compressor: UnsafeMutablePointer<sqfs_compressor_t>?
        var idTable: OpaquePointer?
        var directories: OpaquePointer?
        var data: OpaquePointer?
        func fail(_ what: String, _ status: Int32) -> BaseError {
            for object in [
                compressor.map(UnsafeMutableRawPointer.init), idTable.map(UnsafeMutableRawPointer.init), directories.map(UnsafeMutableRawPointer.init),
                data.map(UnsafeMutableRawPointer.init),
            ] {
                if let object { csquashfs_destroy(object) }
            }
            csquashfs_destroy(file)
            superBlock.deallocate()
            return BaseError.damagedImage(label, kind: "squashfs", reason: "\(what): \(Self.describe(status))")
        }
        var status = sqfs_super_read(superBlock, file)
        if status != 0 { throw fail("its super block", status) }
        status = csquashfs_compressor(superBlock, file, &compressor)
        if status != 0 { throw fail("its \(Self.compressorName(superBlock.pointee.compression_id)) decompressor", status) }
        idTable = sqfs_id_table_create(0)
        guard idTable != nil else { throw fail("its id table", Int32(SQFS_ERROR_ALLOC.rawValue)) }
        status = sqfs_id_table_read(idTable, file, superBlock, compressor)
        if status != 0 { throw fail("its id table", status) }
        directories = sqfs_dir_reader_create(superBlock, compressor, file, 0)
        guard directories != nil else { throw fail("its directory reader", Int32(SQFS_ERROR_ALLOC.rawValue)) }
        data = sqfs_data_reader_create(file, Int(superBlock.pointee.block_size), compressor, 0)
        guard let data else { throw fail("its data reader", Int32(SQFS_ERROR_ALLOC.rawValue)) }
        status = sqfs_data_reader_load_fragment_table(data, superBlock)
        if status != 0 { throw fail("its fragment table", status) }
        guard let compressor, let idTable, let directories else { throw fail("its tables", Int32(SQFS_ERROR_INTERNAL.rawValue)) }
        self.file = OpaquePointer(file)
        self.compressor = OpaquePointer(compressor)
        self.idTable = idTable
        self.directories = directories
        self.data = data
        self.superBlock = superBlock
    }

    deinit {
        for object in [data, directories, idTable, compressor, file] { csquashfs_destroy(UnsafeMutableRawPointer(object)) }
        superBlock.deallocate()
    }

    /// Whether `path` (relative to the image's root) names anything in the image.
    func contains(_ path: String) -> Bool {
        var inode: UnsafeMutablePointer<sqfs_inode_generic_t>?
        let status = sqfs_dir_reader_find_by_path(directories, nil, path, &inode)
        if let inode { sqfs_free(inode) }
        return status == 0
    }

    /// Hands every entry at and under `path` (relative to the root, "" for all) to `writer`, with its data,
    /// parents before children; a path the image does not have is skipped. A second name of a regular file
    /// (the same inode number) is written as a hard link to the first.
    func extract(_ path: String, to writer: BaseTreeWriter) throws {
        guard path.isEmpty || contains(path) else { return }
        var root: UnsafeMutablePointer<sqfs_tree_node_t>?
        let status = sqfs_dir_reader_get_full_hierarchy(directories, idTable, path.isEmpty ? nil : path, 0, &root)
        if status == Int32(SQFS_ERROR_NO_ENTRY.rawValue) || status == Int32(SQFS_ERROR_NOT_DIR.rawValue) { return }
        guard status == 0, let root else {
            throw BaseError.damagedImage(label, kind: "squashfs", reason: "reading \(path.isEmpty ? "its root" : path): \(Self.describe(status))")
        }
        defer { sqfs_dir_tree_destroy(root) }
        var firstNames: [UInt32: [UInt8]] = [:]
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        try walk(root, path: Array(path.utf8), writer: writer, firstNames: &firstNames, buffer: &buffer)
    }

    private func walk(
        _ node: UnsafeMutablePointer<sqfs_tree_node_t>, path: [UInt8], writer: BaseTreeWriter, firstNames: inout [UInt32: [UInt8]], buffer: inout [UInt8]
    ) throws {
        guard let inode = node.pointee.inode else { return }
        let info = csquashfs_inode_info(inode)
        do {
            var entry = ArchiveEntry(path: path, kind: Self.kind(info.mode), permissions: info.mode & 0o7777)
            entry.uid = Int64(node.pointee.uid)
            entry.gid = Int64(node.pointee.gid)
            entry.mtime = .init(seconds: Int64(info.mtime))
            entry.links = info.nlink
            switch entry.kind {
            case .file:
                if info.nlink > 1, let first = firstNames[info.inode_number] {
                    entry.kind = .hardlink
                    entry.hardlinkTarget = first
                } else {
                    if info.nlink > 1 { firstNames[info.inode_number] = path }
                    entry.size = Int64(info.file_size)
                }
            case .symlink:
                entry.symlinkTarget = info.target.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(info.target_size))) } ?? []
            case .characterDevice, .blockDevice:
                // squashfs stores the kernel's encoding (new_encode_dev): minor's low 8 bits, major, minor's rest.
                entry.rdevMajor = UInt64((info.devno >> 8) & 0xFFF)
                entry.rdevMinor = UInt64((info.devno & 0xFF) | ((info.devno >> 12) & 0xFFF00))
            default: break
            }
            try writer.write(entry) { body in
                var offset: UInt64 = 0
                while offset < info.file_size {
                    let count = buffer.withUnsafeMutableBytes { raw in
                        sqfs_data_reader_read(data, inode, offset, raw.baseAddress, UInt32(min(UInt64(raw.count), info.file_size - offset)))
                    }
                    guard count > 0 else {
                        throw BaseError.damagedImage(
                            label, kind: "squashfs", reason: "reading \(entry.pathname): \(count < 0 ? Self.describe(count) : "the file ends early")")
                    }
                    try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)]), Int64(offset)) }
                    offset += UInt64(count)
                }
            }
        }
        var child = csquashfs_first_child(node)
        while let current = child {
            let name = Array(UnsafeRawBufferPointer(start: csquashfs_node_name(current), count: strlen(csquashfs_node_name(current))))
            try walk(current, path: path.isEmpty ? name : path + [UInt8(ascii: "/")] + name, writer: writer, firstNames: &firstNames, buffer: &buffer)
            child = csquashfs_next_sibling(current)
        }
    }

    private static func kind(_ mode: UInt32) -> ArchiveEntry.Kind {
        switch mode & 0o170000 {
        case 0o100000: .file
        case 0o040000: .directory
        case 0o120000: .symlink
        case 0o020000: .characterDevice
        case 0o060000: .blockDevice
        case 0o010000: .fifo
        case 0o140000: .socket
        default: .unknown(mode & 0o170000)
        }
    }

    private static func compressorName(_ id: UInt16) -> String {
        sqfs_compressor_name_from_id(SQFS_COMPRESSOR(rawValue: UInt32(id))).map { String(cString: $0) } ?? "compressor \(id)"
    }

    /// libsquashfs's error codes in words.
    static func describe(_ status: Int32) -> String {
        switch status {
        case Int32(SQFS_ERROR_ALLOC.rawValue): "out of memory"
        case Int32(SQFS_ERROR_IO.rawValue): "read error"
        case Int32(SQFS_ERROR_COMPRESSOR.rawValue): "the compressed data is damaged"
        case Int32(SQFS_ERROR_CORRUPTED.rawValue): "the image is corrupted"
        case Int32(SQFS_ERROR_UNSUPPORTED.rawValue): "it uses a feature or compressor this libsquashfs does not support"
        case Int32(SQFS_ERROR_OUT_OF_BOUNDS.rawValue): "it points past its end (truncated?)"
        case Int32(SFQS_ERROR_SUPER_MAGIC.rawValue): "no squashfs magic number"
        case Int32(SFQS_ERROR_SUPER_VERSION.rawValue): "an unsupported squashfs version"
        case Int32(SQFS_ERROR_SUPER_BLOCK_SIZE.rawValue): "an invalid block size"
        case Int32(SQFS_ERROR_NO_ENTRY.rawValue): "no such entry"
        case Int32(SQFS_ERROR_LINK_LOOP.rawValue): "a loop in its directory tree"
        default: "libsquashfs error \(status)"
        }
    }
}
