import Foundation
import SystemPackage
import Formats
import Posix

/// Options that apply to every plugin of a plan or build.
public struct PlanOptions: Sendable {
    /// The plugins' `.repo` repos `--enablerepo` and `--disablerepo` select (none by default).
    public var enabledRepos: RepoSelection
    /// nil: no cache.
    public var cache: MetadataCache?
    public var arch: String
    /// Whether packages of repos with gpgcheck (and of a bundled repo beside `keys/`) are signature-checked;
    /// `--nogpgcheck` turns it off.
    public var gpgcheck: Bool
    /// Seconds a remote repo may stay silent (connecting, before its answer, mid-download) before the transfer is
    /// given up and the repo's next mirror is tried.
    public var networkTimeout: Int

    /// `networkTimeout` unless `--timeout` says otherwise.
    public static let defaultNetworkTimeout = 30

    public init(
        enabledRepos: RepoSelection = [], cache: MetadataCache? = MetadataCache(directory: MetadataCache.defaultDirectory),
        arch: String = HostArchitecture.current, gpgcheck: Bool = true, networkTimeout: Int = PlanOptions.defaultNetworkTimeout
    ) {
        self.enabledRepos = enabledRepos
        self.cache = cache
        self.arch = arch
        self.gpgcheck = gpgcheck
        self.networkTimeout = networkTimeout
    }
}

/// Solves plugins against a locked base with libsolv: every installed package is locked (never upgraded,
/// downgraded, obsoleted or removed), each plugin is solved on its own, and the transaction is checked
/// afterwards to hold only new packages.
public struct Planner: Sendable {
    public let base: BaseImage
    public let options: PlanOptions
    /// The base's packages, sorted NEVRAs.
    public let basePackages: [String]
    public let baseIdentity: String
    /// The base's platform and dnf module states, which decide module streams along with the plugin.
    public let baseModules: BaseModuleState
    /// The pool of the last solve, for the next plugin with the same repos.
    private let pools = PreparedPoolCache()

    public init(base: BaseImage, options: PlanOptions) throws(BaseError) {
        self.base = base
        self.options = options
        options.cache?.trimIfDue()
        basePackages = try base.installedPackages(arch: options.arch)
        baseIdentity = BaseIdentity.of(packages: basePackages)
        baseModules = base.moduleState()
    }

    /// Checks that every `--enablerepo` and `--disablerepo` id or glob matches a repo one of `plugins` defines.
    public static func checkEnabledRepos(_ enabled: RepoSelection, plugins: [Plugin]) throws(PluginError) {
        try enabled.check(known: Array(Set(plugins.flatMap { $0.repos.map(\.id) })))
    }

    /// Solves one plugin.
    public func plan(_ plugin: Plugin) throws(PlanError) -> PluginPlan {
        let scratch = Self.makeScratch()
        defer { Self.removeScratch(scratch) }

        let (sources, disabled) = plugin.repoSources(enabled: options.enabledRepos)
        let loader = RepoLoader(cache: options.cache, scratch: scratch, timeout: options.networkTimeout)
        let indexes = try Self.fetchIndexes(sources, loader: loader, subject: plugin.name)
        let plans = options.cache.map(PlanCache.init)
        let key = plans?.key(plugin: plugin, repos: indexes, baseIdentity: baseIdentity, baseModules: baseModules, arch: options.arch)
        if let key, let plan = plans?.load(key: key) {
            return PluginPlan(
                plugin: plugin.name, version: plugin.manifest.version, base: baseIdentity, packages: plan.packages,
                alreadyInBase: plan.alreadyInBase)
        }
        let (packages, alreadyInBase, _) = try solve(
            [plugin], subject: plugin.name, sources: sources, disabled: disabled, indexes: indexes, loader: loader, scratch: scratch
        ) { _ in }
        let plan = PluginPlan(
            plugin: plugin.name, version: plugin.manifest.version, base: baseIdentity, packages: packages, alreadyInBase: alreadyInBase)
        if let key { plans?.store(plan, key: key) }
        return plan
    }

