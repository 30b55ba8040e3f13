import Foundation
import SystemPackage
import Formats
import Posix

/// What a directory `overlay build --out` (and `overlay base create --out`) wrote holds: the overlays, each
/// read from its manifest `<name>-<version>.json`, and the base, from `base.json`, when there is one.
public struct PublishedOverlays: Sendable {
    /// One overlay: its manifest and whether the file it names is there with the size the manifest gives.
    public struct Overlay: Sendable, Encodable {
        public let manifest: OverlayManifest
        /// The manifest's path.
        public let path: FilePath
        /// The overlay file is missing, or its size is not the manifest's.
        public let damaged: String?

        public func encode(to encoder: any Encoder) throws { try manifest.encode(to: encoder) }
    }

    public let directory: FilePath
    /// Sorted by name, then version.
    public let overlays: [Overlay]
    public let base: BaseManifest?

    /// Reads every `*.json` directly in `directory` whose `kind` is `"overlay"` (other JSON files are not ours
    /// and are left alone), and `base.json`.
    public init(directory: FilePath) throws(PublishedOverlaysError) {
        self.directory = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.string, isDirectory: &isDirectory) else { throw .missing(directory) }
        guard isDirectory.boolValue else { throw .notADirectory(directory) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.string).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
        } catch {
            throw .unreadable(directory, ErrorText.reason(error))
        }
        var overlays: [Overlay] = []
        var base: BaseManifest?
        struct Kind: Decodable { var kind: String? }
        for name in names {
            let path = directory.appending(name)
            guard let data = FileManager.default.contents(atPath: path.string),
                let kind = try? JSONDecoder().decode(Kind.self, from: data).kind, kind == "overlay" || kind == "base"
            else { continue }
            do {
                if kind == "base" {
                    base = try JSONDecoder().decode(BaseManifest.self, from: data)
                } else {
                    let manifest = try JSONDecoder().decode(OverlayManifest.self, from: data)
                    overlays.append(Overlay(manifest: manifest, path: path, damaged: Self.check(manifest.file, size: manifest.size, in: directory)))
                }
            } catch {
                throw .badManifest(path, Self.describe(error))
            }
        }
        self.overlays = overlays.sorted { ($0.manifest.name, $0.manifest.version) < ($1.manifest.name, $1.manifest.version) }
        self.base = base
    }

    /// Why the file a manifest names is not usable, or nil when it is there with the manifest's size.
    static func check(_ file: String, size: Int64, in directory: FilePath) -> String? {
        guard !file.contains("/"), let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appending(file).string)
        else { return "\(file) is missing" }
        let actual = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        return actual == size ? nil : "\(file) has \(actual) bytes, its manifest says \(size)"
    }

    /// A decoding error in a few words: the key that is missing or of the wrong type.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "it has no \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
        default: "it is not a manifest overlay wrote"
        }
    }
}

/// Why a directory of overlays could not be listed.
public enum PublishedOverlaysError: UserError, Sendable {
    case missing(FilePath)
    case notADirectory(FilePath)
    case unreadable(FilePath, String)
    case badManifest(FilePath, String)

    public var description: String {
        switch self {
        case .missing(let path): "\(path) does not exist; give the directory overlay build --out wrote to"
        case .notADirectory(let path): "\(path) is not a directory; give the directory overlay build --out wrote to"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .badManifest(let path, let reason): "\(path) is not a readable manifest (\(reason)); rebuild the overlay or remove the file"
        }
    }
}
