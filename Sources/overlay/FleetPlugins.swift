import Fleet
import OverlayKit
import SystemPackage

/// How `rebase` and `check` read a fleet beside plugin directories: a fleet names built overlays, and the plugin of
/// each is the `--plugin` of the same plugin name.
enum FleetPlugins {
    /// The directory a fleet is served from: `--dir`, or the fleet file's own directory.
    static func servedDirectory(fleet file: FilePath, dir: String?) -> FilePath {
        dir.map { FilePath($0) } ?? (file.removingLastComponent().isEmpty ? FilePath(".") : file.removingLastComponent())
    }

    /// The plugins of `role`'s overlays among `plugins`, in the role's order, and the overlays no plugin matches.
    static func match(_ role: Fleet.Role, in plugins: [Plugin]) -> (found: [Plugin], missing: [ServedOverlay]) {
        var found: [Plugin] = []
        var missing: [ServedOverlay] = []
        for overlay in role.overlays {
            if let plugin = plugins.first(where: { $0.name == overlay.manifest.name }) {
                found.append(plugin)
            } else {
                missing.append(overlay)
            }
        }
        return (found, missing)
    }
}