    /// Why `plugin` installs what `query` names (a package name, NEVRA, `name.arch`, capability or file path), or
    /// that the base has it, or that nothing the plugin installs needs it: the solve `plan` runs (the same jobs,
    /// locks and flags, never a cached plan), with libsolv asked about its decisions before the solver is freed.
    /// Throws what `plan` throws when the plugin cannot be solved.
    public func explain(package query: String, in plugin: Plugin) throws(PlanError) -> PackageExplanation {
        let scratch = Self.makeScratch()
        defer { Self.removeScratch(scratch) }
        let (sources, disabled) = plugin.repoSources(enabled: options.enabledRepos)
        let loader = RepoLoader(cache: options.cache, scratch: scratch, timeout: options.networkTimeout)
        let indexes = try Self.fetchIndexes(sources, loader: loader, subject: plugin.name)
        return try solve(
            [plugin], subject: plugin.name, sources: sources, disabled: disabled, indexes: indexes, loader: loader, scratch: scratch
        ) { solved in DecisionExplainer(solved: solved).explain(query, plugin: plugin.name) }.inspection
    }

    /// Solves several plugins in one libsolv job, as if they were one plugin: the union of their repos, module
    /// streams and packages against the locked base. `overlay check` asks this of a role's plugins, whose overlays
    /// a node unpacks into one root: two plugins that need different versions of one package, or whose packages
    /// conflict or obsolete each other, fail here though each solves alone. Reasons name the plugin each package
    /// came from; `subject` names the set in the error (`role "hv"`).
    public func plan(together plugins: [Plugin], subject: String) throws(PlanError) -> [PlannedPackage] {
        let scratch = Self.makeScratch()
        defer { Self.removeScratch(scratch) }
        var sources: [RepoSource] = []
        var disabled: [RepoDefinition] = []
        for plugin in plugins {
            let own = plugin.repoSources(enabled: options.enabledRepos)
            // Plugins often share a repo (the distribution's); one that reuses an id for another place keeps both.
            for source in own.enabled where !sources.contains(source) {
                var source = source
                if sources.contains(where: { $0.id == source.id }) { source.id = "\(plugin.name)/\(source.id)" }
                sources.append(source)
            }
            disabled += own.disabled.filter { definition in !disabled.contains { $0.id == definition.id } }
        }
        var streams: [String: (stream: String, plugin: String)] = [:]
        var clashes: [String] = []
        for plugin in plugins {
            for module in plugin.manifest.modules {
                if let first = streams[module.name], first.stream != module.stream {
                    clashes.append(
                        "plugin \"\(first.plugin)\" enables module stream \(module.name):\(first.stream) and plugin \"\(plugin.name)\" \(module), but a root has one stream of a module: make the plugins agree on a stream, or put them in different roles"
                    )
                } else if streams[module.name] == nil {
                    streams[module.name] = (module.stream, plugin.name)
                }
            }
        }
        if !clashes.isEmpty { throw PlanError(plugin: subject, kind: .unsatisfiable, reasons: clashes) }
        let loader = RepoLoader(cache: options.cache, scratch: scratch, timeout: options.networkTimeout)
        let indexes = try Self.fetchIndexes(sources, loader: loader, subject: subject)
        return try solve(plugins, subject: subject, sources: sources, disabled: disabled, indexes: indexes, loader: loader, scratch: scratch) { _ in }
            .packages
    }

