import Foundation
import SystemPackage
import Formats
import Posix

/// What `overlay build` made for one plugin.
public struct BuiltOverlay: Sendable {
    public let manifest: OverlayManifest
    public let overlay: FilePath
    public let manifestPath: FilePath
    public let outcome: PublishOutcome
}

/// What publishing an overlay did to the output directory.
public enum PublishOutcome: Sendable {
    /// The overlay and its manifest are new (or only the manifest changed).
    case published
    /// The same bytes were already published under this name: nothing was written.
    case unchanged
    /// Different bytes were published under this name, and `--replace` replaced them.
    case replaced
}

/// A step of a build, for progress reports.
public enum BuildStep: Sendable {
    case solving(plugin: String)
    case fetching(plugin: String, packages: Int)
    /// Package `done + 1` of `total` is being fetched (or taken from the cache).
    case fetchingPackage(plugin: String, package: String, done: Int, total: Int)
    case installing(plugin: String, package: String, done: Int, total: Int)
    case packing(plugin: String)
    /// Bytes of file data packed so far, of `total`.
    case packed(plugin: String, done: Int64, total: Int64)
    case publishing(plugin: String)
    case done(plugin: String, file: String, size: Int64)
}

/// Builds plugin overlays: plan against the locked base, fetch the packages, install them into a delta root
/// over the base, drop the blacklist, add the registry entry, pack, and write the manifest.
///
/// Everything is made in a work directory inside the output directory, then the overlay and its manifest are
/// moved into place together (`OutputDirectory.publish`). A published overlay is immutable: nodes booted it
/// under its name and its sha256 (the HTTP ETag), so building the same name and version again with other
/// bytes is refused unless `replace` is set; the same bytes again change nothing.
public struct OverlayBuilder: Sendable {
    public let planner: Planner
    public let output: OutputDirectory
    /// The overlay's format, compression level and time stamp.
    public let packer: OverlayPacker
    /// Replace an overlay published under the same name and version with other bytes.
    public let replace: Bool

    public init(planner: Planner, output: OutputDirectory, packer: OverlayPacker, replace: Bool = false) {
        self.planner = planner
        self.output = output
        self.packer = packer
        self.replace = replace
    }

