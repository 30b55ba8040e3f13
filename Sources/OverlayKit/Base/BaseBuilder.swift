import Foundation
import SystemPackage
import Formats
import Posix

/// Makes a new base image from repos: solves a package set (nothing installed, nothing locked), installs it
/// with librpm into `OUT/rootfs`, packs that as the base initrd, copies out the kernel, and writes `base.json`
/// with the identity overlays record. Everything is made in a work directory inside `OUT` and moved into
/// place together at the end (`OutputDirectory.publish`), `base.json` last.
public struct BaseBuilder: Sendable {
    public var repos: [RepoSource]
    public var packages: [String]
    public var output: OutputDirectory
    public var options: PlanOptions
    /// The base initrd's format, compression level and time stamp.
    public var packer: OverlayPacker

    public init(repos: [RepoSource], packages: [String], output: OutputDirectory, options: PlanOptions, packer: OverlayPacker) {
        self.repos = repos
        self.packages = packages
        self.output = output
        self.options = options
        self.packer = packer
    }

    public struct Result: Sendable {
        public let manifest: BaseManifest
        public let rootfs: FilePath
        public let manifestPath: FilePath
    }

    public func build(progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> Result {
        let rootfs = output.path.appending("rootfs")
        if FileManager.default.fileExists(atPath: rootfs.string) {
            throw BaseError.outputExists(rootfs.string)
        }
        progress("solving")
        let plan = try Planner.planBase(packages: packages, repos: repos, options: options)
        return try WorkDirectory.with(in: output.path, named: "base") { work in
            let files = try step(writing: "the downloaded packages into \(output.path)") {
                try PackageFetcher(cache: options.cache, scratch: work, timeout: options.networkTimeout, repos: repos).fetch(plan)
            }
            let partialRoot = work.appending("rootfs")
            // rpm stamps each package's install time into the rpmdb: from SOURCE_DATE_EPOCH when set, else the
            // clock. Give it the build's epoch so the same inputs give the same base image.
            setenv("SOURCE_DATE_EPOCH", String(packer.sourceDateEpoch), 1)
            try step(writing: "the installed packages into \(output.path)") {
                _ = try PackageInstaller.installBase(packages: files, root: partialRoot) { step in
                    progress("installing \(step.completed)/\(step.total) \(step.package)")
                }
            }

            let base = try BaseImage(root: partialRoot)
            try Self.dropSQLiteScratch(in: partialRoot.appending(String(base.dbPath.dropFirst())))
            let nevras = try base.installedPackages(arch: options.arch)
            let identity = BaseIdentity.of(packages: nevras)

            progress("packing")
            let initrdName = "base.\(packer.format.fileExtension)"
            let stage = work.appending("stage")
            let manifest = try step(writing: output.path.appending(initrdName).string) {
                try FileManager.default.createDirectory(atPath: stage.string, withIntermediateDirectories: false)
                let packed = try packer.pack(root: partialRoot, to: stage.appending(initrdName))
                var kernel: String?
                if let vmlinuz = Self.kernel(in: partialRoot) {
                    try AtomicFile.write(to: stage.appending("vmlinuz")) { fd in
                        let data = try Data(contentsOf: URL(fileURLWithPath: vmlinuz.string))
                        _ = try data.withUnsafeBytes { try fd.writeAll($0) }
                    }
                    kernel = "vmlinuz"
                }
                let manifest = BaseManifest(identity: identity, file: initrdName, size: packed.size, sha256: packed.sha256, kernel: kernel, packages: nevras)
                try AtomicFile.writeJSON(manifest, to: stage.appending("base.json"))
                return manifest
            }
            var moves: [(staged: String, name: String)] = [("stage/\(initrdName)", initrdName)]
            if manifest.kernel != nil { moves.append(("stage/vmlinuz", "vmlinuz")) }
            moves += [("rootfs", "rootfs"), ("stage/base.json", "base.json")]
            try output.publish(moves, from: work)
            return Result(manifest: manifest, rootfs: rootfs, manifestPath: output.path.appending("base.json"))
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

    /// rpm leaves sqlite's shared-memory index (`-shm`, different bytes every run) and an empty write-ahead
    /// log beside a closed rpmdb: neither holds data, and both would make the base image differ between builds.
    /// A non-empty `-wal` holds data, and then both stay.
    static func dropSQLiteScratch(in directory: FilePath) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.string) where name.hasSuffix("-wal") {
            let wal = directory.appending(name)
            let size = (try FileManager.default.attributesOfItem(atPath: wal.string)[.size] as? NSNumber)?.intValue ?? -1
            guard size == 0 else { continue }
            try FileManager.default.removeItem(atPath: wal.string)
            let shm = directory.appending(String(name.dropLast(4)) + "-shm")
            if FileManager.default.fileExists(atPath: shm.string) { try FileManager.default.removeItem(atPath: shm.string) }
        }
    }

    /// `boot/vmlinuz` or the newest-named `boot/vmlinuz-*` of a root.
    static func kernel(in root: FilePath) -> FilePath? {
        let boot = root.appending("boot")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: boot.string) else { return nil }
        if names.contains("vmlinuz") { return boot.appending("vmlinuz") }
        return names.filter { $0.hasPrefix("vmlinuz-") && !$0.contains("rescue") }.sorted().last.map { boot.appending($0) }
    }
}
