import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage
import Formats

extension Overlay {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what changed between two overlays: packages, files and registry entries.",
            discussion: """
                Reads both overlays (any format, recognized by content; a manifest <name>-<version>.json may be \
                given for the file it names) with every file's SHA-256, and prints the packages added, removed and \
                changed (by name, from the registry entries the overlays carry), the files added, removed and changed \
                (kind, size, mode, owner, content, symlink target) and the registry entries' changed keys. Exit \
                status 0 whether or not they differ; 1 when one cannot be read.
                """)

        @Argument(help: ArgumentHelp("The older overlay (or its manifest).", valueName: "A"), completion: .file())
        var old: String

        @Argument(help: ArgumentHelp("The newer overlay (or its manifest).", valueName: "B"), completion: .file())
        var new: String

        @Flag(help: "Print the differences as JSON.")
        var json = false

        @OptionGroup var verbosity: ConsoleOptions

        func run() throws {
            let console = verbosity.console()
            try reportingErrors(console) {
                let diff = try OverlayDiff(from: FilePath(old), to: FilePath(new))
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(diff), as: UTF8.self))
                } else {
                    print(diff.text(), terminator: "")
                }
            }
        }
    }
}
