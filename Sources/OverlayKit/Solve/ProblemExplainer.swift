/// Turns a libsolv problem into sentences that name the package, the version it needs, what the locked base
/// has, and what to do. Follows `Requires` chains back to the package the plugin asked for, and handles
/// `Conflicts` and `Obsoletes` against locked packages.
struct ProblemExplainer {
    let pool: SolvPool
    /// Says where a dependency nobody provides could be found (a disabled repo), if anywhere.
    let disabledHint: (String) -> String?

    func explain(_ problem: SolvProblem) -> [String] {
        let infos = problem.ruleInfos
        let parents = requiredBy(infos)
        var sentences: [String] = []
        var explainedRequires = false

        for info in infos {
            switch info.kind {
            case .requires, .nothingProvidesDep:
                guard !pool.isInstalled(info.source) else { continue }
                let dep = pool.dependency(info.dep)
                let based = pool.providers(of: pool.dependencyName(info.dep)).filter(pool.isInstalled).map(pool.nevra)
                let subject = describe(info.source, parents: parents)
                if !based.isEmpty {
                    sentences.append("\(subject) needs \(dep), the base has \(based.joined(separator: ", ")) (locked); build against a newer base image")
                    explainedRequires = true
                } else if info.kind == .nothingProvidesDep {
                    let hint = disabledHint(dep).map { "; \($0)" } ?? "; add a repo that provides it or a base image that has it"
                    sentences.append("\(subject) needs \(dep), which nothing provides (not the base, not the enabled repos)\(hint)")
                    explainedRequires = true
                }
            case .conflicts:
                let dep = pool.dependency(info.dep)
                let conflict = pool.requirement(of: info.dep)
                if pool.isInstalled(info.target) && !pool.isInstalled(info.source) {
                    sentences.append(
                        "\(describe(info.source, parents: parents)) conflicts with \(dep), which the base's \(pool.nevra(info.target)) (locked) provides; \(Self.baseFix(for: conflict, package: pool.name(info.source)))"
                    )
                } else if pool.isInstalled(info.source) && !pool.isInstalled(info.target) {
                    sentences.append(
                        "the base's \(pool.nevra(info.source)) (locked) conflicts with \(dep), which \(describe(info.target, parents: parents)) provides; \(Self.pluginFix(for: conflict))"
                    )
                }
            case .obsoletes, .installedObsoletes, .implicitObsoletes:
                if pool.isInstalled(info.target) && !pool.isInstalled(info.source) {
                    sentences.append(
                        "\(describe(info.source, parents: parents)) obsoletes the base's \(pool.nevra(info.target)) (locked), which overlays never replace; build against a newer base image"
                    )
                } else if pool.isInstalled(info.source) && !pool.isInstalled(info.target) {
                    sentences.append(
                        "the base's \(pool.nevra(info.source)) (locked) obsoletes \(describe(info.target, parents: parents)); build against a newer base image")
                }
            case .sameName:
                let (installed, new) = pool.isInstalled(info.source) ? (info.source, info.target) : (info.target, info.source)
                if pool.isInstalled(installed) && !pool.isInstalled(new) && !explainedRequires {
                    sentences.append(
                        "\(describe(new, parents: parents)) would replace the base's \(pool.nevra(installed)) (locked); build against a newer base image")
                }
            case .jobNothingProvidesDep, .jobUnknownPackage:
                sentences.append("no package provides \(pool.dependency(info.dep)); check plugin.toml's packages")
            case .notInstallable:
                sentences.append("\(describe(info.source, parents: parents)) cannot be installed on this architecture (it is \(pool.arch(info.source)))")
            case .other:
                continue
            }
        }
        // A requires explanation makes same-name and lock details redundant; keep them only when alone.
        if explainedRequires {
            sentences = sentences.filter { !$0.contains(" would replace the base's ") }
        }
        if sentences.isEmpty {
            sentences.append(problem.description)
        }
        return sentences
    }

    /// What to do when a plugin's `package` conflicts with what a locked base package provides. A versioned conflict
    /// points at the base that would work: `Conflicts: kernel < 3.2` is fixed by a newer base with kernel >= 3.2,
    /// `Conflicts: foo > 2` by an older base or a newer package; an unversioned one only by a base without it.
    static func baseFix(for conflict: Requirement?, package: String) -> String {
        guard let conflict, let relation = conflict.relation, let version = conflict.version else {
            return "build against a base image without it"
        }
        let name = conflict.name
        return switch relation {
        case .less: "build against a newer base image, one with \(name) >= \(version)"
        case .lessOrEqual: "build against a newer base image, one with \(name) > \(version)"
        case .greater: "build against an older base image, one with \(name) <= \(version), or use a newer \(package) that does not conflict with it"
        case .greaterOrEqual: "build against an older base image, one with \(name) < \(version), or use a newer \(package) that does not conflict with it"
        case .equal: "build against a base image with another \(name) than \(version), or use a newer \(package) that does not conflict with it"
        }
    }

    /// What to do when a locked base package conflicts with what a plugin's package provides: a versioned conflict
    /// says which version of it the base allows.
    static func pluginFix(for conflict: Requirement?) -> String {
        guard let conflict, let relation = conflict.relation, let version = conflict.version else {
            return "build against a newer base image"
        }
        let name = conflict.name
        return switch relation {
        case .less: "give the plugin \(name) >= \(version), or build against an older base image"
        case .lessOrEqual: "give the plugin \(name) > \(version), or build against an older base image"
        case .greater: "give the plugin \(name) <= \(version), or build against a newer base image"
        case .greaterOrEqual: "give the plugin \(name) < \(version), or build against a newer base image"
        case .equal: "give the plugin another \(name) than \(version)"
        }
    }

    /// The locked base packages a problem blames (NEVRAs): those a new package conflicts with, obsoletes or would
    /// replace, those that conflict with or obsolete one, and those whose version does not meet a requirement.
    func blamed(_ problem: SolvProblem) -> [String] {
        var blamed: [SolvableID] = []
        for info in problem.ruleInfos {
            switch info.kind {
            case .requires, .nothingProvidesDep:
                guard !pool.isInstalled(info.source) else { continue }
                blamed += pool.providers(of: pool.dependencyName(info.dep)).filter(pool.isInstalled)
            case .conflicts, .obsoletes, .installedObsoletes, .implicitObsoletes, .sameName:
                for p in [info.source, info.target] where pool.isInstalled(p) { blamed.append(p) }
            default:
                continue
            }
        }
        return uniqued(blamed.map(pool.nevra))
    }

    /// For each new package in the problem, a package whose `Requires` pulled it in.
    private func requiredBy(_ infos: [SolvRuleInfo]) -> [SolvableID: SolvableID] {
        var parents: [SolvableID: SolvableID] = [:]
        for info in infos where info.kind == .requires && !pool.isInstalled(info.source) {
            for provider in pool.providers(of: info.dep) where provider != info.source && !pool.isInstalled(provider) {
                if parents[provider] == nil { parents[provider] = info.source }
            }
        }
        return parents
    }

    /// `vdsm-lib-1.0-1.noarch (pulled in by vdsm-1.0-1.noarch → vdsm-common-1.0-1.noarch)`
    private func describe(_ p: SolvableID, parents: [SolvableID: SolvableID]) -> String {
        var chain: [SolvableID] = []
        var seen: Set<SolvableID> = [p]
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
