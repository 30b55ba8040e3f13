import Foundation
import Formats
import SystemPackage

/// What changed between two overlays (or the files two manifests name): the packages they add, the files they hold,
/// and their registry entries. Packages are matched by name (`vdsm-4.50.3-1.noarch` → `vdsm`, the newest NEVRA of
/// each name), files by path, the registry by plugin name and key.
public struct OverlayDiff: Sendable, Codable, Equatable {
    public struct PackageChange: Sendable, Codable, Equatable {
        public let name: String
        public let from: String
        public let to: String
    }

    public struct FileChange: Sendable, Codable, Equatable {
        public let path: String
        /// What differs: `kind`, `size`, `mode`, `owner`, `content`, `target`.
        public let changed: [String]
        public let from: Side
        public let to: Side
    }

    /// One side of a file as the diff shows it.
    public struct Side: Sendable, Codable, Equatable {
        public let kind: String
        public let mode: String
        public let owner: String
        public let size: Int64
        public let sha256: String?
        public let linkTarget: String?
    }

    public struct RegistryChange: Sendable, Codable, Equatable {
        public let plugin: String
        public let key: String
        public let from: String?
        public let to: String?
    }

    public let from: String
    public let to: String
    public let packagesAdded: [String]
    public let packagesRemoved: [String]
    public let packagesChanged: [PackageChange]
    public let filesAdded: [String]
    public let filesRemoved: [String]
    public let filesChanged: [FileChange]
    public let registryChanges: [RegistryChange]

    public var isEmpty: Bool {
        packagesAdded.isEmpty && packagesRemoved.isEmpty && packagesChanged.isEmpty && filesAdded.isEmpty && filesRemoved.isEmpty
            && filesChanged.isEmpty && registryChanges.isEmpty
    }

    /// Reads both overlays (each may be given as its manifest) with every file's digest and compares them.
    public init(from a: FilePath, to b: FilePath) throws {
        let (first, second) = (try Self.overlay(a), try Self.overlay(b))
        let (old, new) = (try OverlayReader.read(first, digests: true), try OverlayReader.read(second, digests: true))
        self.init(from: first.string, to: second.string, old: old, new: new)
    }

    init(from: String, to: String, old: OverlayContents, new: OverlayContents) {
        self.from = from
        self.to = to
        // Packages, from the registry entries the overlays carry (what the build installed).
        let oldPackages = Self.packagesByName((try? old.registryEntries())?.flatMap(\.packages) ?? [])
        let newPackages = Self.packagesByName((try? new.registryEntries())?.flatMap(\.packages) ?? [])
        packagesAdded = newPackages.keys.filter { oldPackages[$0] == nil }.sorted().compactMap { newPackages[$0] }
        packagesRemoved = oldPackages.keys.filter { newPackages[$0] == nil }.sorted().compactMap { oldPackages[$0] }
        packagesChanged = oldPackages.keys.sorted().compactMap { name in
            guard let before = oldPackages[name], let after = newPackages[name], before != after else { return nil }
            return PackageChange(name: name, from: before, to: after)
        }
        // Files.
        let oldFiles = Self.filesByPath(old.entries)
        let newFiles = Self.filesByPath(new.entries)
        filesAdded = newFiles.keys.filter { oldFiles[$0] == nil }.sorted()
        filesRemoved = oldFiles.keys.filter { newFiles[$0] == nil }.sorted()
        filesChanged = oldFiles.keys.sorted().compactMap { path in
            guard let before = oldFiles[path], let after = newFiles[path] else { return nil }
            var changed: [String] = []
            if Self.kind(before) != Self.kind(after) { changed.append("kind") }
            if before.size != after.size { changed.append("size") }
            if before.mode != after.mode { changed.append("mode") }
            if before.uid != after.uid || before.gid != after.gid { changed.append("owner") }
            if before.sha256 != after.sha256 && before.size == after.size { changed.append("content") }
            if before.kind == .symlink && after.kind == .symlink && before.linkTarget != after.linkTarget { changed.append("target") }
            guard !changed.isEmpty else { return nil }
            return FileChange(path: path, changed: changed, from: Self.side(before), to: Self.side(after))
        }
        // Registry entries, key by key.
        var registry: [RegistryChange] = []
        for plugin in Set(old.registry.keys).union(new.registry.keys).sorted() {
            let before = old.registry[plugin] ?? [:]
            let after = new.registry[plugin] ?? [:]
            for key in Set(before.keys).union(after.keys).sorted() where before[key] != after[key] {
                registry.append(RegistryChange(plugin: plugin, key: key, from: before[key], to: after[key]))
            }
        }
        registryChanges = registry
    }

