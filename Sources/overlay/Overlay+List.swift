import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage

extension Overlay {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the plugins a node has, from its registry (etc/ovirt.plugins.d).")

        @Option(help: ArgumentHelp("The node's root filesystem.", valueName: "dir"))
        var root: String = "/"

        @Flag(help: "Print the plugins as JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                let entries = try RegistryEntry.installed(under: FilePath(root))
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(entries), as: UTF8.self))
                    return
                }
                if entries.isEmpty {
                    print("no plugins (\(FilePath(root).appending(RegistryEntry.directory)) has no entries)")
                    return
                }
                let width = entries.map { "\($0.name) \($0.version)".count }.max() ?? 0
                for entry in entries {
                    let head = "\(entry.name) \(entry.version)".padding(toLength: width, withPad: " ", startingAt: 0)
                    print("\(head)  \(entry.summary)")
                }
            }
        }
    }
}
