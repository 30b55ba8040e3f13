import ArgumentParser
import OverlayKit
import SystemPackage

extension Overlay {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what an overlay file holds.",
            discussion: """
                Reads a cpio overlay (bare, gzip or zstd) or a squashfs layer, recognized by its content, \
                and prints its format, size and SHA-256, the plugin registry entries it carries \
                (/etc/ovirt.plugins.d/<name>: name, version, summary, packages, base image) and every file \
                with its mode, owner and size. With --json the same as one JSON object.
                """
        )

        @Argument(help: "The overlay file to read.", completion: .file())
        var overlay: String

        @Flag(help: "Print one JSON object (stable key order) instead of text.")
        var json = false

        func run() throws {
            try reportingErrors {
                let inspection = try OverlayInspection(path: FilePath(overlay))
                print(json ? try inspection.json() : inspection.text(), terminator: "")
            }
        }
    }
}
