import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage
import Formats
import Posix

extension Overlay {
    struct Base: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make and examine base images.",
            subcommands: [Create.self, Import.self])
    }
}

extension Overlay.Base {
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a package set into a new base image.",
            discussion: """
                Solves the packages from the repos with nothing locked, installs them with librpm into OUT/rootfs \
                (rpmdb at /var/lib/rpm), packs it as OUT/base.cpio.zst, copies the kernel (boot/vmlinuz*) to \
                OUT/vmlinuz, and writes OUT/base.json with the base identity that overlays record. Everything \
                appears together at the end; SIGINT and SIGTERM remove the unfinished files and exit 130 and 143.
                """)

        @Option(
            name: .customLong("repo"),
            help: ArgumentHelp("A repo: a directory holding repodata/, or a file:// or http:// URL; repeat for several.", valueName: "dir|url"))
        var repos: [String] = []

        @Option(name: .customLong("package"), help: ArgumentHelp("A package to install; repeat for several.", valueName: "name"))
        var packages: [String] = []

        @Option(help: ArgumentHelp("The directory to write the base image to.", valueName: "dir"), completion: .directory)
        var out: String

        @Option(help: ArgumentHelp("Where parsed repo metadata and downloads are cached.", valueName: "dir"), completion: .directory)
        var cachedir: String?

        @Option(help: ArgumentHelp("The architecture to solve for.", valueName: "arch"))
        var arch: String = HostArchitecture.current

        @OptionGroup var network: NetworkOptions

        @OptionGroup var pack: PackOptions

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            guard !repos.isEmpty else { throw ValidationError("Name at least one repo with --repo DIR.") }
            guard !packages.isEmpty else { throw ValidationError("Name at least one package with --package NAME.") }
        }

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                try removingUnfinishedFilesOnSignal(out: out)
                Interruption.setActivity("reading the repos")
                let epoch = try OverlayBuilder.sourceDateEpochFromEnvironment()
                let sources = repos.enumerated().map { index, repo in
                    let url = repo.contains("://") ? repo : "file://" + (repo.hasPrefix("/") ? repo : FileManager.default.currentDirectoryPath + "/" + repo)
                    return RepoSource(id: "repo\(index + 1)", baseURLs: [url])
                }
                let cache = MetadataCache(directory: cachedir.map { FilePath($0) } ?? MetadataCache.defaultDirectory)
                let output = try lockOutput(out, console: console)
                let builder = BaseBuilder(
                    repos: sources, packages: packages, output: output,
                    options: PlanOptions(enabledRepos: [], cache: cache, arch: arch, networkTimeout: network.timeout),
                    packer: pack.packer(sourceDateEpoch: epoch))
                defer { reportFullCache(cache, console: console) }
                let steps = StepClock()
                let result = try builder.build { step in
                    Interruption.setActivity("making the base image (\(step))")
                    console.progress.update("base: \(step)")
                    if let (name, took) = steps.next(step) { console.detail("base: \(name): done in \(took)") }
                }
                if let (name, took) = steps.next(nil) { console.detail("base: \(name): done in \(took)") }
                console.progress.finish()
                print("\(result.rootfs.string)  \(counted(result.manifest.packages.count, "package"))")
                print("\(FilePath(out).appending(result.manifest.file).string)  \(humanSize(result.manifest.size))  sha256:\(result.manifest.sha256)")
                if let kernel = result.manifest.kernel { print(FilePath(out).appending(kernel).string) }
                print("base identity \(result.manifest.identity)")
            }
        }
    }
}

extension Overlay.Base {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a vendor's base image as it is, for serving with overlays.",
            discussion: """
                IMAGE is a live ISO (RHEL, CentOS, Fedora, oVirt Node live media: LiveOS/squashfs.img, kernel and \
                initrd under images/pxeboot/ or isolinux/), a squashfs image or an initramfs, told apart by content. \
                Writes OUT/vmlinuz, the image's initrd copied unmodified under its own name, OUT/squashfs.img (from a \
                live ISO or a squashfs), and OUT/base.json with the base identity read from the image's rpmdb, so \
                nodes boot the vendor's image plus overlays built against it. Everything appears together at the end; \
                SIGINT and SIGTERM remove the unfinished files and exit 130 and 143.
                """)

        @Argument(help: ArgumentHelp("The image to import.", valueName: "image"), completion: .file())
        var image: String

        @Option(help: ArgumentHelp("The directory to write the base to.", valueName: "dir"), completion: .directory)
        var out: String

        @Option(help: ArgumentHelp("The architecture to read the rpmdb for.", valueName: "arch"))
        var arch: String = HostArchitecture.current

        @Flag(help: "Print base.json as written.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                try removingUnfinishedFilesOnSignal(out: out)
                Interruption.setActivity("reading \(image)")
                let source = try BaseImageSource(FilePath(image))
                let output = try lockOutput(out, console: console)
                let result = try BaseImporter(source: source, output: output, arch: arch).run { step in
                    Interruption.setActivity("importing \(image) (\(step))")
                    console.progress.update("base import: \(step)")
                    console.detail("base import: \(step)")
                }
                console.progress.finish()
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(result.manifest), as: UTF8.self))
                    return
                }
                for name in result.files {
                    let path = FilePath(out).appending(name)
                    if name == result.manifest.file {
                        print("\(path.string)  \(humanSize(result.manifest.size))  sha256:\(result.manifest.sha256)")
                    } else {
                        print(path.string)
                    }
                }
                print("base identity \(result.manifest.identity)  \(counted(result.manifest.packages.count, "package"))")
            }
        }
    }
}
