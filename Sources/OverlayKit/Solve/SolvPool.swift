internal import CSolv
import Foundation
import SystemPackage

/// Owns one libsolv `Pool` and the repos loaded into it. Not thread-safe (libsolv is not): one owner at a time.
final class SolvPool {
    private let pool: UnsafeMutablePointer<Pool>
    /// The pool's `considered` map while some packages are hidden from the solver (libsolv does not free it).
    private var considered: UnsafeMutablePointer<Map>?
    /// The packages `hide` keeps from the solver.
    private(set) var hiddenSolvables = Set<SolvableID>()
    private var obsoletesIndex: [Id: [(Id, Id)]]?

    /// `pool_create`, then `pool_setdisttype(DISTTYPE_RPM)` (Debian's libsolv otherwise compares versions the
    /// Debian way), `pool_setarch`, and implicit obsoletes that respect arch colors: Fedora's and RHEL's libsolv
    /// is built that way, so a package's i686 and x86_64 builds install side by side (multilib), while Debian's
    /// lets one replace the other.
    init(arch: String) {
        pool = pool_create()
        pool_setdisttype(pool, Int32(DISTTYPE_RPM))
        pool_set_flag(pool, Int32(POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS), 1)
        pool_setarch(pool, arch)
    }

    deinit {
        pool.pointee.considered = nil
        if let considered {
            map_free(considered)
            considered.deallocate()
        }
        pool_free(pool)
    }

    func withUnsafeHandle<T, E: Error>(_ body: (UnsafeMutablePointer<Pool>) throws(E) -> T) throws(E) -> T {
        try body(pool)
    }

    var lastError: String { String(cString: pool_errstr(pool)) }

    // MARK: Loading