    /// `SOURCE_DATE_EPOCH` from the environment, 0 when unset; an invalid value is an error.
    public static func sourceDateEpochFromEnvironment() throws(BuildError) -> Int64 {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return 0 }
        guard let value = Int64(text), value >= 0 else { throw .invalidSourceDateEpoch(text) }
        return value
    }

    public func build(_ plugin: Plugin, progress: @escaping @Sendable (BuildStep) -> Void = { _ in }) throws -> BuiltOverlay {
        progress(.solving(plugin: plugin.name))
        let plan = try planner.plan(plugin)
        // A plugin whose packages are all in the base still gets an overlay: its registry entry alone, so a
        // node lists the plugin it was given and `plan` ("adds 0 packages") and `build` agree.
        let keys = try planner.signingKeys(for: plan, of: plugin)
        return try WorkDirectory.with(in: output.path, named: plugin.name) { work in
            try build(plugin, plan: plan, keys: keys, work: work, progress: progress)
        }
    }

    private func build(
        _ plugin: Plugin, plan: PluginPlan, keys: SigningKeys, work: FilePath, progress: @escaping @Sendable (BuildStep) -> Void
    ) throws -> BuiltOverlay {
        let delta =
            plan.packages.isEmpty
            ? try emptyDelta(plugin, work: work) : try install(plugin, plan: plan, keys: keys, work: work, progress: progress)

        let stem = "\(plugin.name)-\(plugin.manifest.version)"
        let overlayName = "\(stem).\(packer.format.fileExtension)"
        let manifestName = "\(stem).json"
        let overlayPath = output.path.appending(overlayName)
        let manifestPath = output.path.appending(manifestName)
        let nevras = plan.packages.map(\.nevra)
        let (manifest, stage) = try step(plugin, writing: overlayPath.string) {
            let removed = try Blacklist(plugin.manifest.blacklist).apply(to: delta.path)
            let entry = RegistryEntry(
                name: plugin.name, version: plugin.manifest.version, summary: plugin.manifest.summary,
                packages: nevras, base: planner.baseIdentity)
            try writeRegistryEntry(entry, into: delta.path)
            // A layer is also a systemd-sysext image when the base says what it is.
            let extensionRelease = packer.format.isLayer ? ExtensionRelease(name: plugin.name, osRelease: planner.base.osRelease()) : nil
            if let extensionRelease {
                try writeFile(extensionRelease.rendered(), at: extensionRelease.path, into: delta.path)
            }

            progress(.packing(plugin: plugin.name))
            let stage = work.appending("stage")
            try FileManager.default.createDirectory(atPath: stage.string, withIntermediateDirectories: false)
            let name = plugin.name
            let packed = try packer.pack(root: delta.path, to: stage.appending(overlayName)) { done, total in
                progress(.packed(plugin: name, done: done, total: total))
            }
            // The packages' installed headers, for a role's rpmdb, consistent with the files the overlay holds.
            var headersName: String?
            if !delta.packageFiles.isEmpty {
                let headers = try InstalledHeaders.prepared(
                    packageFiles: delta.packageFiles, delta: delta.path, base: planner.base.root, installTime: packer.sourceDateEpoch)
                headersName = "\(stem).rpmheaders"
                try RPMHeaderList.write(headers, to: stage.appending("\(stem).rpmheaders"))
            }
            let manifest = OverlayManifest(
                name: plugin.name, version: plugin.manifest.version, summary: plugin.manifest.summary, format: packer.format.rawValue,
                file: overlayName, size: packed.size, sha256: packed.sha256, base: planner.baseIdentity,
                packages: nevras, removed: removed, requires: plugin.manifest.requires.map(\.description),
                extensionRelease: extensionRelease?.manifestEntry, headers: headersName)
            try AtomicFile.writeJSON(manifest, to: stage.appending(manifestName))
            return (manifest, stage)
        }

        progress(.publishing(plugin: plugin.name))
        let outcome = try step(plugin, writing: overlayPath.string) {
            try publish(manifest, stem: stem, plugin: plugin.name, stage: stage, work: work)
        }
        progress(.done(plugin: plugin.name, file: overlayPath.string, size: manifest.size))
        return BuiltOverlay(manifest: manifest, overlay: overlayPath, manifestPath: manifestPath, outcome: outcome)
    }

    /// Fetches the plan's packages and installs them into a delta root over the base.
    private func install(
        _ plugin: Plugin, plan: PluginPlan, keys: SigningKeys, work: FilePath, progress: @escaping @Sendable (BuildStep) -> Void
    ) throws -> DeltaRoot {
        progress(.fetching(plugin: plugin.name, packages: plan.packages.count))
        let files = try step(plugin, writing: "its downloaded packages into \(output.path)", naming: true) {
            let fetcher = PackageFetcher(
                cache: planner.options.cache, scratch: work, timeout: planner.options.networkTimeout,
                repos: plugin.repoSources(enabled: planner.options.enabledRepos).enabled)
            return try plan.packages.enumerated().map { index, package in
                progress(.fetchingPackage(plugin: plugin.name, package: package.nevra, done: index, total: plan.packages.count))
                return try fetcher.fetch(package)
            }
        }
        let name = plugin.name
        return try step(plugin, writing: "its installed packages into \(output.path)", naming: true) {
            // Packages are checked against their repos' keys on every use, whether just downloaded or from the cache.
            try PackageInstaller.installDelta(
                packages: files, base: planner.base.root, baseDBPath: planner.base.dbPath,
                workDirectory: work.appending("install"),
                signatures: keys.requirements(for: plan.packages, files: files)
            ) { step in
                progress(.installing(plugin: name, package: step.package, done: step.completed, total: step.total))
            }
        }
    }

    /// The delta of a plugin that adds no package: an empty root the registry entry is written into.
    private func emptyDelta(_ plugin: Plugin, work: FilePath) throws -> DeltaRoot {
        let root = work.appending("delta")
        try step(plugin, writing: root.string, naming: true) {
            try FileManager.default.createDirectory(
                atPath: root.string, withIntermediateDirectories: false,
                attributes: [.posixPermissions: 0o755])
        }
        return DeltaRoot(path: root, installed: [])
    }

    /// Runs one step, turning a full filesystem into one sentence naming what was being written and, with
    /// `naming`, any other failure into a sentence naming the plugin.
    private func step<T>(_ plugin: Plugin, writing: String, naming: Bool = false, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error where OutputError.isNoSpace(error) {
            throw BuildError.step(plugin: plugin.name, cause: OutputError.noSpace(writing: writing, option: "--out"))
        } catch let error where naming && !(error is BuildError) {
            throw BuildError.step(plugin: plugin.name, cause: error)
        }
    }

    /// Moves the staged overlay and manifest into the output directory, unless the same name and version is
    /// already published: the same bytes again are left as they are; other bytes are refused, or with
    /// `replace` take their place (and an overlay of another format the old manifest named is removed).
    private func publish(_ manifest: OverlayManifest, stem: String, plugin: String, stage: FilePath, work: FilePath) throws -> PublishOutcome {
        let overlayName = manifest.file
        let manifestName = "\(stem).json"
        let overlayTarget = output.path.appending(overlayName)
        let manifestTarget = output.path.appending(manifestName)
        let stagedManifest = try Data(contentsOf: URL(fileURLWithPath: stage.appending(manifestName).string))
        let publishedManifest = FileManager.default.contents(atPath: manifestTarget.string)
        let previous = publishedManifest.flatMap { try? JSONDecoder().decode(OverlayManifest.self, from: $0) }

        // Either file already there with other bytes than the build's is a conflict: refused, or replaced.
        var overlayPublished = false
        var conflict = false
        if FileTree.status(overlayTarget) != nil {
            let published = try SHA256Digest.file(overlayTarget)
            overlayPublished = published == manifest.sha256
            if !overlayPublished {
                guard replace else {
                    throw BuildError.alreadyPublished(plugin: plugin, stem: stem, path: overlayTarget, published: published, built: manifest.sha256)
                }
                conflict = true
            }
        }
        if publishedManifest != nil, previous.map({ $0.file != manifest.file || $0.sha256 != manifest.sha256 }) ?? true {
            guard replace else {
                throw BuildError.alreadyPublished(plugin: plugin, stem: stem, path: manifestTarget, published: previous?.sha256, built: manifest.sha256)
            }
            conflict = true
        }
        if overlayPublished && publishedManifest == stagedManifest { return .unchanged }

        var moves: [(staged: String, name: String)] = []
        if !overlayPublished { moves.append(("stage/\(overlayName)", overlayName)) }
        if let headers = manifest.headers { moves.append(("stage/\(headers)", headers)) }
        moves.append(("stage/\(manifestName)", manifestName))
        var removals: [String] = []
        if let previous, previous.file != overlayName, !previous.file.contains("/"), FileTree.status(output.path.appending(previous.file)) != nil {
            removals.append(previous.file)
        }
        try output.publish(moves, removing: removals, from: work)
        return conflict ? .replaced : .published
    }

    /// `etc/ovirt.plugins.d/<name>`, root-owned, world-readable.
    private func writeRegistryEntry(_ entry: RegistryEntry, into root: FilePath) throws {
        try writeFile(entry.rendered(), at: "\(RegistryEntry.directory)/\(entry.name)", into: root)
    }

    /// Writes a root-owned, world-readable file at `relative` in the delta, creating missing parent directories
    /// (root-owned, 0755).
    private func writeFile(_ text: String, at relative: String, into root: FilePath) throws {
        var directory = root
        let components = relative.split(separator: "/")
        for component in components.dropLast() {
            directory = directory.appending(String(component))
            if !FileManager.default.fileExists(atPath: directory.string) {
                try FileManager.default.createDirectory(
                    atPath: directory.string, withIntermediateDirectories: false,
                    attributes: [.posixPermissions: 0o755, .ownerAccountID: 0, .groupOwnerAccountID: 0])
            }
        }
        let path = directory.appending(String(components.last ?? ""))
        try AtomicFile.write(Array(text.utf8), to: path, permissions: [.ownerReadWrite, .groupRead, .otherRead])
        _ = chown(path.string, 0, 0)
    }
}