    /// The solve `plan` runs, for one plugin or (`plan(together:)`) several: reasons about one plugin's request
    /// name the plugin when there are several. When it succeeds, `inspect` is handed the solver and its pool before
    /// the pool goes back for the next solve (`explain` asks libsolv about its decisions there).
    private func solve<Inspection>(
        _ plugins: [Plugin], subject: String, sources: [RepoSource], disabled: [RepoDefinition], indexes: [FetchedIndex], loader: RepoLoader,
        scratch: FilePath, inspect: (SolvedPlugin) -> Inspection
    ) throws(PlanError) -> (packages: [PlannedPackage], alreadyInBase: [String], inspection: Inspection) {
        let named = plugins.count > 1
        func own(_ plugin: Plugin, _ reason: String) -> String { named ? "plugin \"\(plugin.name)\": \(reason)" : reason }

        let poolKey = PreparedPool.key(indexes, arch: options.arch)
        let prepared: PreparedPool
        if let kept = pools.take(poolKey) {
            prepared = kept
        } else {
            prepared = try prepare(indexes, loader: loader, subject: subject)
        }
        defer { pools.put(prepared, key: poolKey) }
        let (pool, loaded, streams) = (prepared.pool, prepared.loaded, prepared.streams)
        // Module streams, as dnf applies them: what is not active is invisible to the selections and the solver.
        let modules = try streams.activate(
            enabled: plugins.flatMap(\.manifest.modules), base: baseModules, installed: Set(basePackages),
            arch: options.arch, subject: subject)
        pool.applyModules(modules, unfiltered: Set(indexes.filter(\.source.moduleHotfixes).map(\.source.id)))

        let unmet = plugins.flatMap { plugin in unmetRequirements(of: plugin, in: pool).map { (own(plugin, $0.reason), $0.blamed) } }
        if !unmet.isEmpty {
            throw PlanError(plugin: subject, kind: .unsatisfiable, reasons: unmet.map(\.0), blamed: uniqued(unmet.flatMap(\.1)))
        }

        // Lock every installed name, not just the installed repo: a repo lock alone lets a multiversion
        // package (a kernel) be installed beside the locked one.
        var jobs: [SolvJob] = []
        var lockedNames = Set<DependencyID>()
        for p in pool.installedSolvables where lockedNames.insert(pool.nameID(p)).inserted {
            jobs.append(pool.lockJob(name: pool.nameID(p)))
        }
        var alreadyInBase: [String] = []
        var missing: [(plugin: Plugin, request: String)] = []
        var replacing: [String] = []
        var replaced: [String] = []
        /// Which plugins asked for each candidate, for reasons about several plugins.
        var owners: [SolvableID: [String]] = [:]
        /// The first request that names each candidate.
        var requested: [SolvableID: String] = [:]
        for plugin in plugins {
            for request in plugin.manifest.packages {
                let selection = pool.selection(request)
                let solvables = pool.solvables(inSelection: selection)
                let obsoleters = Self.obsoleters(for: request, selection: selection, solvables: solvables, pool: pool)
                if named {
                    for p in solvables + obsoleters where owners[p]?.contains(plugin.name) != true { owners[p, default: []].append(plugin.name) }
                }
                for p in solvables + obsoleters where requested[p] == nil { requested[p] = request }
                if solvables.isEmpty {
                    missing.append((plugin, request))
                } else if solvables.contains(where: pool.isInstalled) || obsoleters.contains(where: pool.isInstalled) {
                    alreadyInBase.append(request)
                } else if let pair = lockedSameName(as: solvables + obsoleters, in: pool) {
                    let new = named ? "plugin \"\(plugin.name)\"'s \(pool.nevra(pair.new))" : pool.nevra(pair.new)
                    replacing.append("\(new) would replace the base's \(pool.nevra(pair.installed)) (locked); build against a newer base image")
                    replaced.append(pool.nevra(pair.installed))
                } else {
                    jobs += Self.installJobs(solvables: solvables, obsoleters: obsoleters, pool: pool)
                }
            }
        }
        if !missing.isEmpty || !replacing.isEmpty {
            let reasons = missing.map { plugin, request in
                own(
                    plugin,
                    Self.moduleHint(for: request, subject: request, pool: pool, modules: modules)
                        ?? Self.otherArchitectureReason(request, pool: pool, loaded: loaded, arch: options.arch)
                        ?? missingPackageReason(request, plugin: plugin, sources: sources, disabled: disabled, scratch: scratch))
            }
            throw PlanError(plugin: subject, kind: .unsatisfiable, reasons: reasons + replacing, blamed: replaced)
        }

        let solved = try Self.solve(jobs: jobs, pool: pool, subject: subject, loaded: loaded, owners: owners) { dep in
            Self.moduleHint(for: dep, subject: "it", pool: pool, modules: modules)
                ?? self.disabledRepoHint(for: dep, disabled: disabled, scratch: scratch)
        }
        let inspection = inspect(SolvedPlugin(pool: pool, solver: solved.solver, added: solved.added, requested: requested))
        return (solved.packages.sorted { $0.nevra < $1.nevra }, alreadyInBase, inspection)
    }

    /// The keys the packages of `plan` must be signed with (see `SigningKeys`), read, fetched and checked by
    /// rpm; none with gpgcheck off.
    public func signingKeys(for plan: PluginPlan, of plugin: Plugin) throws(PlanError) -> SigningKeys {
        guard options.gpgcheck else { return .none }
        do {
            return try SigningKeys.load(for: plugin, repos: Set(plan.packages.map(\.repo)), timeout: options.networkTimeout)
        } catch {
            throw .failed(plugin: plugin.name, cause: error)
        }
    }

    /// For a request that is a plain package name, the packages that obsolete one of its candidates (by name and
    /// version): like dnf, asking for a package that was renamed or replaced installs its replacement.
    static func obsoleters(for request: String, selection: SolvSelection, solvables: [SolvableID], pool: SolvPool) -> [SolvableID] {
        guard pool.plainName(of: selection) == request else { return [] }
        return pool.obsoleters(of: solvables)
    }

