import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

/// The libsolv solver and transaction owners on their own: a real base rpmdb and a real createrepo_c repo loaded
/// into a pool, problems and solved packages read back as Swift values.
@Suite(.serialized) struct SolvSolverTests {
    let work: URL
    let pool: SolvPool
    let repo: SolvRepoID

    init() throws {
        work = try RPMFixture.temporaryDirectory("solvsolver")
        let base = try BaseFixture.make(at: work.appendingPathComponent("base"))
        let directory = try RPMFixture.repo(
            [
                SpecPackage(name: "kmod-fast", requires: ["kernel >= 3.2"], files: ["/usr/lib/kmod-fast": "k\n"]),
                SpecPackage(name: "tool", requires: ["corelib >= 1.0"], files: ["/usr/bin/tool": "t\n"]),
            ], at: work.appendingPathComponent("repo"))
        pool = SolvPool(arch: "x86_64")
        try pool.loadInstalled(from: base)
        let loader = RepoLoader(cache: nil, scratch: FilePath(work.appendingPathComponent("scratch").path), timeout: 5)
        let loaded = try loader.load(try loader.fetchIndex(RepoSource(id: "extra", directory: FilePath(directory.path))), into: pool)
        repo = loaded.repo
        pool.prepare()
    }

    /// Every installed name locked, and `request` to install.
    func jobs(installing request: String) -> [SolvJob] {
        var jobs = Set(pool.installedSolvables.map(pool.nameID)).map { pool.lockJob(name: $0) }
        jobs += [pool.installJob(oneOf: pool.solvables(inSelection: pool.selection(request)))]
        return jobs
    }

    @Test func aProblemComesBackAsValuesNamingThePackagesAndTheDependency() throws {
        let solver = try SolvSolver(pool: pool)
        solver.set(.ignoreRecommended, true)
        let problems = solver.solve(jobs(installing: "kmod-fast"))
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        // libsolv's own sentence, as `solver_problem2str` words it.
        #expect(problem.description.contains("kmod-fast-1.0-1.noarch"))
        // Nothing provides kernel >= 3.2: the base's kernel-3.1 is the only kernel.
        let unmet = problem.ruleInfos.filter { $0.kind == .nothingProvidesDep }
        #expect(unmet.map { pool.nevra($0.source) } == ["kmod-fast-1.0-1.noarch"])
        #expect(unmet.map { pool.dependency($0.dep) } == ["kernel >= 3.2"])
        let dep = try #require(unmet.first?.dep)
        #expect(pool.providers(of: pool.dependencyName(dep)).filter(pool.isInstalled).map(pool.nevra) == ["kernel-3.1-1.noarch"])
    }

    @Test func aSolvedTransactionListsThePackageWithWhereItIsAndItsChecksum() throws {
        let solver = try SolvSolver(pool: pool)
        #expect(solver.solve(jobs(installing: "tool")).isEmpty)
        let steps = try solver.transaction().steps
        #expect(steps.map(\.nevra) == ["tool-1.0-1.noarch"])
        let step = try #require(steps.first)
        #expect(step.name == "tool" && step.repoName == "extra" && !step.isInstalled)
        #expect(step.location == "tool-1.0-1.noarch.rpm")
        let rpm = work.appendingPathComponent("repo/tool-1.0-1.noarch.rpm").path
        #expect(step.checksum == "sha256:" + (try SHA256Digest.file(FilePath(rpm))))
        #expect(step.downloadSize == (try FileManager.default.attributesOfItem(atPath: rpm)[.size] as? NSNumber)?.int64Value)
        #expect(pool.solvables(of: repo).contains(step.solvable))
    }
}
