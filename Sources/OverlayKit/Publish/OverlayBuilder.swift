import Foundation
import SystemPackage

/// What `overlay build` made for one plugin.
public struct BuiltOverlay: Sendable {
    public let manifest: OverlayManifest
    public let overlay: FilePath
    public let manifestPath: FilePath
}

/// A step of a build, for progress reports.
public enum BuildStep: Sendable {
    case solving(plugin: String)
    case fetching(plugin: String, packages: Int)
    case installing(plugin: String, package: String, done: Int, total: Int)
    case packing(plugin: String)
    case done(plugin: String, file: String, size: Int64)
}

/// Builds plugin overlays: plan against the locked base, fetch the packages, install them into a delta root
/// over the base, drop the blacklist, add the registry entry, pack, and write the manifest. Each overlay and
/// each manifest appears atomically in the output directory.
public struct OverlayBuilder: Sendable {
    public let planner: Planner
    public let output: FilePath
    /// The overlay's format, compression level and time stamp.
    public let packer: OverlayPacker

    public init(planner: Planner, output: FilePath, packer: OverlayPacker) {
        self.planner = planner
        self.output = output
        self.packer = packer
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
        guard !plan.packages.isEmpty else {
            throw BuildError.nothingToAdd(plugin: plugin.name, alreadyInBase: plan.alreadyInBase)
        }
        let keys = try planner.signingKeys(for: plan, of: plugin)
        try WorkDirectory.prepareOutput(output)
        return try WorkDirectory.with(in: output, named: "overlay-work-\(plugin.name)") { work in
            try build(plugin, plan: plan, keys: keys, work: work, progress: progress)
        }
    }

    private func build(
        _ plugin: Plugin, plan: PluginPlan, keys: SigningKeys, work: FilePath, progress: @escaping @Sendable (BuildStep) -> Void
    ) throws -> BuiltOverlay {
        progress(.fetching(plugin: plugin.name, packages: plan.packages.count))
        let fetcher = PackageFetcher(cache: planner.options.cache, scratch: work, timeout: planner.options.networkTimeout,
                                     repos: plugin.repoSources(enabled: planner.options.enabledRepos).enabled)
        let files: [FilePath]
        do {
            files = try fetcher.fetch(plan.packages)
        } catch {
            throw BuildError.step(plugin: plugin.name, error.description)
        }

        let delta: DeltaRoot
        do {
            let name = plugin.name
            // Packages are checked against their repos' keys on every use, whether just downloaded or from the cache.
            delta = try PackageInstaller.installDelta(packages: files, base: planner.base.root, baseDBPath: planner.base.dbPath,
                                                      workDirectory: work.appending("install"),
                                                      signatures: keys.requirements(for: plan.packages, files: files)) { step in
                progress(.installing(plugin: name, package: step.package, done: step.completed, total: step.total))
            }
        } catch {
            throw BuildError.step(plugin: plugin.name, ErrorText.describe(error))
        }

        let removed = try Blacklist(plugin.manifest.blacklist).apply(to: delta.path)
        let nevras = plan.packages.map(\.nevra)
        let entry = RegistryEntry(name: plugin.name, version: plugin.manifest.version, summary: plugin.manifest.summary,
                                  packages: nevras, base: planner.baseIdentity)
        try writeRegistryEntry(entry, into: delta.path)

        progress(.packing(plugin: plugin.name))
        let stem = "\(plugin.name)-\(plugin.manifest.version)"
        let overlayPath = output.appending("\(stem).\(packer.format.fileExtension)")
        let packed = try packer.pack(root: delta.path, to: overlayPath)
        let manifest = OverlayManifest(
            name: plugin.name, version: plugin.manifest.version, summary: plugin.manifest.summary, format: packer.format.rawValue,
            file: overlayPath.lastComponent?.string ?? "", size: packed.size, sha256: packed.sha256, base: planner.baseIdentity,
            packages: nevras, removed: removed, requires: plugin.manifest.requires.map(\.description))
        let manifestPath = output.appending("\(stem).json")
        try AtomicFile.writeJSON(manifest, to: manifestPath)
        progress(.done(plugin: plugin.name, file: overlayPath.string, size: packed.size))
        return BuiltOverlay(manifest: manifest, overlay: overlayPath, manifestPath: manifestPath)
    }

    /// `etc/ovirt.plugins.d/<name>`, root-owned, world-readable.
    private func writeRegistryEntry(_ entry: RegistryEntry, into root: FilePath) throws {
        var directory = root
        for component in RegistryEntry.directory.split(separator: "/") {
            directory = directory.appending(String(component))
            if !FileManager.default.fileExists(atPath: directory.string) {
                try FileManager.default.createDirectory(atPath: directory.string, withIntermediateDirectories: false,
                                                        attributes: [.posixPermissions: 0o755, .ownerAccountID: 0, .groupOwnerAccountID: 0])
            }
        }
        let path = directory.appending(entry.name)
        try AtomicFile.write(Array(entry.rendered().utf8), to: path, permissions: [.ownerReadWrite, .groupRead, .otherRead])
        _ = chown(path.string, 0, 0)
    }
}

/// Why a build failed, beyond planning.
public enum BuildError: Error, CustomStringConvertible, Sendable {
    /// A sentence of its own ("The package file …") continued after `plugin "x": `: its first word in lower case,
    /// unless that word is an acronym ("RPM").
    static func continuing(_ text: String) -> String {
        guard let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true else { return text }
        return first.lowercased() + text.dropFirst()
    }

    case invalidSourceDateEpoch(String)
    case nothingToAdd(plugin: String, alreadyInBase: [String])
    case step(plugin: String, String)

    public var description: String {
        switch self {
        case .invalidSourceDateEpoch(let text):
            "SOURCE_DATE_EPOCH=\(text) is not a whole number of seconds since 1970; unset it or give one such as 1700000000"
        case .nothingToAdd(let plugin, let already):
            "plugin \"\(plugin)\": the base already has everything it asks for (\(already.joined(separator: ", "))); there is no overlay to build"
        case .step(let plugin, let text):
            "plugin \"\(plugin)\": \(Self.continuing(text))"
        }
    }
}