    /// The solver job that installs a request, as dnf words it: one of its candidates and their replacements
    /// (libsolv prefers a replacement over what it obsoletes), with arch and version part of the job
    /// (`SOLVER_SETARCH | SOLVER_SETEVR`), so that when the best arch's build cannot be installed another
    /// arch's may be (an i686 build whose 64-bit library is missing).
    static func installJobs(solvables: [SolvableID], obsoleters: [SolvableID], pool: SolvPool) -> [SolvJob] {
        guard !solvables.isEmpty else { return [] }
        return [pool.installJob(oneOf: solvables + obsoleters)]
    }

    /// A new pool with the base and the repos loaded.
    private func prepare(_ indexes: [FetchedIndex], loader: RepoLoader, subject: String) throws(PlanError) -> PreparedPool {
        let pool = SolvPool(arch: options.arch)
        do {
            try pool.loadInstalled(from: base)
        } catch {
            throw .failed(plugin: subject, cause: error)
        }
        let (loaded, streams) = try Self.loadRepos(indexes, into: pool, loader: loader, arch: options.arch, subject: subject)
        return PreparedPool(pool: pool, loaded: loaded, streams: streams)
    }

    /// When every candidate for a request is another version of a locked base package, the pair to name.
    private func lockedSameName(as candidates: [SolvableID], in pool: SolvPool) -> (new: SolvableID, installed: SolvableID)? {
        let installed = pool.installedSolvables
        var pair: (new: SolvableID, installed: SolvableID)?
        for candidate in candidates {
            guard let base = installed.first(where: { pool.name($0) == pool.name(candidate) }) else { return nil }
            pair = pair ?? (candidate, base)
        }
        return pair
    }

    /// The plugin's `requires` the base does not meet, as sentences, each with the base packages it blames.
    private func unmetRequirements(of plugin: Plugin, in pool: SolvPool) -> [(reason: String, blamed: [String])] {
        plugin.manifest.requires.compactMap { requirement in
            let dep = pool.dependency(for: requirement)
            if pool.providers(of: dep).contains(where: pool.isInstalled) { return nil }
            let byName = pool.providers(of: pool.dependencyName(dep)).filter(pool.isInstalled).map(pool.nevra)
            if byName.isEmpty {
                return ("requires \(requirement), but the base has no package providing \(requirement.name); build against a base image that has it", [])
            }
            return ("requires \(requirement), but the base has \(byName.joined(separator: ", ")) (locked); build against a newer base image", byName)
        }
    }

    /// Runs the solver; on success returns the packages the transaction installs, the solver (which can say why it
    /// installs each) and those packages in the pool.
    static func solve(
        jobs: [SolvJob], pool: SolvPool, subject: String, loaded: [String: LoadedRepo], owners: [SolvableID: [String]] = [:],
        disabledHint: @escaping (String) -> String?
    ) throws(PlanError) -> (packages: [PlannedPackage], solver: SolvSolver, added: [SolvableID]) {
        let solver: SolvSolver
        let steps: [SolvTransaction.Step]
        do {
            solver = try SolvSolver(pool: pool)
            solver.set(.ignoreRecommended, true)
            let problems = solver.solve(jobs)
            if !problems.isEmpty {
                let explainer = ProblemExplainer(pool: pool, disabledHint: disabledHint, owners: owners)
                let reasons = problems.flatMap { explainer.explain($0) }
                throw PlanError(
                    plugin: subject, kind: .unsatisfiable, reasons: uniqued(reasons), blamed: uniqued(problems.flatMap { explainer.blamed($0) }))
            }
            steps = try solver.transaction().steps
        } catch let error as PlanError {
            throw error
        } catch {
            throw .failed(plugin: subject, cause: error)
        }

        var packages: [PlannedPackage] = []
        var added: [SolvableID] = []
        var touched: [String] = []
        for step in steps {
            if step.isInstalled {
                touched.append(step.nevra)
                continue
            }
            guard let repo = loaded[step.repoName] else { continue }
            guard let location = step.location else {
                throw PlanError(
                    plugin: subject, kind: .failed,
                    reasons: [
                        "repo \"\(step.repoName)\" gives no location for \(step.nevra); check the repo's metadata"
                    ])
            }
            packages.append(
                PlannedPackage(
                    nevra: step.nevra, name: step.name, repo: step.repoName, url: repo.baseURL + "/" + location,
                    checksum: step.checksum, downloadSize: step.downloadSize))
            added.append(step.solvable)
        }
        if !touched.isEmpty {
            throw PlanError(
                plugin: subject, kind: .unsatisfiable,
                reasons: touched.map {
                    "the solution would change the base's \($0) (locked); build against a newer base image"
                }, blamed: touched)
        }
        return (packages, solver, added)
    }

