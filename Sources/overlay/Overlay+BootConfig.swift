import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage
import Formats
import Fleet

extension Overlay {
    struct BootConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "boot-config",
            abstract: "Write a fleet's per-MAC iPXE, PXELINUX and GRUB boot files into a directory.",
            discussion: """
                Reads FILE (fleet.toml), checks it against the kernel, base initrd, base.json and overlay manifests in \
                DIR, and writes boot.ipxe, ipxe/<mac>, ipxe/default, pxelinux.cfg/01-<mac>, pxelinux.cfg/default, \
                grub.cfg-01-<mac> and grub.cfg under OUT, for any static web or TFTP server. Each file appears \
                atomically; files an earlier run wrote for nodes no longer in the fleet are removed (the list is kept \
                in OUT/.overlay-boot-files). If the fleet does not validate, nothing is written.

                With --advertise URL, every kernel command line ends with overlay.report=URL/report, where the node \
                sends its report to an overlay serve --state running at URL, as the files overlay serve hands out \
                say; without it the files name no report URL.
                """)

        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp("The served directory: kernel, base initrd with base.json, overlays with their manifests.", valueName: "DIR"),
            completion: .directory)
        var directory: String

        @Option(name: .customLong("fleet"), help: ArgumentHelp("The fleet file.", valueName: "FILE"), completion: .file(extensions: ["toml"]))
        var fleetFile: String

        @Option(name: .customLong("out"), help: ArgumentHelp("Where to write the boot files; often DIR itself.", valueName: "OUT"), completion: .directory)
        var output: String

        @Option(
            help: ArgumentHelp(
                "The URL of the overlay serve --state that takes the nodes' reports, named as overlay.report=URL/report.", valueName: "URL"))
        var advertise: String?

        @Flag(help: "Print the written files as JSON.")
        var json = false

        @OptionGroup var verbosity: ConsoleOptions

        func run() throws {
            let console = verbosity.console()
            try reportingErrors(console) {
                let report = try advertise.map { try ReportAddress(advertise: $0) }
                let fleet = try Fleet.load(file: FilePath(fleetFile), servedDirectory: FilePath(directory)).reporting(to: report)
                for note in fleet.notes { console.note("overlay: \(note)") }
                let written = try fleet.writeBootFiles(to: FilePath(output))
                for file in written { console.detail("wrote \(FilePath(output).appending(file))") }
                if json {
                    let summary = Written(directory: output, files: written, nodes: fleet.nodes.count, roles: fleet.roles.count)
                    print(String(decoding: try JSONEncoder.manifest.encode(summary), as: UTF8.self))
                } else {
                    print(
                        "wrote \(counted(written.count, "boot file")) for \(counted(fleet.nodes.count, "node")) and \(counted(fleet.roles.count, "role")) to \(output)"
                    )
                }
            }
        }

        /// What `--json` prints.
        struct Written: Encodable {
            var directory: String
            var files: [String]
            var nodes: Int
            var roles: Int
        }
    }
}
