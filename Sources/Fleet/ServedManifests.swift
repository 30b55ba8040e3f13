import Foundation
import SystemPackage
import Formats

/// The overlay manifests under a served directory, read once per fleet load.
struct ServedManifests {
    var overlays: [ServedOverlay] = []

    /// Directories that hold generated boot files, never manifests.
    private static let generatedDirectories: Set<String> = ["ipxe", "pxelinux.cfg", "rpmdb"]
    /// Deep enough for `overlays/<plugin>/x.json`, shallow enough that a served tree never gets walked for long.
    private static let maximumDepth = 4

    /// Reads every `*.json` below `directory` (hidden entries and symbolic links skipped) whose `kind` is
    /// `"overlay"`. Other JSON files are none of the fleet's business and are left alone.
    static func scan(_ directory: FilePath) throws(FleetError) -> ServedManifests {
        var found = ServedManifests()
        for relative in manifestPaths(directory) {
            if let overlay = try readOverlay(relative, in: directory) { found.overlays.append(overlay) }
        }
        return found
    }

    /// Every `*.json` below `directory` where manifests can be (relative paths, sorted): hidden entries, symbolic
    /// links, the generated boot file directories and a base's unpacked `rootfs/` are skipped.
    static func manifestPaths(_ directory: FilePath) -> [String] {
        let root = URL(fileURLWithPath: directory.string, isDirectory: true)
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey, .isDirectoryKey],
                options: [.skipsHiddenFiles, .skipsPackageDescendants])
        else { return [] }
        var manifests: [String] = []
        while let url = walker.nextObject() as? URL {
            let relative = Self.relativePath(of: url, under: root)
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey, .isDirectoryKey])
            if values?.isDirectory == true {
                // `overlay base create` leaves the base's unpacked tree as rootfs/ beside base.json: a whole OS, no manifests.
                let baseTree =
                    url.lastPathComponent == "rootfs"
                    && FileManager.default.fileExists(atPath: url.deletingLastPathComponent().appendingPathComponent("base.json").path)
                if baseTree || walker.level >= maximumDepth || (walker.level == 1 && generatedDirectories.contains(url.lastPathComponent)) {
                    walker.skipDescendants()
                }
                continue
            }
            guard values?.isSymbolicLink != true, values?.isRegularFile == true, url.pathExtension == "json" else { continue }
            manifests.append(relative)
        }
        return manifests.sorted()
    }

    /// The `*.json` files directly in `folder` (relative to `directory`), as relative paths.
    static func jsonFiles(in folder: String, under directory: FilePath) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.appending(folder).string)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
    }

    private static func readOverlay(_ relative: String, in directory: FilePath) throws(FleetError) -> ServedOverlay? {
        let path = directory.appending(relative)
        guard let data = FileManager.default.contents(atPath: path.string) else { return nil }
        struct Kind: Decodable { var kind: String? }
        guard let kind = try? JSONDecoder().decode(Kind.self, from: data), kind.kind == "overlay" else { return nil }
        let manifest: OverlayManifest
        do {
            manifest = try JSONDecoder().decode(OverlayManifest.self, from: data)
        } catch {
            throw .badManifest(path: path, reason: Self.describe(error))
        }
        guard ServedPath.isPlainName(manifest.file) else {
            throw .badManifest(path: path, reason: "its file \"\(manifest.file)\" is not a plain file name beside the manifest")
        }
        return ServedOverlay(manifest: manifest, manifestPath: relative, path: ServedOverlay.path(of: manifest.file, besideManifest: relative))
    }

    static func readBase(_ path: FilePath) throws(FleetError) -> BaseManifest? {
        guard let data = FileManager.default.contents(atPath: path.string) else { return nil }
        do {
            let manifest = try JSONDecoder().decode(BaseManifest.self, from: data)
            guard manifest.kind == "base" else {
                throw FleetError.badManifest(path: path, reason: "its kind is \"\(manifest.kind)\", not \"base\"")
            }
            return manifest
        } catch let error as FleetError {
            throw error
        } catch {
            throw .badManifest(path: path, reason: describe(error))
        }
    }

    private static func relativePath(of url: URL, under root: URL) -> String {
        let full = url.standardizedFileURL.path
        let base = root.standardizedFileURL.path
        guard full.hasPrefix(base) else { return url.lastPathComponent }
        return String(full.dropFirst(base.count).drop(while: { $0 == "/" }))
    }

    /// JSONDecoder's errors, in words: which key, what was wrong.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _):
            return "the key \"\(key.stringValue)\" is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "the value of \"\(key)\" has the wrong type"
        case DecodingError.dataCorrupted:
            return "it is not valid JSON"
        default:
            return "\(error)"
        }
    }
}
