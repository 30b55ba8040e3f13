import ArgumentParser
import Formats
import OverlayKit
import Posix
import Synchronization
import SystemPackage

/// `--base` as `plan`, `build` and `why` take it.
struct BaseOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The base image: its root directory, an initramfs (cpio, plain or gzip/xz/zstd, concatenated), a squashfs image or a live ISO; told apart by content.",
            valueName: "dir|image"),
        completion: .file())
    var base: String
}

/// The options `plan` and `build` share: the base, the plugins, and which repos to use.
struct SolveOptions: ParsableArguments {
    @OptionGroup var baseOption: BaseOption

    @Option(
        name: .customLong("plugin"), help: ArgumentHelp("A plugin directory or .tar/.tar.gz/.tar.zst bundle; repeat for several.", valueName: "path"),
        completion: .file())
    var plugins: [String] = []

    @OptionGroup var repos: RepoOptions

    func validate() throws {
        guard !plugins.isEmpty else { throw ValidationError("Name at least one plugin with --plugin PATH.") }
    }

    var base: String { baseOption.base }
    var arch: String { repos.arch }
    var planOptions: PlanOptions { repos.planOptions }
    var repoSelection: RepoSelection { repos.repoSelection }
}

/// How plugins are solved, whatever the base: which repos to use, the cache, the architecture, signature checks
/// (`plan`, `build` and `rebase`).
struct RepoOptions: ParsableArguments {
    @Option(
        name: .customLong("enablerepo"),
        help: ArgumentHelp(
            "Use the repos of the plugins' repos/*.repo (all off by default) whose ids match: ids or globs, comma-separated ('mon*,extra'; '*' enables all); repeatable.",
            valueName: "id,glob"),
        transform: { try RepoOption(.enable, $0) })
    var enabledRepos: [RepoOption] = []

    @Option(
        name: .customLong("disablerepo"),
        help: ArgumentHelp(
            "Do not use the repos whose ids match, as --enablerepo takes them; the options apply in the order given, as in --disablerepo '*' --enablerepo x.",
            valueName: "id,glob"),
        transform: { try RepoOption(.disable, $0) })
    var disabledRepos: [RepoOption] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where parsed repo metadata and downloads are cached (default: $XDG_CACHE_HOME/overlay, /var/cache/overlay for root).", valueName: "dir"),
        completion: .directory)
    var cachedir: String?

    @Flag(name: .long, help: "Do not read or write the metadata cache.")
    var noCache = false

    @Option(name: .long, help: ArgumentHelp("The architecture to solve for.", valueName: "arch"))
    var arch: String = HostArchitecture.current

    @Flag(
        name: .customLong("nogpgcheck"),
        help: "Do not check package signatures, whatever the repos' gpgcheck and the plugins' keys/ say.")
    var noGPGCheck = false

    @OptionGroup var network: NetworkOptions

    var planOptions: PlanOptions {
        let cache = noCache ? nil : MetadataCache(directory: cachedir.map { FilePath($0) } ?? MetadataCache.defaultDirectory)
        return PlanOptions(enabledRepos: repoSelection, cache: cache, arch: arch, gpgcheck: !noGPGCheck, networkTimeout: network.timeout)
    }
}

extension RepoOptions {
    /// What `plan` and `why` begin with: the base at `path` opened for planning (of an image, only its rpmdb and
    /// module state, extracted into a private directory that SIGINT and SIGTERM remove too), its planner, and the
    /// plugins at `paths` loaded, with `--enablerepo`/`--disablerepo` checked against their repos. All of it is
    /// closed when `body` returns.
    func planning(base path: String, plugins paths: [String], console: Console, _ body: (Planner, [Plugin]) throws -> Void) throws {
        let source = try BaseImageSource(FilePath(path))
        if source.kind != .directory { try removingTemporaryFilesOnSignal() }
        Interruption.setActivity("reading base \(path)")
        let base = try source.openForPlanning()
        defer { base.close() }
        let planner = try Planner(base: base.image, options: planOptions)
        Interruption.setActivity("planning")
        let plugins = try PluginLoader.load(paths, arch: arch)
        defer { plugins.cleanUp() }
        try Planner.checkEnabledRepos(repoSelection, plugins: plugins.plugins)
        console.detail("base \(path): \(counted(planner.basePackages.count, "package")) locked, identity \(planner.baseIdentity)")
        try body(planner, plugins.plugins)
    }

    /// `--enablerepo` and `--disablerepo` in the order they were given on the command line, as dnf applies them.
    var repoSelection: RepoSelection {
        RepoSelection((enabledRepos + disabledRepos).sorted { $0.position < $1.position }.flatMap(\.rules))
    }
}

/// One `--enablerepo` or `--disablerepo` value and where it stood among them. ArgumentParser hands the two options'
/// values over as two arrays; it transforms the values in command-line order, so numbering them there keeps
/// the order dnf's rules depend on.
struct RepoOption {
    private static let next = Atomic<Int>(0)

    let rules: [RepoSelection.Rule]
    let position: Int

    init(_ action: RepoSelection.Action, _ value: String) throws {
        rules = RepoSelection.rules(action, value)
        guard !rules.isEmpty else { throw ValidationError("give a repo id or glob, such as 'mon*'") }
        position = Self.next.add(1, ordering: .relaxed).oldValue
    }
}

/// How long a remote repo may keep silent: shared by every command that downloads (`plan`, `build`, `base create`).
struct NetworkOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds a remote repo mirror may stay silent (connecting, before answering, or mid-download) before it is given up and the repo's next baseurl is tried.",
            valueName: "seconds"))
    var timeout: Int = PlanOptions.defaultNetworkTimeout

    func validate() throws {
        guard (1...3600).contains(timeout) else {
            throw ValidationError("--timeout \(timeout): give a number of seconds from 1 to 3600.")
        }
    }
}
