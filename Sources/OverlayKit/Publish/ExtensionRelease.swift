import Formats

/// The `usr/lib/extension-release.d/extension-release.<name>` file a layer carries, so that on a systemd base
/// the same squashfs or erofs image is also a valid systemd-sysext extension: `ID` is the base's, and the image
/// matches the base's `SYSEXT_LEVEL` when its os-release has one, else its `VERSION_ID` (the rules
/// systemd-sysext applies). systemd-sysext merges only `/usr` and `/opt`: the plugin's other files (its
/// registry entry in `/etc` among them) reach a node only through overlay's own stacking.
public struct ExtensionRelease: Sendable, Equatable {
    public let name: String
    public let id: String
    public let versionID: String?
    public let sysextLevel: String?

    static let directory = "usr/lib/extension-release.d"

    /// The file for plugin `name` on a base whose os-release fields are `osRelease`; nil when the base has no
    /// `ID`, which systemd-sysext requires.
    public init?(name: String, osRelease: [String: String]) {
        guard let id = osRelease["ID"], !id.isEmpty else { return nil }
        self.name = name
        self.id = id
        let level = osRelease["SYSEXT_LEVEL"].flatMap { $0.isEmpty ? nil : $0 }
        self.sysextLevel = level
        self.versionID = level == nil ? osRelease["VERSION_ID"].flatMap { $0.isEmpty ? nil : $0 } : nil
    }

    /// The path inside the layer, without a leading "/".
    public var path: String { "\(Self.directory)/extension-release.\(name)" }

    /// os-release style lines, the way systemd reads them.
    public func rendered() -> String {
        var lines = ["ID=\(RegistryEntry.quoted(id))"]
        if let sysextLevel { lines.append("SYSEXT_LEVEL=\(RegistryEntry.quoted(sysextLevel))") }
        if let versionID { lines.append("VERSION_ID=\(RegistryEntry.quoted(versionID))") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What the overlay's manifest records about it.
    public var manifestEntry: OverlayManifest.ExtensionRelease {
        OverlayManifest.ExtensionRelease(file: path, id: id, versionID: versionID, sysextLevel: sysextLevel)
    }
}

extension BaseImage {
    /// The base's os-release fields (`etc/os-release`, else `usr/lib/os-release`); empty when it has neither or
    /// they cannot be parsed.
    public func osRelease() -> [String: String] {
        for candidate in ["etc/os-release", "usr/lib/os-release"] {
            guard let text = regularFileText(candidate) else { continue }
            return (try? RegistryEntry.fields(text, source: candidate)) ?? [:]
        }
        return [:]
    }
}
