import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage

/// `--format` and `--compress`, shared by `build` and `base create`.
struct PackOptions: ParsableArguments {
    enum Layout: String, ExpressibleByArgument, CaseIterable { case cpio, squashfs }
    enum Compression: String, ExpressibleByArgument, CaseIterable { case zstd, gzip, none }

    @Option(help: "cpio: an initramfs overlay the kernel unpacks after the base initrd; squashfs: a layer to mount.")
    var format: Layout = .cpio

    @Option(help: "Compression of a cpio overlay.")
    var compress: Compression = .zstd

    @Option(help: ArgumentHelp("zstd level, 1 (fastest) to 22 (smallest); the window stays within what the kernel's unpacker takes.",
                               valueName: "n"))
    var level: Int32 = OverlayPacker.defaultZstdLevel

    func validate() throws {
        if format == .squashfs && compress != .zstd {
            throw ValidationError("--compress applies to cpio overlays; squashfs layers are always zstd-compressed.")
        }
        guard (1...22).contains(level) else { throw ValidationError("--level takes a zstd level from 1 to 22.") }
        if level != OverlayPacker.defaultZstdLevel && compress != .zstd {
            throw ValidationError("--level applies to zstd compression.")
        }
    }

    func packer(sourceDateEpoch: Int64) -> OverlayPacker {
        OverlayPacker(format: overlayFormat, sourceDateEpoch: sourceDateEpoch, zstdLevel: level)
    }

    var overlayFormat: OverlayFormat {
        switch (format, compress) {
        case (.squashfs, _): .squashfs
        case (.cpio, .zstd): .cpioZstd
        case (.cpio, .gzip): .cpioGzip
        case (.cpio, .none): .cpio
        }
    }
}

extension Overlay {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build one overlay per plugin against the locked base.",
            discussion: """
                For each plugin: solve against the locked base, install its packages with librpm into a root that \
                holds only its delta (scriptlets run against the base's tree), drop its blacklist, add its registry \
                entry etc/ovirt.plugins.d/<name>, and write OUT/<name>-<version>.cpio.zst plus a .json manifest. \
                Outputs appear atomically. Byte-identical for the same inputs and SOURCE_DATE_EPOCH (default 0). \
                Exits 3 when a plugin cannot be satisfied, 1 for other failures; the other plugins are still built.

                A published overlay is immutable: building the same name and version again with other bytes is \
                refused (bump the plugin's version, or pass --replace); the same bytes again are left unchanged. \
                One build writes to OUT at a time (a second one waits). SIGINT and SIGTERM remove the unfinished \
                files and exit 130 and 143; what a killed build left is removed by the next build into OUT.
                """
        )

        @OptionGroup var solve: SolveOptions
        @OptionGroup var pack: PackOptions

        @Option(help: ArgumentHelp("The directory to write overlays and manifests to.", valueName: "dir"))
        var out: String

        @Flag(help: "Replace an overlay already published in OUT under the same name and version with other bytes (nodes that booted it get different content under the same name).")
        var replace = false

        @Flag(help: "Print the built overlays' manifests as JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                try removingUnfinishedFilesOnSignal(out: out)
                Interruption.setActivity("reading the base and the plugins")
                let epoch = try OverlayBuilder.sourceDateEpochFromEnvironment()
                let base = try BaseImage(root: FilePath(solve.base))
                let planner = try Planner(base: base, options: solve.planOptions)
                let plugins = try PluginLoader.load(solve.plugins, arch: solve.arch)
                defer { plugins.cleanUp() }
                try Planner.checkEnabledRepos(Set(solve.enabledRepos), plugins: plugins.plugins)

                let output = try lockOutput(out)
                let builder = OverlayBuilder(planner: planner, output: output, packer: pack.packer(sourceDateEpoch: epoch), replace: replace)
                let line = ProgressLine()
                var built: [OverlayManifest] = []
                var failures: [(Error, Bool)] = []
                defer { reportFullCache(planner.options.cache) }
                for plugin in plugins.plugins {
                    do {
                        let result = try builder.build(plugin) { step in
                            let (activity, status) = Self.describe(step)
                            if let activity { Interruption.setActivity(activity) }
                            if let status { line.update(status) } else { line.finish() }
                        }
                        line.finish()
                        built.append(result.manifest)
                        if !json {
                            let outcome = switch result.outcome {
                            case .published: ""
                            case .unchanged: "  unchanged"
                            case .replaced: "  replaced"
                            }
                            print("\(result.overlay.string)  \(humanSize(result.manifest.size))  \(counted(result.manifest.packages.count, "package"))  sha256:\(result.manifest.sha256)\(outcome)")
                        }
                    } catch let error as PlanError {
                        line.finish()
                        printError(error.description)
                        failures.append((error, error.kind == .unsatisfiable))
                    } catch {
                        line.finish()
                        printError(ErrorText.describe(error))
                        failures.append((error, false))
                    }
                }
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(built), as: UTF8.self))
                }
                if !failures.isEmpty {
                    throw failures.contains(where: { !$0.1 }) ? ExitStatus.failure : ExitStatus.unsatisfiable
                }
            }
        }

        /// What a step is doing, for the line a signal prints, and the progress line's text (nil: clear it).
        private static func describe(_ step: BuildStep) -> (activity: String?, status: String?) {
            switch step {
            case .solving(let name): ("solving plugin \"\(name)\"", "\(name): solving")
            case .fetching(let name, let count): ("fetching the packages of plugin \"\(name)\"", "\(name): fetching \(count) packages")
            case .installing(let name, let package, let done, let total):
                ("installing plugin \"\(name)\" (package \(done + 1) of \(total), \(package))", "\(name): installing [\(done)/\(total)] \(package)")
            case .packing(let name): ("packing plugin \"\(name)\"", "\(name): packing")
            case .publishing(let name): ("publishing plugin \"\(name)\"", "\(name): publishing")
            case .done(let name, _, _): ("building the plugins after \"\(name)\"", nil)
            }
        }
    }
}