    /// Entries by path, every name of a hardlink set shown as the file it is: cpio stores the data on one name only
    /// (the others have size 0, or point at it), a file system image lists every name with it.
    static func filesByPath(_ entries: [OverlayContents.Entry]) -> [String: OverlayContents.Entry] {
        var byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        var sets: [String: [String]] = [:]  // the first name → every name
        for entry in entries where entry.kind == .hardlink {
            guard let target = entry.linkTarget else { continue }
            sets[target, default: [target]].append(entry.path)
        }
        for names in sets.values {
            let members = names.compactMap { byPath[$0] }
            guard let data = members.first(where: { $0.sha256 != nil }) ?? members.max(by: { $0.size < $1.size }) else { continue }
            for member in members {
                var file = OverlayContents.Entry(
                    path: member.path, kind: .file, mode: member.mode, uid: member.uid, gid: member.gid, size: data.size, linkTarget: nil)
                file.sha256 = data.sha256
                byPath[member.path] = file
            }
        }
        return byPath
    }

    /// The overlay file a path names: itself, or the file an overlay manifest names beside it.
    static func overlay(_ given: FilePath) throws -> FilePath {
        guard given.extension == "json" else { return given }
        guard let data = FileManager.default.contents(atPath: given.string),
            let manifest = try? JSONDecoder().decode(OverlayManifest.self, from: data), manifest.kind == "overlay", !manifest.file.contains("/")
        else { throw PackError.notAManifest(path: given) }
        return given.removingLastComponent().appending(manifest.file)
    }

    /// `name-[epoch:]version-release.arch` by package name.
    static func packagesByName(_ nevras: [String]) -> [String: String] {
        var byName: [String: String] = [:]
        for nevra in nevras { byName[NEVRA(nevra)?.name ?? nevra] = nevra }
        return byName
    }

    private static func kind(_ entry: OverlayContents.Entry) -> String {
        entry.kind == .hardlink ? OverlayContents.Entry.Kind.file.rawValue : entry.kind.rawValue
    }

    private static func side(_ entry: OverlayContents.Entry) -> Side {
        Side(
            kind: kind(entry), mode: String(format: "%04o", entry.mode), owner: "\(entry.uid):\(entry.gid)", size: entry.size,
            sha256: entry.sha256, linkTarget: entry.linkTarget)
    }

    /// For people: one line per change, `+` added, `-` removed, `~` changed.
    public func text() -> String {
        if isEmpty { return "\(from) and \(to) hold the same packages, files and registry entries\n" }
        var out = "--- \(from)\n+++ \(to)\n"
        if !packagesAdded.isEmpty || !packagesRemoved.isEmpty || !packagesChanged.isEmpty {
            out += "packages:\n"
            for nevra in packagesAdded { out += "  + \(nevra)\n" }
            for nevra in packagesRemoved { out += "  - \(nevra)\n" }
            for change in packagesChanged { out += "  ~ \(change.from) → \(change.to)\n" }
        }
        if !filesAdded.isEmpty || !filesRemoved.isEmpty || !filesChanged.isEmpty {
            out += "files:\n"
            for path in filesAdded { out += "  + /\(path)\n" }
            for path in filesRemoved { out += "  - /\(path)\n" }
            for change in filesChanged {
                let details = change.changed.map { what -> String in
                    switch what {
                    case "size": "size \(change.from.size) → \(change.to.size)"
                    case "mode": "mode \(change.from.mode) → \(change.to.mode)"
                    case "owner": "owner \(change.from.owner) → \(change.to.owner)"
                    case "kind": "\(change.from.kind) → \(change.to.kind)"
                    case "target": "target \(change.from.linkTarget ?? "") → \(change.to.linkTarget ?? "")"
                    default: "content (sha256 \(change.from.sha256?.prefix(12) ?? "?")… → \(change.to.sha256?.prefix(12) ?? "?")…)"
                    }
                }
                out += "  ~ /\(change.path): \(details.joined(separator: ", "))\n"
            }
        }
        if !registryChanges.isEmpty {
            out += "registry:\n"
            for change in registryChanges {
                out += "  ~ \(change.plugin) \(change.key): \(change.from.map { "\"\($0)\"" } ?? "(none)") → \(change.to.map { "\"\($0)\"" } ?? "(none)")\n"
            }
        }
        return out
    }
}
