import Foundation
import SystemPackage
import Formats

/// What `overlay inspect` reports about one overlay file, as text for people or as stable JSON.
public struct OverlayInspection: Sendable, Codable {
    /// One object, as JSON shows it (mode as octal digits).
    public struct Item: Sendable, Codable, Equatable {
        public let path: String
        public let kind: String
        public let mode: String
        public let uid: Int64
        public let gid: Int64
        public let size: Int64
        public let linkTarget: String?
    }

    public let file: String
    public let format: String
    public let size: Int64
    public let sha256: String
    public let plugins: [RegistryEntry]
    public let entryCount: Int
    public let totalBytes: Int64
    public let entries: [Item]
    /// When the file is a base image: the `base.json` that `overlay base create` wrote beside it.
    public let base: BaseManifest?

    /// Reads the overlay at `path` (see `OverlayReader.read`) and digests it. `path` may also be a manifest
    /// (`<name>-<version>.json`, `base.json`): the file it names beside it is read. A base image's initrd is
    /// recognized by the `base.json` beside it that names it.
    public init(path given: FilePath) throws {
        var path = given
        var base: BaseManifest?
        if given.extension == "json" {
            struct Named: Decodable {
                var kind: String?
                var file: String?
            }
            guard let data = FileManager.default.contents(atPath: given.string),
                let named = try? JSONDecoder().decode(Named.self, from: data), let file = named.file, !file.contains("/"),
                named.kind == "overlay" || named.kind == "base"
            else { throw PackError.notAManifest(path: given) }
            path = given.removingLastComponent().appending(file)
            if named.kind == "base" { base = try? JSONDecoder().decode(BaseManifest.self, from: data) }
        } else if let name = given.lastComponent?.string {
            let beside = given.removingLastComponent().appending("base.json")
            if let data = FileManager.default.contents(atPath: beside.string),
                let manifest = try? JSONDecoder().decode(BaseManifest.self, from: data), manifest.kind == "base", manifest.file == name
            {
                base = manifest
            }
        }
        self.base = base
        let contents = try OverlayReader.read(path, requireRegistry: base == nil)
        let attributes = try? FileManager.default.attributesOfItem(atPath: path.string)
        file = path.string
        format = contents.format.rawValue
        size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        sha256 = try SHA256Digest.file(path)
        do {
            plugins = try contents.registryEntries()
        } catch let error as RegistryEntryError {
            throw PackError.badRegistryEntry(path: path, message: error.description)
        }
        entryCount = contents.entries.count
        totalBytes = contents.totalBytes
        entries = contents.entries.map {
            Item(
                path: $0.path, kind: $0.kind.rawValue, mode: String(format: "%04o", $0.mode), uid: $0.uid, gid: $0.gid,
                size: $0.size, linkTarget: $0.linkTarget)
        }
    }

    /// Pretty-printed JSON with sorted keys, so the same overlay always prints the same text.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// A summary for people: the file, its format and size, each plugin's registry entry, then the listing.
    public func text() -> String {
        var out = ""
        func line(_ label: String, _ value: String) { out += label.padding(toLength: 10, withPad: " ", startingAt: 0) + value + "\n" }
        line("file:", file)
        line("format:", format)
        line("size:", "\(size) bytes")
        line("sha256:", sha256)
        if let base {
            line("image:", "base image (base.json beside it)")
            line("identity:", base.identity)
            line("packages:", "\(base.packages.count) installed, locked for overlays")
            if let kernel = base.kernel { line("kernel:", kernel) }
        }
        for plugin in plugins {
            line("plugin:", "\(plugin.name) \(plugin.version)")
            if !plugin.summary.isEmpty { line("summary:", plugin.summary) }
            line("packages:", plugin.packages.isEmpty ? "(none)" : plugin.packages.joined(separator: " "))
            if !plugin.base.isEmpty { line("base:", plugin.base) }
        }
        line("entries:", "\(entryCount) (\(totalBytes) bytes of file data)")
        out += "\n"
        let owners = entries.map { "\($0.uid):\($0.gid)" }
        let ownerWidth = owners.map(\.count).max() ?? 3
        let sizeWidth = entries.map { String($0.size).count }.max() ?? 1
        for (item, owner) in zip(entries, owners) {
            let type =
                switch item.kind {
                case "directory": "d"
                case "symlink": "l"
                case "hardlink": "h"
                case "special": "?"
                default: "-"
                }
            var row = "\(type)\(Self.symbolic(item.mode)) \(owner.padding(toLength: ownerWidth, withPad: " ", startingAt: 0)) "
            row += String(repeating: " ", count: sizeWidth - String(item.size).count) + "\(item.size) \(item.path)"
            if let target = item.linkTarget { row += item.kind == "hardlink" ? " link to \(target)" : " -> \(target)" }
            out += row + "\n"
        }
        return out
    }

    /// `0755` → `rwxr-xr-x` (with s/S/t/T for the special bits).
    static func symbolic(_ octal: String) -> String {
        let mode = UInt32(octal, radix: 8) ?? 0
        let letters: [Character] = ["r", "w", "x"]
        var chars: [Character] = (0..<9).map { mode & (0o400 >> UInt32($0)) != 0 ? letters[$0 % 3] : "-" }
        if mode & 0o4000 != 0 { chars[2] = chars[2] == "x" ? "s" : "S" }
        if mode & 0o2000 != 0 { chars[5] = chars[5] == "x" ? "s" : "S" }
        if mode & 0o1000 != 0 { chars[8] = chars[8] == "x" ? "t" : "T" }
        return String(chars)
    }
}
