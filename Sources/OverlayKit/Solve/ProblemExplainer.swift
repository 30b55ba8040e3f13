internal import CSolv

/// Turns a libsolv problem into sentences that name the package, the version it needs, what the locked base
/// has, and what to do. Follows `Requires` chains back to the package the plugin asked for, and handles
/// `Conflicts` and `Obsoletes` against locked packages.
struct ProblemExplainer {
    let pool: SolvPool
    let solver: UnsafeMutablePointer<Solver>
    /// Says where a dependency nobody provides could be found (a disabled repo), if anywhere.
    let disabledHint: (String) -> String?

    private struct Info {
        var type: SolverRuleinfo
        var source: Id
        var target: Id
        var dep: Id
    }

    func explain(problem: Id) -> [String] {
        let infos = ruleInfos(problem: problem)
        let parents = requiredBy(infos)
        var sentences: [String] = []
        var explainedRequires = false

        for info in infos {
            switch info.type {
            case SOLVER_RULE_PKG_REQUIRES, SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
                guard !pool.isInstalled(info.source) else { continue }
                let dep = pool.dependency(info.dep)
                let based = pool.providers(of: pool.dependencyName(info.dep)).filter(pool.isInstalled).map(pool.nevra)
                let subject = describe(info.source, parents: parents)
                if !based.isEmpty {
                    sentences.append("\(subject) needs \(dep), the base has \(based.joined(separator: ", ")) (locked); build against a newer base image")
                    explainedRequires = true
                } else if info.type == SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP {
                    let hint = disabledHint(dep).map { "; \($0)" } ?? "; add a repo that provides it or a base image that has it"
                    sentences.append("\(subject) needs \(dep), which nothing provides (not the base, not the enabled repos)\(hint)")
                    explainedRequires = true
                }
            case SOLVER_RULE_PKG_CONFLICTS:
                let dep = pool.dependency(info.dep)
                if pool.isInstalled(info.target) && !pool.isInstalled(info.source) {
                    sentences.append("\(describe(info.source, parents: parents)) conflicts with \(dep), which the base's \(pool.nevra(info.target)) (locked) provides; build against a base image without it")
                } else if pool.isInstalled(info.source) && !pool.isInstalled(info.target) {
                    sentences.append("the base's \(pool.nevra(info.source)) (locked) conflicts with \(dep), which \(describe(info.target, parents: parents)) provides; build against a newer base image")
                }
            case SOLVER_RULE_PKG_OBSOLETES, SOLVER_RULE_PKG_INSTALLED_OBSOLETES, SOLVER_RULE_PKG_IMPLICIT_OBSOLETES:
                if pool.isInstalled(info.target) && !pool.isInstalled(info.source) {
                    sentences.append("\(describe(info.source, parents: parents)) obsoletes the base's \(pool.nevra(info.target)) (locked), which overlays never replace; build against a newer base image")
                } else if pool.isInstalled(info.source) && !pool.isInstalled(info.target) {
                    sentences.append("the base's \(pool.nevra(info.source)) (locked) obsoletes \(describe(info.target, parents: parents)); build against a newer base image")
                }
            case SOLVER_RULE_PKG_SAME_NAME:
                let (installed, new) = pool.isInstalled(info.source) ? (info.source, info.target) : (info.target, info.source)
                if pool.isInstalled(installed) && !pool.isInstalled(new) && !explainedRequires {
                    sentences.append("\(describe(new, parents: parents)) would replace the base's \(pool.nevra(installed)) (locked); build against a newer base image")
                }
            case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP, SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
                sentences.append("no package provides \(pool.dependency(info.dep)); check plugin.toml's packages")
            case SOLVER_RULE_PKG_NOT_INSTALLABLE:
                sentences.append("\(describe(info.source, parents: parents)) cannot be installed on this architecture (it is \(pool.arch(info.source)))")
            default:
                continue
            }
        }
        // A requires explanation makes same-name and lock details redundant; keep them only when alone.
        if explainedRequires {
            sentences = sentences.filter { !$0.contains(" would replace the base's ") }
        }
        if sentences.isEmpty {
            sentences.append(String(cString: solver_problem2str(solver, problem)))
        }
        return sentences
    }

    /// Every rule info of every rule involved in a problem.
    private func ruleInfos(problem: Id) -> [Info] {
        let rules = pool.withQueue { queue in solver_findallproblemrules(solver, problem, &queue) }
        var infos: [Info] = []
        for rule in rules {
            let flat = pool.withQueue { queue in _ = solver_allruleinfos(solver, rule, &queue) }
            for index in stride(from: 0, to: flat.count - 3, by: 4) {
                infos.append(Info(type: SolverRuleinfo(UInt32(bitPattern: flat[index])), source: flat[index + 1], target: flat[index + 2], dep: flat[index + 3]))
            }
        }
        return infos
    }

    /// For each new package in the problem, a package whose `Requires` pulled it in.
    private func requiredBy(_ infos: [Info]) -> [Id: Id] {
        var parents: [Id: Id] = [:]
        for info in infos where info.type == SOLVER_RULE_PKG_REQUIRES && !pool.isInstalled(info.source) {
            for provider in pool.providers(of: info.dep) where provider != info.source && !pool.isInstalled(provider) {
                if parents[provider] == nil { parents[provider] = info.source }
            }
        }
        return parents
    }

    /// `vdsm-lib-1.0-1.noarch (pulled in by vdsm-1.0-1.noarch → vdsm-common-1.0-1.noarch)`
    private func describe(_ p: Id, parents: [Id: Id]) -> String {
        var chain: [Id] = []
        var seen: Set<Id> = [p]
        var current = p
        while let parent = parents[current], seen.insert(parent).inserted {
            chain.insert(parent, at: 0)
            current = parent
        }
        let name = pool.nevra(p)
        if chain.isEmpty { return name }
        return "\(name) (pulled in by \(chain.map(pool.nevra).joined(separator: " → ")))"
    }
}
