import ArgumentParser
import OverlayKit
import SystemPackage

extension Overlay {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what an overlay or a base image holds.",
            discussion: """
                Reads a cpio overlay (bare, gzip or zstd) or a squashfs or erofs layer, recognized by its content, \
                and prints its format, size and SHA-256, the plugin registry entries it carries \
                (/etc/ovirt.plugins.d/<name>: name, version, summary, packages, base image) and every file \
                with its mode, owner and size. With --json the same as one JSON object.

                A base image (base.cpio.zst, as overlay base create writes it) is inspected the same way; with the \
                base.json beside it, its identity, package count and kernel are shown too. A manifest \
                (<name>-<version>.json, base.json) may be given instead of the file it names.
                """
        )

        @Argument(help: "The overlay or base image to read (or its .json manifest).", completion: .file())
        var overlay: String

        @Flag(help: "Print one JSON object (stable key order) instead of text.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            let console = output.console()
            try reportingErrors(console) {
                let inspection = try OverlayInspection(path: FilePath(overlay))
                print(json ? try inspection.json() : inspection.text(), terminator: "")
            }
        }
    }
}
