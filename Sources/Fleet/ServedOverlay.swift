import Formats
import SystemPackage

/// An overlay found in the served directory through its `<name>-<version>.json` manifest.
public struct ServedOverlay: Sendable, Equatable {
    public var manifest: OverlayManifest
    /// The manifest's path, relative to the served directory.
    public var manifestPath: String
    /// The overlay file's path, relative to the served directory (the manifest's directory + `file`).
    public var path: String

    /// `name-version`, the way the overlay is listed in messages.
    public var label: String { "\(manifest.name)-\(manifest.version)" }

    /// The file of package headers beside the overlay (`<name>-<version>.rpmheaders`), relative to the served
    /// directory; nil when the manifest names none, or names something other than a plain file name beside it.
    public var headersPath: String? {
        guard let headers = manifest.headers, ServedPath.isPlainName(headers) else { return nil }
        return Self.path(of: headers, besideManifest: manifestPath)
    }

    /// The path, relative to the served directory, of the file `name` beside the manifest at `manifestPath`.
    static func path(of name: String, besideManifest manifestPath: String) -> String {
        let folder = FilePath(manifestPath).removingLastComponent()
        return folder.isEmpty ? name : folder.appending(name).string
    }

    /// Every overlay under `directory`, as a fleet loaded against it finds them (manifests at most a few folders
    /// deep; hidden entries, symbolic links, the generated boot file folders and a base's `rootfs/` skipped).
    public static func all(in directory: FilePath) throws(FleetError) -> [ServedOverlay] {
        try ServedManifests.scan(directory).overlays
    }
}
