import Formats
/// An overlay found in the served directory through its `<name>-<version>.json` manifest.
public struct ServedOverlay: Sendable, Equatable {
    public var manifest: OverlayManifest
    /// The manifest's path, relative to the served directory.
    public var manifestPath: String
    /// The overlay file's path, relative to the served directory (the manifest's directory + `file`).
    public var path: String

    /// `name-version`, the way the overlay is listed in messages.
    public var label: String { "\(manifest.name)-\(manifest.version)" }
}