    /// Reads the installed packages of `base` from its rpmdb (`repo_add_rpmdb_reffp` with `REPO_USE_ROOTDIR`)
    /// and makes them the pool's installed repo. Returns how many there are.
    ///
    /// The rpmdb is read from a private copy: opening an sqlite rpmdb, even read-only, rewrites its `-shm`
    /// file, and the base must not change by one byte (it may also be read-only).
    @discardableResult
    func loadInstalled(from base: BaseImage) throws(BaseError) -> Int {
        // A damaged file is named before librpm opens it: its failed opens leave sqlite and rpm state behind.
        if let problem = base.databaseFormatProblem {
            throw .unreadableDatabase(root: base.label, reason: problem)
        }
        let copy: FilePath
        do {
            copy = try base.privateDatabaseCopy()
        } catch {
            throw .unreadableDatabase(root: base.label, reason: "\(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: copy.string) }
        guard let repo = repo_create(pool, "@System") else {
            throw .unreadableDatabase(root: base.label, reason: "libsolv cannot create a repo for the installed packages")
        }
        pool_set_rootdir(pool, copy.string)
        defer { pool_set_rootdir(pool, nil) }
        // libsolv's rpmdb reader takes the path from rpm's `%_dbpath`, which Debian sets to ~/.rpmdb:
        // set it to the image's real rpmdb, or the base silently reads as empty.
        let result: Int32
        var rpmSaid: [String] = []
        do {
            result = try RPMLibrary.session(macros: [("_dbpath", base.dbPath)]) { log in
                let status = repo_add_rpmdb_reffp(repo, nil, Int32(REPO_USE_ROOTDIR))
                if status != 0 { rpmSaid = log.errors() }
                return status
            }
        } catch {
            throw .unreadableDatabase(root: base.label, reason: "\(error)")
        }
        if result != 0 {
            // rpm's own words say what is wrong with the database; libsolv's only that opening it failed.
            throw .unreadableDatabase(root: base.label, reason: Self.databaseProblem(base, copy: copy, rpmSaid: rpmSaid) ?? lastError)
        }
        pool_set_installed(pool, repo)
        let count = Int(repo.pointee.nsolvables)
        if count == 0 {
            // Debian's rpm has no ndb backend: an openSUSE rpmdb reads as empty rather than failing.
            if let file = base.databaseFile, file.hasSuffix("/Packages.db") {
                throw .unreadableDatabase(root: base.label, reason: "\(file) is an ndb rpmdb (openSUSE), which this rpm cannot read")
            }
            throw .emptyDatabase(root: base.label, dbPath: base.dbPath)
        }
        return count
    }

    /// What is wrong with the base's rpmdb file, in rpm's words but naming the base's file, not the private copy.
    private static func databaseProblem(_ base: BaseImage, copy: FilePath, rpmSaid: [String]) -> String? {
        // A file of the wrong type, empty or not in its format was named before librpm ran
        // (BaseImage.databaseFormatProblem): here only rpm's own words are left.
        guard let file = base.databaseFile, let first = rpmSaid.first else { return nil }
        // "sqlite failure: CREATE TABLE …: file is not a database": the statement says nothing to a user.
        if first.hasPrefix("sqlite failure:"), let colon = first.range(of: ": ", options: .backwards) {
            return "\(file): \(first[colon.upperBound...])"
        }
        return first.replacingOccurrences(of: copy.string, with: "")
    }

    /// An empty installed repo, for solving a new base with nothing locked.
    func loadNothingInstalled() throws(SolvError) {
        guard let repo = repo_create(pool, "@System") else { throw SolvError("libsolv cannot create a repo") }
        pool_set_installed(pool, repo)
    }

    /// `pool_addfileprovides` + `pool_createwhatprovides`: call after the last repo is loaded, before solving.
    func prepare() {
        pool_addfileprovides(pool)
        pool_createwhatprovides(pool)
    }

    /// Hides `solvables` from selections and the solver: every other package goes into the pool's `considered`
    /// map, as dnf does for its excludes, and the provides index is rebuilt. An empty list shows everything.
    /// The same list as last time changes nothing.
    func hide(_ solvables: Set<SolvableID>) {
        guard solvables != hiddenSolvables else { return }
        hiddenSolvables = solvables
        pool.pointee.considered = nil
        if let considered {
            map_free(considered)
            considered.deallocate()
            self.considered = nil
        }
        if !solvables.isEmpty {
            let map = UnsafeMutablePointer<Map>.allocate(capacity: 1)
            map_init(map, pool.pointee.nsolvables)
            csolv_map_setall(map)
            for p in solvables { csolv_map_clr(map, p.rawValue) }
            considered = map
            pool.pointee.considered = map
        }
        pool_createwhatprovides(pool)
    }

    /// Every package of the repos that are not the installed one, nor named in `excluding`.
    func availableSolvables(excluding: Set<String> = []) -> [SolvableID] {
        var result: [SolvableID] = []
        for index in 1..<Int(max(pool.pointee.nrepos, 1)) {  // FOR_REPOS: slot 0 is unused, freed repos leave holes
            guard let repo = pool.pointee.repos[index], repo != pool.pointee.installed,
                !excluding.contains(String(cString: repo.pointee.name))
            else { continue }
            result += solvables(of: repo)
        }
        return result
    }

    /// The packages, installed or visible, whose `Obsoletes` match one of `targets` by name and version (as dnf's
    /// `obsoletes=` query, without obsoletes matching provides).
    func obsoleters(of targets: [SolvableID]) -> [SolvableID] {
        let index = obsoletesIndex ?? makeObsoletesIndex()
        var result: [SolvableID] = []
        for name in Set(targets.map { csolv_solvable_name(pool, $0.rawValue) }) {
            for (raw, dep) in index[name] ?? [] {
                let p = SolvableID(rawValue: raw)
                guard !targets.contains(p) && !result.contains(p) else { continue }
                guard isInstalled(p) || csolv_is_considered(pool, raw) != 0 else { continue }
                if targets.contains(where: { pool_match_nevr(pool, csolv_solvable(pool, $0.rawValue), dep) != 0 }) { result.append(p) }
            }
        }
        return result
    }

    /// Obsoleted name → (package, its `Obsoletes` dependency), over every package of the pool; made once, as the
    /// pool's packages do not change after loading.
    private func makeObsoletesIndex() -> [Id: [(Id, Id)]] {
        var index: [Id: [(Id, Id)]] = [:]
        var deps = Queue()
        queue_init(&deps)
        defer { queue_free(&deps) }
        var p: Id = 2
        while p < pool.pointee.nsolvables {
            defer { p += 1 }
            guard let solvable = csolv_solvable(pool, p), solvable.pointee.repo != nil, solvable.pointee.obsoletes != 0 else { continue }
            queue_empty(&deps)  // libsolv appends to the queue
            solvable_lookup_deparray(solvable, Id(SOLVABLE_OBSOLETES.rawValue), &deps, -1)
            for position in 0..<Int(deps.count) {
                let dep = deps.elements[position]
                index[dependencyName(DependencyID(rawValue: dep)).rawValue, default: []].append((p, dep))
            }
        }
        obsoletesIndex = index
        return index
    }

    /// A job that installs one of `solvables`, with arch and version part of the job
    /// (`SOLVER_INSTALL | SOLVER_SOLVABLE_ONE_OF | SOLVER_SETARCH | SOLVER_SETEVR` over `pool_queuetowhatprovides`).
    func installJob(oneOf solvables: [SolvableID]) -> SolvJob {
        var queue = Queue()
        queue_init(&queue)
        defer { queue_free(&queue) }
        for p in solvables { queue_push(&queue, p.rawValue) }
        return SolvJob(
            how: Int32(SOLVER_INSTALL | SOLVER_SOLVABLE_ONE_OF | SOLVER_SETARCH | SOLVER_SETEVR),
            what: pool_queuetowhatprovides(pool, &queue))
    }

    /// A job that locks every package named `name` (`SOLVER_LOCK | SOLVER_SOLVABLE_NAME`).
    func lockJob(name: DependencyID) -> SolvJob {
        SolvJob(how: Int32(SOLVER_LOCK | SOLVER_SOLVABLE_NAME), what: name.rawValue)
    }

    /// The id of a string the pool already has, or nil (`pool_str2id` without creating).
    func existingID(_ string: String) -> DependencyID? {
        let id = pool_str2id(pool, string, 0)
        return id == 0 ? nil : DependencyID(rawValue: id)
    }

    // MARK: Looking things up

    /// The text of a name (`pool_id2str`).
    func string(_ id: DependencyID) -> String { String(cString: pool_id2str(pool, id.rawValue)) }
    /// A dependency as rpm writes it, `kernel >= 3.2` (`pool_dep2str`).
    func dependency(_ id: DependencyID) -> String { String(cString: pool_dep2str(pool, id.rawValue)) }

    /// `name-[epoch:]version-release.arch`
    func nevra(_ p: SolvableID) -> String { String(cString: pool_solvid2str(pool, p.rawValue)) }
    func name(_ p: SolvableID) -> String { string(nameID(p)) }
    /// The package's name as an id, the same for every package of that name.
    func nameID(_ p: SolvableID) -> DependencyID { DependencyID(rawValue: csolv_solvable_name(pool, p.rawValue)) }
    func arch(_ p: SolvableID) -> String { String(cString: pool_id2str(pool, csolv_solvable_arch(pool, p.rawValue))) }
    func repoName(_ p: SolvableID) -> String { String(cString: csolv_repo_name(pool, p.rawValue)) }
    func isInstalled(_ p: SolvableID) -> Bool { csolv_is_installed(pool, p.rawValue) != 0 }

    func providers(of dep: DependencyID) -> [SolvableID] {
        solvableQueue { queue in
            csolv_whatprovides(pool, dep.rawValue, &queue)
        }
    }

    /// A package's `Requires`, pre-install ones included (`solvable_lookup_deparray` of `SOLVABLE_REQUIRES`).
    func requires(of p: SolvableID) -> [DependencyID] {
        withQueue { queue in
            _ = solvable_lookup_deparray(csolv_solvable(pool, p.rawValue), Id(SOLVABLE_REQUIRES.rawValue), &queue, 0)
        }.filter { $0 != Id(SOLVABLE_PREREQMARKER.rawValue) }.map(DependencyID.init(rawValue:))
    }

    /// The packages of a repo of this pool; none when it has no such repo.
    func solvables(of repo: SolvRepoID) -> [SolvableID] {
        guard let repo = pool_id2repo(pool, repo.rawValue) else { return [] }
        return solvables(of: repo)
    }

    private func solvables(of repo: UnsafeMutablePointer<Repo>) -> [SolvableID] {
        solvableQueue { queue in csolv_repo_solvables(repo, &queue) }
    }

    var installedSolvables: [SolvableID] {
        guard let installed = pool.pointee.installed else { return [] }
        return solvables(of: installed)
    }

    /// A dependency id for `name [op version]`, as libsolv compares it.
    func dependency(for requirement: Requirement) -> DependencyID {
        DependencyID(rawValue: dependencyID(for: requirement))
    }

    private func dependencyID(for requirement: Requirement) -> Id {
        let name = pool_str2id(pool, requirement.name, 1)
        guard let relation = requirement.relation, let version = requirement.version else { return name }
        let flags: Int32 =
            switch relation {
            case .less: Int32(REL_LT)
            case .lessOrEqual: Int32(REL_LT | REL_EQ)
            case .equal: Int32(REL_EQ)
            case .greaterOrEqual: Int32(REL_GT | REL_EQ)
            case .greater: Int32(REL_GT)
            }
        return pool_rel2id(pool, name, pool_str2id(pool, version, 1), flags, 1)
    }

    /// A dependency read back as `name [op version]` (`kernel < 3.2`); nil for what that form cannot say: a rich
    /// dependency (`(a or b)`), `!=`, a namespace.
    func requirement(of dep: DependencyID) -> Requirement? {
        guard csolv_is_reldep(dep.rawValue) != 0 else { return Requirement(name: string(dep)) }
        let relation = relationDependency(pool, dep.rawValue).pointee
        guard csolv_is_reldep(relation.name) == 0, csolv_is_reldep(relation.evr) == 0 else { return nil }
        let op: Requirement.Relation? =
            switch Int32(relation.flags) {
            case Int32(REL_LT): .less
            case Int32(REL_LT | REL_EQ): .lessOrEqual
            case Int32(REL_EQ): .equal
            case Int32(REL_GT | REL_EQ): .greaterOrEqual
            case Int32(REL_GT): .greater
            default: nil
            }
        guard let op else { return nil }
        return Requirement(
            name: string(DependencyID(rawValue: relation.name)), relation: op, version: string(DependencyID(rawValue: relation.evr)))
    }

    /// The name part of a dependency (`kernel` of `kernel >= 3.2`).
    func dependencyName(_ dep: DependencyID) -> DependencyID {
        var id = dep.rawValue
        while csolv_is_reldep(id) != 0 {
            id = relationDependency(pool, id).pointee.name
        }
        return DependencyID(rawValue: id)
    }

    /// Runs libsolv's `selection_make` for what a user typed (`vdsm`, `vdsm >= 4`, `vdsm.x86_64`, `/usr/bin/x`).
    func selection(_ text: String, installedOnly: Bool = false) -> SolvSelection {
        SolvSelection(
            pairs: withQueue { queue in
                var flags = Int32(SELECTION_NAME | SELECTION_PROVIDES | SELECTION_CANON | SELECTION_DOTARCH | SELECTION_REL)
                if text.hasPrefix("/") { flags |= Int32(SELECTION_FILELIST) }
                if installedOnly { flags |= Int32(SELECTION_INSTALLED_ONLY) }
                _ = selection_make(pool, &queue, text, flags)
            })
    }

    /// The solvables a selection stands for.
    func solvables(inSelection selection: SolvSelection) -> [SolvableID] {
        var job = Queue()
        queue_init(&job)
        defer { queue_free(&job) }
        for id in selection.pairs { queue_push(&job, id) }
        return solvableQueue { queue in selection_solvables(pool, &job, &queue) }
    }

    /// The name a selection selects by, when it is exactly one package name and nothing else (no version, no
    /// provides, no file): what `vdsm` gives, not `vdsm >= 4`.
    func plainName(of selection: SolvSelection) -> String? {
        let pairs = selection.pairs
        guard pairs.count == 2, pairs[0] & Id(SOLVER_SELECTMASK) == Id(SOLVER_SOLVABLE_NAME), csolv_is_reldep(pairs[1]) == 0
        else { return nil }
        return string(DependencyID(rawValue: pairs[1]))
    }

    /// Calls `body` with an initialized libsolv Queue and returns its elements.
    func withQueue(_ body: (inout Queue) -> Void) -> [Id] {
        var queue = Queue()
        queue_init(&queue)
        defer { queue_free(&queue) }
        body(&queue)
        return (0..<Int(queue.count)).map { queue.elements[$0] }
    }

    /// `withQueue` for a queue of solvables.
    func solvableQueue(_ body: (inout Queue) -> Void) -> [SolvableID] {
        withQueue(body).map(SolvableID.init(rawValue:))
    }
}

/// libsolv's GETRELDEP as a function (the macro does not import): the relation a dependency id stands for.
@inline(__always)
func relationDependency(_ pool: UnsafeMutablePointer<Pool>, _ id: Id) -> UnsafeMutablePointer<Reldep> {
    pool.pointee.rels + Int(id & ~Id(bitPattern: 0x8000_0000))
}