    /// A private directory for downloaded metadata when there is no cache; one per solve, so solves running
    /// side by side in one process never share or remove each other's.
    private static func makeScratch() -> FilePath {
        let scratch = FilePath(NSTemporaryDirectory()).appending("overlay-metadata-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        Interruption.creating(scratch) {  // removed on SIGINT and SIGTERM too
            try? FileManager.default.createDirectory(
                atPath: scratch.string, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        }
        return scratch
    }

    private static func removeScratch(_ scratch: FilePath) {
        try? FileManager.default.removeItem(atPath: scratch.string)
        Interruption.finished(scratch)
    }

    /// Each repo's repomd.xml, fetched once for the whole solve.
    private static func fetchIndexes(_ sources: [RepoSource], loader: RepoLoader, subject: String) throws(PlanError) -> [FetchedIndex] {
        var indexes: [FetchedIndex] = []
        for source in sources {
            do {
                indexes.append(try loader.fetchIndex(source))
            } catch {
                throw .failed(plugin: subject, cause: error, repo: source.id)
            }
        }
        return indexes
    }

    /// Loads the repos and their module metadata into the pool and prepares it for solving.
    private static func loadRepos(
        _ indexes: [FetchedIndex], into pool: SolvPool, loader: RepoLoader, arch: String,
        subject: String
    ) throws(PlanError) -> (loaded: [String: LoadedRepo], modules: ModuleStreams) {
        loader.fillCache(for: indexes, arch: arch)
        var loaded: [String: LoadedRepo] = [:]
        var modules: [(id: String, modules: RepoModules)] = []
        for index in indexes {
            do {
                loaded[index.source.id] = try loader.load(index, into: pool)
                if let repoModules = try loader.loadModules(index) { modules.append((index.source.id, repoModules)) }
            } catch {
                throw .failed(plugin: subject, cause: error, repo: index.source.id)
            }
        }
        pool.prepare()
        return (loaded, ModuleStreams(modules))
    }

    /// When what `text` names exists only in module streams that are not active, the sentence that says which and
    /// how to enable one; `subject` is what the sentence calls it.
    static func moduleHint(for text: String, subject: String, pool: SolvPool, modules: ActiveModules) -> String? {
        let streams = pool.hiddenStreams(matching: text, modules: modules).sorted { a, b in
            let (x, y) = (a.split(separator: ":"), b.split(separator: ":"))
            return x[0] != y[0] ? x[0] < y[0] : ModuleStreams.streamOrder(String(x[1]), String(y[1]))
        }
        guard let last = streams.last else { return nil }
        if streams.count > 1 {
            return
                "\(subject) is only in module streams \(streams.joined(separator: ", ")), none of which is enabled: add one of them to plugin.toml, such as modules = [\"\(last)\"]"
        }
        let module = String(last.split(separator: ":")[0])
        if let current = modules.streams[module] {
            return
                "\(subject) is only in module stream \(last), but \(module):\(current) is the active stream of \(module): set modules = [\"\(last)\"] in plugin.toml to use it"
        }
        return "\(subject) is only in module stream \(last), which is not enabled: add modules = [\"\(last)\"] to plugin.toml"
    }

    /// Solves a new base: `packages` from `repos`, nothing installed and nothing locked.
    public static func planBase(packages requests: [String], repos: [RepoSource], options: PlanOptions) throws(PlanError) -> [PlannedPackage] {
        let scratch = Self.makeScratch()
        defer { Self.removeScratch(scratch) }
        let pool = SolvPool(arch: options.arch)
        do {
            try pool.loadNothingInstalled()
        } catch {
            throw .failed(plugin: "base", cause: error)
        }
        let loader = RepoLoader(cache: options.cache, scratch: scratch, timeout: options.networkTimeout)
        let indexes = try fetchIndexes(repos, loader: loader, subject: "base")
        let (loaded, streams) = try loadRepos(indexes, into: pool, loader: loader, arch: options.arch, subject: "base")
        // A new base gets the default module streams, as dnf would install it.
        let modules = try streams.activate(enabled: [], base: BaseModuleState(), installed: [], arch: options.arch, subject: "base")
        pool.applyModules(modules, unfiltered: Set(repos.filter(\.moduleHotfixes).map(\.id)))
        var jobs: [SolvJob] = []
        var missing: [String] = []
        for request in requests {
            let selection = pool.selection(request)
            if selection.isEmpty { missing.append(request) }
            let solvables = pool.solvables(inSelection: selection)
            let obsoleters = obsoleters(for: request, selection: selection, solvables: solvables, pool: pool)
            jobs += installJobs(solvables: solvables, obsoleters: obsoleters, pool: pool)
        }
        if !missing.isEmpty {
            throw PlanError(
                plugin: "base", kind: .unsatisfiable,
                reasons: missing.map {
                    "no package \"\($0)\" in the repos (\(repos.map(\.id).joined(separator: ", "))); check the --package name"
                })
        }
        return try solve(jobs: jobs, pool: pool, subject: "base", loaded: loaded) { _ in nil }.packages.sorted { $0.nevra < $1.nevra }
    }

    /// When the repos hold `request` by name, but only built for architectures `arch` cannot install.
    private static func otherArchitectureReason(_ request: String, pool: SolvPool, loaded: [String: LoadedRepo], arch: String) -> String? {
        var repos = Set<String>()
        var arches = Set<String>()
        for (id, repo) in loaded {
            for p in pool.solvables(of: repo.repo) where pool.name(p) == request && !pool.hiddenSolvables.contains(p) {
                repos.insert(id)
                arches.insert(pool.arch(p))
            }
        }
        guard let first = arches.sorted().first else { return nil }
        return
            "package \"\(request)\" is in \(repos.sorted().joined(separator: ", ")) only for \(arches.sorted().joined(separator: ", ")), which cannot be installed on \(arch); add a noarch or \(arch) build of it, or solve for that architecture with --arch \(first)"
    }

    private func missingPackageReason(
        _ request: String, plugin: Plugin, sources: [RepoSource], disabled: [RepoDefinition],
        scratch: FilePath
    ) -> String {
        let repoIDs = sources.map(\.id)
        let searched =
            repoIDs.isEmpty
            ? "the base (the plugin has no bundled rpms/ and no enabled repo)" : "the base or the enabled repos (\(repoIDs.joined(separator: ", ")))"
        if let hint = disabledRepoHint(for: request, disabled: disabled, scratch: scratch) {
            return "no package \"\(request)\" in \(searched); \(hint)"
        }
        return "no package \"\(request)\" in \(searched); check the name in plugin.toml or add a repo that has it"
    }

    /// Looks for `text` (a package name or dependency) in the disabled repos, and says which flag enables it.
    /// Only repos readable without a network (file://) are searched: offline is the default.
    func disabledRepoHint(for text: String, disabled: [RepoDefinition], scratch: FilePath) -> String? {
        guard !disabled.isEmpty else { return nil }
        let pool = SolvPool(arch: options.arch)
        guard (try? pool.loadNothingInstalled()) != nil else { return nil }
        let loader = RepoLoader(cache: options.cache, scratch: scratch, timeout: options.networkTimeout)
        var found: [String] = []
        var unchecked: [String] = []
        for definition in disabled {
            let source = RepoSource(definition)
            guard source.isLocal else {
                unchecked.append(definition.id)
                continue
            }
            if let index = try? loader.fetchIndex(source) { _ = try? loader.load(index, into: pool) }
        }
        pool.prepare()
        for p in pool.solvables(inSelection: pool.selection(text)) {
            found.append(pool.repoName(p))
        }
        let repos = Array(Set(found)).sorted()
        if !repos.isEmpty {
            let flags = repos.map { "--enablerepo \($0)" }.joined(separator: " ")
            return "it is in repo \(repos.map { "\"\($0)\"" }.joined(separator: ", ")), which is disabled: pass \(flags) to use it"
        }
        if !unchecked.isEmpty {
            let flags = unchecked.map { "--enablerepo \($0)" }.joined(separator: " ")
            return "the plugin's online repos are disabled (\(unchecked.joined(separator: ", "))): pass \(flags) if it is there"
        }
        return nil
    }
}

func uniqued(_ strings: [String]) -> [String] {
    var seen = Set<String>()
    return strings.filter { seen.insert($0).inserted }
}
