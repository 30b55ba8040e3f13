internal import CSolv

/// One rule behind a solver problem, as `solver_allruleinfos` gives it: what kind of rule, the two packages it is
/// about and the dependency (each may be absent, id 0, depending on the kind).
struct SolvRuleInfo: Hashable, Sendable {
    /// libsolv's `SolverRuleinfo` kinds overlay explains; the rest are `other`.
    enum Kind: Hashable, Sendable {
        case notInstallable
        case nothingProvidesDep
        case requires
        case conflicts
        case sameName
        case obsoletes
        case implicitObsoletes
        case installedObsoletes
        case jobNothingProvidesDep
        case jobUnknownPackage
        case other(UInt32)
    }

    var kind: Kind
    var source: SolvableID
    var target: SolvableID
    var dep: DependencyID
}

/// A problem the solver found, as plain values: libsolv's own sentence (`solver_problem2str`) and every rule info of
/// every rule involved (`solver_findallproblemrules`, `solver_allruleinfos`).
struct SolvProblem: Sendable {
    var description: String
    var ruleInfos: [SolvRuleInfo]
}

/// Why a solve installs a package, as plain values: what libsolv's decision for it (`solver_describe_decision`) and
/// the rule behind it (`solver_ruleinfo`, or `solver_allweakdepinfos` for a weak dependency) say.
enum SolvDecision: Hashable, Sendable {
    /// One of the jobs given to `solve` asked for it.
    case job
    /// `by`'s `Requires: dep` (a package rule, or a choice rule made from one).
    case requires(by: SolvableID, dep: DependencyID)
    /// `by`'s `Recommends: dep`.
    case recommends(by: SolvableID, dep: DependencyID)
    /// The package's own `Supplements: dep`, met by `target` (nil when libsolv names no package).
    case supplements(target: SolvableID?, dep: DependencyID)
    /// A rule that names no dependency (a rule learnt while solving, a best or infarch rule).
    case other
}

/// Owns one libsolv `Solver` (`solver_create`, freed with `solver_free`) over a `SolvPool`, which it keeps alive.
/// Like the pool, it is not thread-safe.
final class SolvSolver {
    /// libsolv solver flags overlay sets.
    enum Flag {
        /// `SOLVER_FLAG_IGNORE_RECOMMENDED`: weak dependencies are not installed.
        case ignoreRecommended
    }

    let pool: SolvPool
    private let solver: UnsafeMutablePointer<Solver>

    init(pool: SolvPool) throws(SolvError) {
        guard let solver = pool.withUnsafeHandle({ solver_create($0) }) else {
            throw SolvError("libsolv could not create a solver")
        }
        self.pool = pool
        self.solver = solver
    }

    deinit { solver_free(solver) }

    /// `solver_set_flag`.
    func set(_ flag: Flag, _ value: Bool) {
        let code =
            switch flag {
            case .ignoreRecommended: Int32(SOLVER_FLAG_IGNORE_RECOMMENDED)
            }
        solver_set_flag(solver, code, value ? 1 : 0)
    }

    /// Solves `jobs` (`solver_solve`) and returns the problems found, in libsolv's order; none means solved, and
    /// `transaction()` then says what to install.
    func solve(_ jobs: [SolvJob]) -> [SolvProblem] {
        var queue = Queue()
        queue_init(&queue)
        defer { queue_free(&queue) }
        for job in jobs {
            queue_push2(&queue, job.how, job.what)
        }
        let count = solver_solve(solver, &queue)
        guard count > 0 else { return [] }
        return (1...count).map { problem(Id($0)) }
    }

    /// What solving decided (`solver_create_transaction`); call after a `solve` without problems.
    func transaction() throws(SolvError) -> SolvTransaction {
        guard let transaction = solver_create_transaction(solver) else {
            throw SolvError("libsolv could not create a transaction")
        }
        return SolvTransaction(adopting: transaction, pool: pool)
    }

