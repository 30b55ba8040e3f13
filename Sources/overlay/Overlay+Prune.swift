import ArgumentParser
import Fleet
import Formats
import Foundation
import OverlayKit
import Posix
import SystemPackage

extension Overlay {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the overlays a newer version has replaced in a served directory, keeping one for a rollback.",
            discussion: """
                Reads every fleet given (each against DIR, as overlay serve --dir DIR --fleet FILE would) and the \
                overlay manifests under DIR. An overlay is removed when a fleet uses its plugin and every version \
                of that plugin in use is newer: of those older versions, the newest --keep N (default 1) stay, so a \
                role can be pinned back. An overlay in use, one newer than the versions in use (built, not rolled \
                out yet) and the overlays of a plugin no fleet uses are left alone. Name every fleet that boots from \
                DIR: what the fleets given do not use may be removed. Versions are ordered as rpm orders them.

                Each overlay goes as a whole: its manifest first (a running overlay serve then stops naming it), \
                then the overlay file and its package headers. Takes each folder's build lock, so it never races an \
                overlay build there; a node downloading a removed file finishes its download. A fleet that does not \
                load stops the command before anything is removed. --dry-run says what would go.
                """)

        @Option(
            name: .customLong("dir"), help: ArgumentHelp("The served directory the overlays were built into.", valueName: "DIR"),
            completion: .directory)
        var directory: String

        @Option(
            name: .customLong("fleet"), help: ArgumentHelp("A fleet that boots from DIR; give every one of them.", valueName: "FILE"),
            completion: .file(extensions: ["toml"]))
        var fleetFiles: [String] = []

        @Option(help: ArgumentHelp("Replaced versions of each plugin to keep for a rollback (default 1).", valueName: "N"))
        var keep = 1

        @Flag(name: .customLong("dry-run"), help: "Say what would be removed and remove nothing.")
        var dryRun = false

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            if fleetFiles.isEmpty {
                throw ValidationError("prune keeps what fleets use: give --fleet FILE for every fleet that boots from --dir.")
            }
            if keep < 0 { throw ValidationError("--keep \(keep) is not a number of versions: give 0 or more.") }
        }

        func run() throws {
            let console = output.console()
            try reportingErrors(console) {
                let root = FilePath(directory)
                let plan = try PrunePlan(directory: root, fleets: try fleetFiles.map(loadFleet), keep: keep)
                for (overlay, reason) in plan.kept { console.detail("kept \(overlay.manifestPath): \(reason)") }
                if plan.removals.isEmpty {
                    print("nothing to prune in \(directory): no overlay is older than the versions the fleets use, beyond the \(keep) kept for a rollback")
                    return
                }
                if !dryRun { try installInterruptionHandler() }
                var freed: Int64 = 0
                // Each folder's build lock, taken once and held until every removal there is done.
                var locks: [FilePath: OutputDirectory] = [:]
                defer { withExtendedLifetime(locks) {} }
                for removal in plan.removals {
                    let bytes = dryRun ? removal.bytes : try remove(removal, in: root, locks: &locks, console: console)
                    freed += bytes
                    print("\(dryRun ? "would remove" : "removed") \(removal.overlay.label)  \(removal.paths.joined(separator: ", "))  \(humanSize(bytes))")
                }
                print("\(dryRun ? "would free" : "freed") \(humanSize(freed)) in \(directory)")
            }
        }

        private func loadFleet(_ file: String) throws -> Fleet {
            do {
                return try Fleet.load(file: FilePath(file), servedDirectory: FilePath(directory))
            } catch {
                throw PruneError.fleetDoesNotLoad(file: file, reason: error.description)
            }
        }

        private func installInterruptionHandler() throws {
            try Interruption.handleSignals { signal, _ in
                "overlay: interrupted by \(signal); every overlay was removed whole or left whole in \(directory): run prune again to finish"
            }
        }

        /// Removes one overlay's files under its folder's build lock (taken into `locks` the first time), the manifest
        /// first, as one step a signal does not split; the bytes freed.
        private func remove(_ removal: PrunePlan.Removal, in root: FilePath, locks: inout [FilePath: OutputDirectory], console: Console) throws -> Int64 {
            let folder = root.appending(removal.overlay.manifestPath).removingLastComponent()
            if locks[folder] == nil {
                locks[folder] = try OutputDirectory(folder) { pid in
                    console.note("overlay: waiting for the build\(pid.map { " (pid \($0))" } ?? "") writing to \(folder) to finish")
                }
            }
            try Interruption.uninterrupted { () throws(PruneError) in
                for path in removal.paths {
                    let full = root.appending(path)
                    if unlink(full.string) != 0 && errno != ENOENT {
                        throw PruneError.cannotRemove(path: full, reason: Errno(rawValue: errno).posixDescription)
                    }
                }
                AtomicFile.syncDirectory(folder)
            }
            return removal.bytes
        }
    }
}

/// What `prune` removes from a served directory, and why it keeps the rest.
struct PrunePlan {
    struct Removal {
        let overlay: ServedOverlay
        /// The manifest first, then the overlay file and its headers (those present), relative to the directory.
        let paths: [String]
        let bytes: Int64
    }

    private(set) var removals: [Removal] = []
    /// The overlays not in use that stay, with the reason, in the order found.
    private(set) var kept: [(ServedOverlay, String)] = []

    init(directory: FilePath, fleets: [Fleet], keep: Int) throws {
        let inUse = Set(fleets.flatMap { $0.roles.flatMap { $0.overlays.map(\.manifestPath) } })
        var byName: [String: [ServedOverlay]] = [:]
        for overlay in try ServedOverlay.all(in: directory) { byName[overlay.manifest.name, default: []].append(overlay) }
        for name in byName.keys.sorted() {
            // Newest first.
            let versions = byName[name]!.sorted { NEVRA.compareVersions($0.manifest.version, $1.manifest.version) > 0 }
            let used = versions.filter { inUse.contains($0.manifestPath) }
            guard let oldestUsed = used.last else {
                kept += versions.map { ($0, "no fleet uses plugin \(name)") }
                continue
            }
            var replaced = 0
            for overlay in versions where !inUse.contains(overlay.manifestPath) {
                let order = NEVRA.compareVersions(overlay.manifest.version, oldestUsed.manifest.version)
                if order >= 0 {
                    kept.append((overlay, "\(order > 0 ? "newer than" : "the same version as") \(oldestUsed.label), which a fleet uses"))
                } else if replaced < keep {
                    replaced += 1
                    kept.append((overlay, "kept for a rollback (--keep \(keep))"))
                } else {
                    let paths = [overlay.manifestPath, overlay.path] + (overlay.headersPath.map { [$0] } ?? [])
                    let present = paths.filter { FileManager.default.fileExists(atPath: directory.appending($0).string) }
                    removals.append(Removal(overlay: overlay, paths: present, bytes: present.reduce(0) { $0 + FileTree.size(directory.appending($1)) }))
                }
            }
        }
    }
}

enum PruneError: UserError {
    case fleetDoesNotLoad(file: String, reason: String)
    case cannotRemove(path: FilePath, reason: String)

    var description: String {
        switch self {
        case .fleetDoesNotLoad(let file, let reason):
            "not pruning: fleet \(file) does not load, so what it uses is unknown: \(reason)"
        case .cannotRemove(let path, let reason):
            "cannot remove \(path): \(reason); the overlays removed before it are gone, the rest are untouched"
        }
    }
}
