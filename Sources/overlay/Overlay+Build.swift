import ArgumentParser
import Foundation
import Posix
import OverlayKit
import SystemPackage
import Formats

/// `--format` and `--compress`, shared by `build` and `base create`.
struct PackOptions: ParsableArguments {
    enum Layout: String, ExpressibleByArgument, CaseIterable { case cpio, squashfs, erofs }
    enum Compression: String, ExpressibleByArgument, CaseIterable { case zstd, gzip, none }

    @Option(
        help: """
            cpio: an initramfs overlay the kernel unpacks into RAM after the base initrd; squashfs (zstd) or erofs (lz4hc): \
            a layer the node mounts and stacks over its root, also a systemd-sysext image.
            """)
    var format: Layout = .cpio

    @Option(help: "Compression of a cpio overlay.")
    var compress: Compression = .zstd

    @Option(
        help: ArgumentHelp(
            "zstd level, 1 (fastest) to 22 (smallest); the window stays within what the kernel's unpacker takes.",
            valueName: "n"))
    var level: Int32 = OverlayPacker.defaultZstdLevel

    func validate() throws {
        if format == .squashfs && compress != .zstd {
            throw ValidationError("--compress applies to cpio overlays; squashfs layers are always zstd-compressed.")
        }
        if format == .erofs && (compress != .zstd || level != OverlayPacker.defaultZstdLevel) {
            throw ValidationError("--compress and --level apply to cpio and squashfs; erofs layers are always lz4hc-compressed.")
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
        case (.erofs, _): .erofs
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

        @Option(help: ArgumentHelp("The directory to write overlays and manifests to.", valueName: "dir"), completion: .directory)
        var out: String

        @Flag(
            help:
                "Replace an overlay already published in OUT under the same name and version with other bytes (nodes that booted it get different content under the same name)."
        )
        var replace = false

        @Flag(help: "Print the built overlays' manifests as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                try removingUnfinishedFilesOnSignal(out: out)
                Interruption.setActivity("reading the base and the plugins")
                let epoch = try OverlayBuilder.sourceDateEpochFromEnvironment()
                // An image is extracted whole into a private directory: the lower layer the packages install over.
                let source = try BaseImageSource(FilePath(solve.base))
                Interruption.setActivity(source.kind == .directory ? "reading the base" : "extracting base \(solve.base)")
                let base = try source.materialize()
                defer { base.close() }
                let planner = try Planner(base: base.image, options: solve.planOptions)
                let plugins = try PluginLoader.load(solve.plugins, arch: solve.arch)
                defer { plugins.cleanUp() }
                try Planner.checkEnabledRepos(solve.repoSelection, plugins: plugins.plugins)
                console.detail("base \(solve.base): \(counted(planner.basePackages.count, "package")) locked, identity \(planner.baseIdentity)")

                let output = try lockOutput(out, console: console)
                let builder = OverlayBuilder(planner: planner, output: output, packer: pack.packer(sourceDateEpoch: epoch), replace: replace)
                var built: [OverlayManifest] = []
                var failures: [(Error, Bool)] = []
                defer { reportFullCache(planner.options.cache, console: console) }
                for plugin in plugins.plugins {
                    let steps = StepTimer(console: console)
                    do {
                        let result = try builder.build(plugin) { step in
                            steps.record(step)
                            let (activity, status) = Self.describe(step)
                            if let activity { Interruption.setActivity(activity) }
                            if let status {
                                console.progress.update(step: status.step, status.text, fraction: status.fraction)
                            } else {
                                console.progress.finish()
                            }
                        }
                        console.progress.finish()
                        built.append(result.manifest)
                        if !json {
                            let outcome =
                                switch result.outcome {
                                case .published: ""
                                case .unchanged: "  unchanged"
                                case .replaced: "  replaced"
                                }
                            print(
                                "\(result.overlay.string)  \(humanSize(result.manifest.size))  \(counted(result.manifest.packages.count, "package"))  sha256:\(result.manifest.sha256)\(outcome)"
                            )
                        }
                    } catch let error as PlanError {
                        console.progress.finish()
                        console.error(error.description)
                        failures.append((error, error.kind == .unsatisfiable))
                    } catch {
                        console.progress.finish()
                        console.error(ErrorText.describe(error))
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

        /// What a step is doing, for the line a signal prints, and the progress line's step, text and fraction
        /// done (nil: clear it).
        private static func describe(_ step: BuildStep) -> (activity: String?, status: (step: String, text: String, fraction: Double?)?) {
            switch step {
            case .solving(let name): ("solving plugin \"\(name)\"", ("solving", "\(name): solving", nil))
            case .fetching(let name, let count):
                ("fetching the packages of plugin \"\(name)\"", ("fetching", "\(name): fetching \(counted(count, "package"))", nil))
            case .fetchingPackage(let name, let package, let done, let total):
                (nil, ("fetching", "\(name): fetching [\(done)/\(total)] \(package)", total > 0 ? Double(done) / Double(total) : nil))
            case .installing(let name, let package, let done, let total):
                (
                    "installing plugin \"\(name)\" (package \(done + 1) of \(total), \(package))",
                    ("installing", "\(name): installing [\(done)/\(total)] \(package)", total > 0 ? Double(done) / Double(total) : nil)
                )
            case .packing(let name): ("packing plugin \"\(name)\"", ("packing", "\(name): packing", nil))
            case .packed(let name, let done, let total):
                (nil, ("packing", "\(name): packing \(humanSize(done)) of \(humanSize(total))", total > 0 ? Double(done) / Double(total) : nil))
            case .publishing(let name): ("publishing plugin \"\(name)\"", ("publishing", "\(name): publishing", nil))
            case .done(let name, _, _): ("building the plugins after \"\(name)\"", nil)
            }
        }
    }
}

/// Turns a plugin's build steps into --verbose lines, each printed as its step ends, with how long it took.
final class StepTimer: Sendable {
    private struct State {
        var started = ContinuousClock.now
        var current: BuildStep?
        var packedBytes: Int64 = 0
    }

    private let console: Console
    private let state = Locked(State())

    init(console: Console) { self.console = console }

    func record(_ step: BuildStep) {
        guard console.level == .verbose else { return }
        state.withLock { state in
            switch (state.current, step) {
            case (.installing, .installing(let name, let package, let done, let total)):
                console.detail("\(name): installing \(package) (\(done + 1) of \(total))")
                return
            case (_, .packed(_, let done, _)):
                state.packedBytes = done
                return
            case (_, .fetchingPackage):
                return
            default: break
            }
            if let current = state.current, let line = Self.ended(current, next: step, state: state) { console.detail(line) }
            if case .installing(let name, let package, let done, let total) = step {
                console.detail("\(name): installing \(package) (\(done + 1) of \(total))")
            }
            state.current = step
            state.started = .now
        }
    }

    /// What the step that just ended did.
    private static func ended(_ step: BuildStep, next: BuildStep, state: State) -> String? {
        let took = seconds(since: state.started)
        switch step {
        case .solving(let name):
            if case .fetching(_, let count) = next { return "\(name): solved in \(took): adds \(counted(count, "package"))" }
            return "\(name): solved in \(took): adds 0 packages, the base has them all"
        case .fetching(let name, let count), .fetchingPackage(let name, _, _, let count): return "\(name): fetched \(counted(count, "package")) in \(took)"
        case .installing(let name, _, _, let total): return "\(name): installed \(counted(total, "package")) in \(took)"
        case .packing(let name), .packed(let name, _, _):
            return state.packedBytes > 0 ? "\(name): packed \(humanSize(state.packedBytes)) of file data in \(took)" : "\(name): packed in \(took)"
        case .publishing(let name):
            if case .done(_, let file, let size) = next { return "\(name): published \(file) (\(humanSize(size))) in \(took)" }
            return nil
        case .done: return nil
        }
    }
}
