import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage
import Formats

extension Overlay {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the overlays in a directory, or the plugins a node has.",
            discussion: """
                With --dir: the overlays `overlay build --out DIR` wrote there, read from their manifests \
                (<name>-<version>.json): name, version, format, size and the base they were built against; a \
                base.json there (from `overlay base create`) is named first. An overlay whose file is missing or \
                does not have its manifest's size is marked. With --root (default /): the plugins a node has, from \
                its registry (etc/ovirt.plugins.d).
                """)

        @Option(
            help: ArgumentHelp("A node's root filesystem: list the plugins in its registry (default /).", valueName: "dir"),
            completion: .directory)
        var root: String?

        @Option(help: ArgumentHelp("A directory overlay build --out wrote: list its overlays.", valueName: "dir"), completion: .directory)
        var dir: String?

        @Flag(help: "Print the plugins or overlays as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            if root != nil && dir != nil {
                throw ValidationError("--root lists a node's plugins and --dir the overlays in a directory; give one of them.")
            }
        }

        func run() throws {
            let console = output.console()
            try reportingErrors(console) {
                if let dir { try listOverlays(in: FilePath(dir), console: console) } else { try listPlugins(under: FilePath(root ?? "/")) }
            }
        }

        private func listPlugins(under root: FilePath) throws {
            let entries = try RegistryEntry.installed(under: root)
            if json {
                print(String(decoding: try JSONEncoder.manifest.encode(entries), as: UTF8.self))
                return
            }
            if entries.isEmpty {
                print("no plugins (\(root.appending(RegistryEntry.directory)) has no entries)")
                return
            }
            let width = entries.map { "\($0.name) \($0.version)".count }.max() ?? 0
            for entry in entries {
                let head = "\(entry.name) \(entry.version)".padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(head)  \(entry.summary)")
            }
        }

        private func listOverlays(in directory: FilePath, console: Console) throws {
            let published = try PublishedOverlays(directory: directory)
            for overlay in published.overlays { console.detail("read \(overlay.path)") }
            if json {
                print(String(decoding: try JSONEncoder.manifest.encode(published.overlays), as: UTF8.self))
                return
            }
            if let base = published.base {
                print("base \(base.identity)  \(base.file)  \(humanSize(base.size))  \(counted(base.packages.count, "package"))")
            }
            if published.overlays.isEmpty {
                print("no overlays (\(directory) has no overlay manifests <name>-<version>.json)")
                return
            }
            var rows = [["NAME", "VERSION", "FORMAT", "SIZE", "PACKAGES", "BASE"]]
            for overlay in published.overlays {
                let manifest = overlay.manifest
                var base = String(manifest.base.prefix(19))
                if let own = published.base?.identity { base += own == manifest.base ? " (this base)" : " (another base)" }
                if let damaged = overlay.damaged { base += "  DAMAGED: \(damaged)" }
                rows.append([manifest.name, manifest.version, manifest.format, humanSize(manifest.size), String(manifest.packages.count), base])
            }
            let widths = (0..<rows[0].count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                let padded = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                print((padded + [row[row.count - 1]]).joined(separator: "  "))
            }
        }
    }
}
