import ArgumentParser
import OverlayKit
import SystemPackage

/// The options `plan` and `build` share: the base, the plugins, and which repos to use.
struct SolveOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The base image's root filesystem (holding its rpmdb).", valueName: "dir"))
    var base: String

    @Option(name: .customLong("plugin"), help: ArgumentHelp("A plugin directory or .tar/.tar.gz/.tar.zst bundle; repeat for several.", valueName: "path"))
    var plugins: [String] = []

    @Option(name: .customLong("enablerepo"),
            help: ArgumentHelp("Use a repo from a plugin's repos/*.repo (they are all off by default); '*' enables all.", valueName: "id"))
    var enabledRepos: [String] = []

    @Option(name: .long, help: ArgumentHelp("Where parsed repo metadata and downloads are cached (default: $XDG_CACHE_HOME/overlay, /var/cache/overlay for root).", valueName: "dir"))
    var cachedir: String?

    @Flag(name: .long, help: "Do not read or write the metadata cache.")
    var noCache = false

    @Option(name: .long, help: ArgumentHelp("The architecture to solve for.", valueName: "arch"))
    var arch: String = HostArchitecture.current

    @Flag(name: .customLong("nogpgcheck"),
          help: "Do not check package signatures, whatever the repos' gpgcheck and the plugins' keys/ say.")
    var noGPGCheck = false

    @OptionGroup var network: NetworkOptions

    func validate() throws {
        guard !plugins.isEmpty else { throw ValidationError("Name at least one plugin with --plugin PATH.") }
    }

    var planOptions: PlanOptions {
        let cache = noCache ? nil : MetadataCache(directory: cachedir.map { FilePath($0) } ?? MetadataCache.defaultDirectory)
        return PlanOptions(enabledRepos: Set(enabledRepos), cache: cache, arch: arch, gpgcheck: !noGPGCheck, networkTimeout: network.timeout)
    }
}

/// How long a remote repo may keep silent: shared by every command that downloads (`plan`, `build`, `base create`).
struct NetworkOptions: ParsableArguments {
    @Option(name: .long,
            help: ArgumentHelp("Seconds a remote repo mirror may stay silent (connecting, before answering, or mid-download) before it is given up and the repo's next baseurl is tried.",
                               valueName: "seconds"))
    var timeout: Int = PlanOptions.defaultNetworkTimeout

    func validate() throws {
        guard (1...3600).contains(timeout) else {
            throw ValidationError("--timeout \(timeout): give a number of seconds from 1 to 3600.")
        }
    }
}