/// Why a build failed, beyond planning.
public enum BuildError: UserError, Sendable {
    /// A sentence of its own ("The package file …") continued after `plugin "x": `: its first word in lower case,
    /// unless that word is an acronym ("RPM").
    static func continuing(_ text: String) -> String {
        guard let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true else { return text }
        return first.lowercased() + text.dropFirst()
    }

    case invalidSourceDateEpoch(String)
    /// A step of the plugin's build failed; `cause` says what and what to do.
    case step(plugin: String, cause: any Error)
    /// `path` already holds other bytes (`published`, when known) under this name and version than the build's.
    case alreadyPublished(plugin: String, stem: String, path: FilePath, published: String?, built: String)

    public var description: String {
        switch self {
        case .invalidSourceDateEpoch(let text):
            "SOURCE_DATE_EPOCH=\(text) is not a whole number of seconds since 1970; unset it or give one such as 1700000000"
        case .step(let plugin, let cause):
            "plugin \"\(plugin)\": \(Self.continuing(ErrorText.describe(cause)))"
        case .alreadyPublished(let plugin, let stem, let path, let published, let built):
            "plugin \"\(plugin)\": \(path) is already published with other content (there: \(published.map { "sha256:\($0.prefix(12))…" } ?? "an unreadable manifest"), this build: sha256:\(built.prefix(12))…); nodes may have booted \(stem) under that name and ETag: bump the plugin's version in plugin.toml, or pass --replace"
        }
    }
}
