/// Why a plugin's solve installs a package, or that the base has it, or that nothing the plugin installs needs it
/// (`overlay why`): built from libsolv's decisions in the solve `plan` runs.
public struct PackageExplanation: Codable, Sendable, Equatable {
    public enum Answer: String, Codable, Sendable {
        /// The base image has it (locked): the plugin does not add it.
        case base
        /// The plugin's solve installs it.
        case plugin
        /// Neither: nothing the plugin installs needs it, and the base does not have it.
        case none
    }

    /// One link of a chain: why `package` is installed.
    public struct Step: Codable, Sendable, Equatable {
        public enum Reason: String, Codable, Sendable {
            /// The plugin's package list asks for it; `dependency` is the entry of `packages` that does.
            case request
            /// `by` requires `dependency`, which it provides.
            case requires
            /// `by` recommends `dependency` (a weak dependency).
            case recommends
            /// It supplements `dependency`, which `by` provides (a weak dependency).
            case supplements
            /// libsolv's decision names no dependency, and no request or package of the plugin asks for it.
            case unexplained
        }

        /// NEVRA.
        public var package: String
        public var reason: Reason
        /// The dependency as rpm writes it (`libnodeinfo >= 1.1`), or for a request the entry of plugin.toml's
        /// `packages`; absent when `reason` is `unexplained`.
        public var dependency: String?
        /// The NEVRA of the package whose dependency it is; absent for a request.
        public var by: String?

        public init(package: String, reason: Reason, dependency: String?, by: String?) {
            self.package = package
            self.reason = reason
            self.dependency = dependency
            self.by = by
        }
    }

    /// A package of the plugin's repos that the query names but the solve does not install.
    public struct Available: Codable, Sendable, Equatable {
        public var nevra: String
        public var repo: String
    }

    /// What was asked about, as given.
    public var package: String
    public var plugin: String
    public var answer: Answer
    /// The package the answer is about: the one the plugin installs, or the base's; absent for `none`.
    public var nevra: String?
    /// From the plugin's request down to `nevra`, the request first. For `base`: the shortest chain by which the
    /// plugin needs it (its last link the base package), or the request for it when the plugin asks for it by name;
    /// empty when nothing the plugin installs needs it. Empty for `none`.
    public var chain: [Step]
    /// For `base`: each package of the plugin that requires it, with the dependency.
    public var requiredBy: [Step]
    /// For `none`: the packages the query names in the plugin's repos, not chosen.
    public var available: [Available]
    /// For `none`: the packages of those names the plugin installs or the base has (another version, another
    /// architecture), NEVRAs.
    public var instead: [String]
}

/// A plugin's solve, solved, as `Planner.explain` looks at it before the pool is handed on.
struct SolvedPlugin {
    let pool: SolvPool
    let solver: SolvSolver
    /// The packages the transaction adds.
    let added: [SolvableID]
    /// Each candidate of a request (and each package that obsoletes one), with the first request that named it.
    let requested: [SolvableID: String]
}

/// Turns libsolv's decisions into the chain from a plugin's request down to a package.
struct DecisionExplainer {
    let solved: SolvedPlugin

    private var pool: SolvPool { solved.pool }