    /// Why the last `solve` installs `p`: its decision (`solver_describe_decision`) and, for a decision by a rule,
    /// that rule's info (`solver_ruleinfo`; a choice rule stands for the package rule it was made from,
    /// `solver_rule2pkgrule`), or for a weak dependency each package that recommends it and each of its supplements
    /// that holds (`solver_allweakdepinfos`). Empty when the solve does not install `p`.
    func decisions(installing p: SolvableID) -> [SolvDecision] {
        guard solver_get_decisionlevel(solver, p.rawValue) > 0 else { return [] }
        var rule: Id = 0
        switch solver_describe_decision(solver, p.rawValue, &rule) {
        case SOLVER_REASON_UNIT_RULE, SOLVER_REASON_RESOLVE, SOLVER_REASON_RESOLVE_JOB:
            var (from, to, dep): (Id, Id, Id) = (0, 0, 0)
            var type = solver_ruleinfo(solver, rule, &from, &to, &dep)
            if type == SOLVER_RULE_CHOICE || type == SOLVER_RULE_RECOMMENDS {
                let packageRule = solver_rule2pkgrule(solver, rule)
                if packageRule != 0 { type = solver_ruleinfo(solver, packageRule, &from, &to, &dep) }
            }
            switch type {
            case SOLVER_RULE_JOB: return [.job]
            case SOLVER_RULE_PKG_REQUIRES: return [.requires(by: SolvableID(rawValue: from), dep: DependencyID(rawValue: dep))]
            default: return [.other]
            }
        case SOLVER_REASON_WEAKDEP:
            let flat = pool.withQueue { queue in _ = solver_allweakdepinfos(solver, p.rawValue, &queue) }
            return stride(from: 0, to: flat.count - 3, by: 4).map { index in
                let (from, to, dep) = (flat[index + 1], flat[index + 2], DependencyID(rawValue: flat[index + 3]))
                return SolverRuleinfo(UInt32(bitPattern: flat[index])) == SOLVER_RULE_PKG_RECOMMENDS
                    ? .recommends(by: SolvableID(rawValue: from), dep: dep) : .supplements(target: to == 0 ? nil : SolvableID(rawValue: to), dep: dep)
            }
        default:
            return [.other]
        }
    }

    /// The packages the last `solve` decided to install, in the order it decided them (`solver_get_decisionqueue`).
    var installDecisions: [SolvableID] {
        pool.withQueue { queue in solver_get_decisionqueue(solver, &queue) }.filter { $0 > 1 }.map(SolvableID.init(rawValue:))
    }

    private func problem(_ problem: Id) -> SolvProblem {
        let rules = pool.withQueue { queue in solver_findallproblemrules(solver, problem, &queue) }
        var infos: [SolvRuleInfo] = []
        for rule in rules {
            let flat = pool.withQueue { queue in _ = solver_allruleinfos(solver, rule, &queue) }
            for index in stride(from: 0, to: flat.count - 3, by: 4) {
                infos.append(
                    SolvRuleInfo(
                        kind: Self.kind(SolverRuleinfo(UInt32(bitPattern: flat[index]))), source: SolvableID(rawValue: flat[index + 1]),
                        target: SolvableID(rawValue: flat[index + 2]), dep: DependencyID(rawValue: flat[index + 3])))
            }
        }
        let text = solver_problem2str(solver, problem).map { String(cString: $0) } ?? "problem \(problem)"
        return SolvProblem(description: text, ruleInfos: infos)
    }

    private static func kind(_ type: SolverRuleinfo) -> SolvRuleInfo.Kind {
        switch type {
        case SOLVER_RULE_PKG_NOT_INSTALLABLE: .notInstallable
        case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP: .nothingProvidesDep
        case SOLVER_RULE_PKG_REQUIRES: .requires
        case SOLVER_RULE_PKG_CONFLICTS: .conflicts
        case SOLVER_RULE_PKG_SAME_NAME: .sameName
        case SOLVER_RULE_PKG_OBSOLETES: .obsoletes
        case SOLVER_RULE_PKG_IMPLICIT_OBSOLETES: .implicitObsoletes
        case SOLVER_RULE_PKG_INSTALLED_OBSOLETES: .installedObsoletes
        case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP: .jobNothingProvidesDep
        case SOLVER_RULE_JOB_UNKNOWN_PACKAGE: .jobUnknownPackage
        default: .other(type.rawValue)
        }
    }
}
