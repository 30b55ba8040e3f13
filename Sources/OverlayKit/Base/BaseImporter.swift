import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import Formats
import Posix
import SystemPackage

/// Turns a vendor's base image into what `overlay serve` hands to nodes, without changing a byte of it: from a
/// live ISO its kernel (`vmlinuz`), its initrd (copied unmodified, under its own name) and `LiveOS/squashfs.img`
/// (`squashfs.img`); from a squashfs image or an initramfs, the image itself and the kernel found in its
/// `boot/`. `base.json` records the identity read from the image's rpmdb, the initrd (or, without one, the
/// squashfs) as the file nodes boot, and the kernel. Everything is written in a work directory inside `OUT` and
/// moved into place together, `base.json` last (`OutputDirectory.publish`).
public struct BaseImporter: Sendable {
    public var source: BaseImageSource
    public var output: OutputDirectory
    public var arch: String

    public init(source: BaseImageSource, output: OutputDirectory, arch: String = HostArchitecture.current) {
        self.source = source
        self.output = output
        self.arch = arch
    }

    public struct Result: Sendable {
        public let manifest: BaseManifest
        /// The files written, by name in `OUT`, in the order they were published.
        public let files: [String]
    }

    public func run(progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> Result {
        if source.kind == .directory { throw BaseError.importNeedsImage(source.path.string) }
        if FileTree.status(output.path.appending("base.json")) != nil { throw BaseError.outputExists(output.path.appending("base.json").string) }
        progress("reading the rpmdb")
        let base = try source.openForPlanning()
        defer { base.close() }
        let packages = try base.image.installedPackages(arch: arch)
        let identity = BaseIdentity.of(packages: packages)

        return try WorkDirectory.with(in: output.path, named: "import") { work in
            var staged: [(name: String, digest: (size: Int64, sha256: String))] = []
            var initrd: String?
            var kernel: String?
            try step(writing: output.path.string) {
                switch source.kind {
                case .liveISO:
                    let iso = try LiveISO(path: source.absolutePath, label: source.path.string)
                    let fd = try OwnedFileDescriptor.open(source.absolutePath, .readOnly, options: [.closeOnExec])
                    if let found = iso.kernel {
                        progress("copying \(found.path)")
                        staged.append(("vmlinuz", try Self.copy(fd: fd.rawValue, extent: found.extent, to: work.appending("vmlinuz"))))
                        kernel = "vmlinuz"
                    }
                    if let found = iso.initrd {
                        let name = FilePath(found.path).lastComponent?.string ?? "initrd.img"
                        progress("copying \(found.path)")
                        staged.append((name, try Self.copy(fd: fd.rawValue, extent: found.extent, to: work.appending(name))))
                        initrd = name
                    }
                    progress("copying \(LiveISO.squashfsPath)")
                    staged.append(("squashfs.img", try Self.copy(fd: fd.rawValue, extent: iso.squashfs, to: work.appending("squashfs.img"))))
                    _ = consume fd
                case .squashfs, .initramfs:
                    let name = source.kind == .squashfs ? "squashfs.img" : (source.path.lastComponent?.string ?? "initrd.img")
                    let fd = try OwnedFileDescriptor.open(source.absolutePath, .readOnly, options: [.closeOnExec])
                    var info = stat()
                    _ = try systemCall("fstat", source.path.string) { fstat(fd.rawValue, &info) }
                    progress("copying \(source.path)")
                    staged.append((name, try Self.copy(fd: fd.rawValue, extent: .init(offset: 0, size: UInt64(info.st_size)), to: work.appending(name))))
                    _ = consume fd
                    if source.kind != .squashfs { initrd = name }
                    // The kernel, from the image's boot/.
                    let boot = work.appending("boot-tree")
                    try FileManager.default.createDirectory(atPath: boot.string, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                    try source.extract(selecting: ["boot"], into: boot)
                    if let vmlinuz = BaseBuilder.kernel(in: boot) {
                        staged.append(("vmlinuz", try Self.copyFile(vmlinuz, to: work.appending("vmlinuz"))))
                        kernel = "vmlinuz"
                    }
                case .directory:
                    break
                }
            }
            let booted = initrd ?? "squashfs.img"
            guard let digest = staged.first(where: { $0.name == booted })?.digest else { throw BaseError.importNeedsImage(source.path.string) }
            let manifest = BaseManifest(identity: identity, file: booted, size: digest.size, sha256: digest.sha256, kernel: kernel, packages: packages)
            try step(writing: output.path.appending("base.json").string) {
                try AtomicFile.writeJSON(manifest, to: work.appending("base.json"))
            }
            let names = staged.map(\.name) + ["base.json"]
            for name in names.dropLast() where FileTree.status(output.path.appending(name)) != nil {
                throw BaseError.outputExists(output.path.appending(name).string)
            }
            try output.publish(names.map { ($0, $0) }, from: work)
            return Result(manifest: manifest, files: names)
        }
    }

    /// Runs one step, turning a full filesystem into one sentence naming what was being written.
    private func step<T>(writing: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error where OutputError.isNoSpace(error) {
            throw OutputError.noSpace(writing: writing, option: "--out")
        }
    }

    /// Copies `extent` of the open file `fd` to `path` (written whole, fsynced, then renamed into place) and
    /// returns its size and sha256.
    static func copy(fd: Int32, extent: LiveISO.Extent, to path: FilePath) throws -> (size: Int64, sha256: String) {
        var digest = SHA256Digest()
        try AtomicFile.write(to: path) { out in
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var done: UInt64 = 0
            while done < extent.size {
                let want = Int(min(UInt64(buffer.count), extent.size - done))
                let count = try buffer.withUnsafeMutableBytes { raw in
                    try systemCall("pread", path.string) { pread(fd, raw.baseAddress, want, off_t(extent.offset + done)) }
                }
                guard count > 0 else {
                    throw BaseError.unreadableImage(path.string, reason: "the image ends before \(path.lastComponent?.string ?? "the file") does")
                }
                try buffer.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                    digest.update(chunk)
                    _ = try out.writeAll(chunk)
                }
                done += UInt64(count)
            }
        }
        return (Int64(extent.size), digest.finalize())
    }

    static func copyFile(_ source: FilePath, to path: FilePath) throws -> (size: Int64, sha256: String) {
        let fd = try OwnedFileDescriptor.open(source, .readOnly, options: [.closeOnExec])
        var info = stat()
        _ = try systemCall("fstat", source.string) { fstat(fd.rawValue, &info) }
        return try copy(fd: fd.rawValue, extent: .init(offset: 0, size: UInt64(info.st_size)), to: path)
    }
}
