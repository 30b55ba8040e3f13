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
                """
        )

        @OptionGroup var solve: SolveOptions
        @OptionGroup var pack: PackOptions

        @Option(help: ArgumentHelp("The directory to write overlays and manifests to.", valueName: "dir"))
        var out: String

        @Flag(help: "Print the built overlays' manifests as JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                let epoch = try OverlayBuilder.sourceDateEpochFromEnvironment()
                let base = try BaseImage(root: FilePath(solve.base))
                let planner = try Planner(base: base, options: solve.planOptions)
                let plugins = try PluginLoader.load(solve.plugins, arch: solve.arch)
                defer { plugins.cleanUp() }
                try Planner.checkEnabledRepos(Set(solve.enabledRepos), plugins: plugins.plugins)

                let builder = OverlayBuilder(planner: planner, output: FilePath(out), packer: pack.packer(sourceDateEpoch: epoch))
                let line = ProgressLine()
                var built: [OverlayManifest] = []
                var failures: [(Error, Bool)] = []
                for plugin in plugins.plugins {
                    do {
                        let result = try builder.build(plugin) { step in
                            switch step {
                            case .solving(let name): line.update("\(name): solving")
                            case .fetching(let name, let count): line.update("\(name): fetching \(count) packages")
                            case .installing(let name, let package, let done, let total): line.update("\(name): installing [\(done)/\(total)] \(package)")
                            case .packing(let name): line.update("\(name): packing")
                            case .done: line.finish()
                            }
                        }
                        line.finish()
                        built.append(result.manifest)
                        if !json {
                            print("\(result.overlay.string)  \(humanSize(result.manifest.size))  \(counted(result.manifest.packages.count, "package"))  sha256:\(result.manifest.sha256)")
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
    }
}