    func explain(_ query: String, plugin: String) -> PackageExplanation {
        let candidates = pool.solvables(inSelection: pool.selection(query)).filter { !pool.hiddenSolvables.contains($0) }
        var explanation = PackageExplanation(
            package: query, plugin: plugin, answer: .none, nevra: nil, chain: [], requiredBy: [], available: [], instead: [])
        let added = Set(solved.added)
        if let p = first(candidates.filter(added.contains)) {
            explanation.answer = .plugin
            explanation.nevra = pool.nevra(p)
            explanation.chain = chain(to: p)
        } else if let p = first(candidates.filter(pool.isInstalled)) {
            explanation.answer = .base
            explanation.nevra = pool.nevra(p)
            let needs = requirers(of: p)
            explanation.requiredBy = needs.map { step(p, .requires, $0.dep, by: $0.by) }
            if let request = solved.requested[p] {
                explanation.chain = [PackageExplanation.Step(package: pool.nevra(p), reason: .request, dependency: request, by: nil)]
            } else {
                let chains = needs.map { chain(to: $0.by) + [step(p, .requires, $0.dep, by: $0.by)] }
                explanation.chain = chains.min { $0.count < $1.count } ?? []
            }
        } else {
            explanation.available = candidates.map { PackageExplanation.Available(nevra: pool.nevra($0), repo: pool.repoName($0)) }
                .sorted { $0.nevra < $1.nevra }
            let names = Set(candidates.map(pool.nameID))
            explanation.instead = (solved.added + pool.installedSolvables).filter { names.contains(pool.nameID($0)) }.map(pool.nevra).sorted()
        }
        return explanation
    }

    /// The links from the plugin's request down to `p`, the request first.
    func chain(to p: SolvableID) -> [PackageExplanation.Step] {
        var steps: [PackageExplanation.Step] = []
        var seen: Set<SolvableID> = []
        var current: SolvableID? = p
        while let package = current, seen.insert(package).inserted {
            let (step, next) = why(package, seen: seen)
            steps.append(step)
            current = next.flatMap { pool.isInstalled($0) ? nil : $0 }
        }
        return steps.reversed()
    }

    /// Why the solve installs `p`, and the package that leads on to: libsolv's decision for it first. A decision
    /// that names no dependency (a rule learnt while solving) falls back to the request that names `p`, then to a
    /// package of the plugin that requires it, decided before it.
    private func why(_ p: SolvableID, seen: Set<SolvableID>) -> (PackageExplanation.Step, SolvableID?) {
        for decision in solved.solver.decisions(installing: p) {
            switch decision {
            case .job:
                if let request = solved.requested[p] {
                    return (PackageExplanation.Step(package: pool.nevra(p), reason: .request, dependency: request, by: nil), nil)
                }
            case .requires(let by, let dep):
                return (step(p, .requires, dep, by: by), by)
            case .recommends(let by, let dep):
                return (step(p, .recommends, dep, by: by), by)
            case .supplements(let target, let dep):
                return (
                    PackageExplanation.Step(package: pool.nevra(p), reason: .supplements, dependency: pool.dependency(dep), by: target.map(pool.nevra)), target
                )
            case .other:
                continue
            }
        }
        if let request = solved.requested[p] {
            return (PackageExplanation.Step(package: pool.nevra(p), reason: .request, dependency: request, by: nil), nil)
        }
        let order = Dictionary(solved.solver.installDecisions.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let earlier = requirers(of: p).filter { !seen.contains($0.by) }.sorted { order[$0.by, default: .max] < order[$1.by, default: .max] }
        if let requirer = earlier.first {
            return (step(p, .requires, requirer.dep, by: requirer.by), requirer.by)
        }
        return (PackageExplanation.Step(package: pool.nevra(p), reason: .unexplained, dependency: nil, by: nil), nil)
    }

    /// The packages the plugin adds that require `p`, each with its first dependency that `p` provides, by NEVRA.
    private func requirers(of p: SolvableID) -> [(by: SolvableID, dep: DependencyID)] {
        solved.added.filter { $0 != p }.sorted { pool.nevra($0) < pool.nevra($1) }.compactMap { q in
            pool.requires(of: q).first { pool.providers(of: $0).contains(p) }.map { (q, $0) }
        }
    }

    private func step(_ p: SolvableID, _ reason: PackageExplanation.Step.Reason, _ dep: DependencyID, by: SolvableID) -> PackageExplanation.Step {
        PackageExplanation.Step(package: pool.nevra(p), reason: reason, dependency: pool.dependency(dep), by: pool.nevra(by))
    }

    /// The first of `solvables` by NEVRA.
    private func first(_ solvables: [SolvableID]) -> SolvableID? {
        solvables.min { pool.nevra($0) < pool.nevra($1) }
    }
}
