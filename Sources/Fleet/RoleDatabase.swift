import Foundation
import Formats
import SystemPackage

/// A role's rpmdb initrd (`rpmdb/<role>-rpmdb.cpio.zst` beside the base initrd, made by `overlay rpmdb`), which a
/// node of the role gets after its overlays so that `rpm -qa` lists the base and the plugins. It is handed out only
/// while it was made from exactly the role's overlays (same files, same sha256) on the fleet's base: an rpmdb listing
/// other packages than the node has would be worse than the base's own.
enum RoleDatabase {
    enum Lookup {
        /// No `rpmdb/<role>.json`.
        case none
        /// The initrd to append (relative to the served directory) and its manifest.
        case current(path: String, manifest: RoleDatabaseManifest)
        /// There is one, but it was made for something else; the reason says what and what to do.
        case stale(reason: String)
    }

    static let directory = "rpmdb"

    /// Looks in `folder` (relative to `served`) for the role's rpmdb manifest.
    static func find(role: String, overlays: [ServedOverlay], baseIdentity: String?, folder: String, in served: FilePath) -> Lookup {
        let manifestPath = "\(folder)/\(role).json"
        guard let data = FileManager.default.contents(atPath: served.appending(manifestPath).string) else { return .none }
        let again = "run overlay rpmdb again, or remove it"
        guard let manifest = try? JSONDecoder().decode(RoleDatabaseManifest.self, from: data), manifest.kind == "rpmdb" else {
            return .stale(reason: "\(manifestPath) is not an rpmdb manifest overlay wrote, so the role's rpmdb is not served; \(again)")
        }
        let path = "\(folder)/\(manifest.file)"
        let expected = overlays.map { RoleDatabaseManifest.Source(file: $0.path, sha256: $0.manifest.sha256) }
        if manifest.base != baseIdentity {
            return .stale(reason: "\(manifestPath) was made for another base (\(manifest.base)), so the role's rpmdb is not served; \(again)")
        }
        if manifest.overlays != expected {
            let made = manifest.overlays.map(\.file).joined(separator: ", ")
            return .stale(
                reason:
                    "\(manifestPath) was made from other overlays (\(made.isEmpty ? "none" : made)) than the role has now, so the role's rpmdb is not served; \(again)"
            )
        }
        if manifest.file.contains("/") || ServedPath.problem(with: path, in: served) != nil {
            return .stale(reason: "\(path), which \(manifestPath) names, is missing, so the role's rpmdb is not served; \(again)")
        }
        return .current(path: path, manifest: manifest)
    }
}
