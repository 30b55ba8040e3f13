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
                if pool.isInstalled(info.target) && !pool.isInstalled(info.source) {
                    sentences.append(
                        "\(describe(info.source, parents: parents)) conflicts with \(dep), which the base's \(pool.nevra(info.target)) (locked) provides; build against a base image without it"
                    )
                } else if pool.isInstalled(info.source) && !pool.isInstalled(info.target) {
                    sentences.append(
                        "the base's \(pool.nevra(info.source)) (locked) conflicts with \(dep), which \(describe(info.target, parents: parents)) provides; build against a newer base image"
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
