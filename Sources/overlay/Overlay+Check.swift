import ArgumentParser
import Fleet
import Foundation
import OverlayKit
import Posix
import SystemPackage
import Formats

extension Overlay {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the plugins of each role work together: one solve, no file collisions, within size limits, one base.",
            discussion: """
                Each plugin is built and solved on its own, but a node unpacks all of its role's overlays into one \
                root. For every role of the fleet (or the set of --plugin given with --base), check says:

                solve: the role's plugins solved together against the locked base in one libsolv job: two plugins \
                that need different versions of one package, or whose packages conflict with or obsolete each other, \
                fail here though each builds alone. Needs --base and the --plugin directory of each plugin, matched \
                by plugin name; without them the solve is skipped and the table says so.

                collisions: a path two of the role's overlays ship with different content, type, mode, owner or link \
                target. The kernel unpacks the initrds in order and the last one silently wins; the role's \
                wins = ["plugin"] in fleet.toml accepts a collision that plugin wins (its overlay must come last).

                base types: a path an overlay ships as a file, directory or symlink where the base's root \
                filesystem (--base) has another type.

                size: the role's initrds (base, overlays, rpmdb) against max_initrd (their files, summed) and \
                max_unpacked (the unpacked cpio archives in the node's RAM; layers count as their files) of the role \
                or [defaults], and the firmware's 4 GiB.

                base: every overlay built for the base the fleet serves.

                `overlay serve --fleet` runs the checks that need no plugins or base root (collisions, size, base) \
                before it starts, and refuses a fleet that fails them unless given --no-check.

                Exit status: 0 every role passes, 3 a role cannot be served as written, 1 bad input or a check that \
                could not run (a repo or an overlay that cannot be read).
                """
        )

        @Option(
            name: .customLong("fleet"), help: ArgumentHelp("The fleet file whose roles to check.", valueName: "file"),
            completion: .file(extensions: ["toml"]))
        var fleetFile: String?

        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp("The directory the fleet is served from (default: the fleet file's directory).", valueName: "dir"),
            completion: .directory)
        var directory: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The base: its root filesystem or an image (initramfs, squashfs, live ISO, extracted whole); solve against it and compare the overlays' file types with it.",
                valueName: "dir|image"),
            completion: .directory)
        var base: String?

        @Option(
            name: .customLong("plugin"),
            help: ArgumentHelp(
                "A plugin directory or .tar/.tar.gz/.tar.zst bundle; repeat for several. With --fleet, matched to the roles' overlays by plugin name.",
                valueName: "path"),
            completion: .file())
        var plugins: [String] = []

        @Option(name: .customLong("role-name"), help: ArgumentHelp("What to call the set of --plugin in the report (without --fleet).", valueName: "name"))
        var roleName = "plugins"

        @OptionGroup var repos: RepoOptions

        @Flag(name: .long, help: "Print the report as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            if fleetFile == nil {
                guard base != nil, !plugins.isEmpty else {
                    throw ValidationError("Give --fleet FILE, or --base DIR and the plugins to solve together with --plugin PATH.")
                }
                if directory != nil { throw ValidationError("--dir applies to --fleet: give the fleet file too.") }
            } else if !plugins.isEmpty && base == nil {
                throw ValidationError("--plugin needs --base: the plugins are solved against the base's root filesystem.")
            }
        }

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                let report = try makeReport(console: console)
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(report), as: UTF8.self))
                } else {
                    print(report.text, terminator: "")
                }
                let statuses = report.roles.flatMap { $0.checks.map(\.status) }
                if statuses.contains(.error) { throw ExitStatus.failure }
                if statuses.contains(.failed) { throw ExitStatus.unsatisfiable }
            }
        }

        /// Runs every check on every role; throws only for bad input.
        func makeReport(console: Console) throws -> CheckReport {
            // An image is extracted whole: the base types compare with its every path.
            let opened = try base.map { path in
                let source = try BaseImageSource(FilePath(path))
                return try source.kind == .directory ? source.openForPlanning() : source.materialize()
            }
            defer { opened?.close() }
            let planner = try opened.map { try Planner(base: $0.image, options: repos.planOptions) }
            let loaded = try PluginLoader.load(plugins, arch: repos.arch)
            defer { loaded.cleanUp() }
            try Planner.checkEnabledRepos(repos.repoSelection, plugins: loaded.plugins)
            if let planner { console.detail("base \(base ?? ""): \(counted(planner.basePackages.count, "package")), identity \(planner.baseIdentity)") }

            var roles: [RoleReport] = []
            if let fleetFile {
                let file = FilePath(fleetFile)
                let fleet = try Fleet.load(
                    file: file, servedDirectory: FleetPlugins.servedDirectory(fleet: file, dir: directory), acceptingOtherBases: true)
                if let planner, let served = fleet.baseIdentity, served != planner.baseIdentity {
                    throw CheckInputError.fleetBase(fleet: fleetFile, served: served, base: base ?? "", identity: planner.baseIdentity)
                }
                let used = Set(fleet.roles.flatMap { $0.overlays.map(\.manifest.name) })
                if let stray = loaded.plugins.first(where: { !used.contains($0.name) }) {
                    throw CheckInputError.unusedPlugin(fleet: fleetFile, plugin: stray.name, path: stray.origin)
                }
                let reader = RoleReader()
                for role in fleet.roles {
                    console.progress.update(step: "checking", "role \(role.name): checking \(counted(role.overlays.count, "overlay"))")
                    var report = RoleReport(role: role.name, overlays: role.overlays.map(\.label))
                    let (found, missing) = FleetPlugins.match(role, in: loaded.plugins)
                    if planner == nil || loaded.plugins.isEmpty {
                        report.checks.append(
                            .init(check: .solve, status: .skipped, summary: "no plugin directories: give --base and --plugin DIR for each plugin"))
                    } else if let overlay = missing.first {
                        report.checks.append(
                            .init(
                                check: .solve, status: .skipped,
                                summary: "no --plugin for overlay \(overlay.label): give plugin \"\(overlay.manifest.name)\"'s directory to solve the role")
                        )
                    } else if let planner {
                        report.checks.append(Self.solve(found, role: role.name, planner: planner))
                    }
                    report.checks += reader.check(role, in: fleet, base: opened?.image.root, baseName: base)
                    roles.append(report)
                }
            } else if let planner {
                var report = RoleReport(role: roleName, overlays: loaded.plugins.map { "\($0.name)-\($0.manifest.version)" })
                console.progress.update(step: "solving", "\(roleName): solving \(counted(loaded.plugins.count, "plugin")) together")
                report.checks.append(Self.solve(loaded.plugins, role: roleName, planner: planner))
                roles.append(report)
            }
            console.progress.finish()
            return CheckReport(roles: roles)
        }

        /// The role's plugins solved together.
        static func solve(_ plugins: [Plugin], role: String, planner: Planner) -> CheckResult {
            do {
                let packages = try planner.plan(together: plugins, subject: "role \"\(role)\"")
                return CheckResult(
                    check: .solve, status: .ok,
                    summary: "\(counted(plugins.count, "plugin")) solved together: \(counted(packages.count, "package")) over the base")
            } catch {
                return CheckResult(
                    check: .solve, status: error.kind == .failed ? .error : .failed,
                    summary: error.kind == .failed ? "could not be solved" : "the plugins cannot be installed together on this base",
                    problems: error.reasons.map { RoleProblem(message: $0) })
            }
        }
    }
}

/// Reads a fleet's overlays once for every role that uses them, and runs the checks that need no plugin directories:
/// collisions, base types (with a base root), size and base identity. `serve` runs them too.
final class RoleReader {
    private var contents: [FilePath: Result<OverlayContents, any Error>] = [:]

    func read(_ path: FilePath, overlay: Bool) -> Result<OverlayContents, any Error> {
        if let known = contents[path] { return known }
        let result = Result { try OverlayReader.read(path, requireRegistry: overlay, digests: overlay) }
        contents[path] = result
        return result
    }

    /// `base`: the base's root on disk, for the base types; `baseName` is what messages call it (`--base` as given).
    func check(_ role: Fleet.Role, in fleet: Fleet, base: FilePath?, baseName: String? = nil) -> [CheckResult] {
        var results: [CheckResult] = []
        var overlays: [(RoleInitrd, OverlayContents)] = []
        var unreadable: [RoleProblem] = []
        for overlay in role.overlays {
            let initrd = RoleInitrd(
                plugin: overlay.manifest.name, label: overlay.label, path: fleet.servedDirectory.appending(overlay.path),
                isLayer: Fleet.Layer.isLayer(format: overlay.manifest.format))
            switch read(initrd.path, overlay: true) {
            case .success(let read): overlays.append((initrd, read))
            case .failure(let error): unreadable.append(RoleProblem(message: ErrorText.describe(error)))
            }
        }
        if !unreadable.isEmpty {
            results.append(CheckResult(check: .collisions, status: .error, summary: "an overlay cannot be read", problems: unreadable))
        } else {
            let collisions = RoleCheck.collisions(overlays, wins: role.wins, role: role.name)
            results.append(
                collisions.isEmpty
                    ? CheckResult(
                        check: .collisions, status: .ok,
                        summary: overlays.count < 2
                            ? "one overlay, nothing to collide"
                            : "no path shipped differently by two overlays" + (role.wins.isEmpty ? "" : " but where wins says which wins"))
                    : CheckResult(
                        check: .collisions, status: .failed, summary: "\(counted(collisions.count, "path")) shipped differently by two overlays",
                        problems: collisions))
            if let base {
                let clashes = RoleCheck.baseTypes(overlays, base: base, name: baseName ?? base.string)
                results.append(
                    clashes.isEmpty
                        ? CheckResult(check: .baseTypes, status: .ok, summary: "every path has the base's type where the base has it")
                        : CheckResult(
                            check: .baseTypes, status: .failed, summary: "\(counted(clashes.count, "path")) of another type than the base's",
                            problems: clashes))
            } else {
                results.append(CheckResult(check: .baseTypes, status: .skipped, summary: "give --base DIR to compare with the base's file types"))
            }
        }
        results.append(size(role, in: fleet))
        results.append(
            role.otherBases.isEmpty
                ? CheckResult(check: .base, status: .ok, summary: "every overlay was built for base \(fleet.baseIdentity ?? "")")
                : CheckResult(
                    check: .base, status: .failed, summary: "\(counted(role.otherBases.count, "overlay")) built for another base",
                    problems: role.otherBases.map { RoleProblem(message: $0.description) }))
        return results
    }

    /// The size check over all of the role's initrds: the base's, the overlays, the rpmdb.
    private func size(_ role: Fleet.Role, in fleet: Fleet) -> CheckResult {
        var measured: [(initrd: RoleInitrd, fileSize: Int64, unpacked: Int64?)] = []
        for path in role.boot.initrds {
            let full = fleet.servedDirectory.appending(path)
            let initrd = RoleInitrd(plugin: nil, label: path, path: full, isLayer: role.boot.layerNames[path] != nil)
            let fileSize = ((try? FileManager.default.attributesOfItem(atPath: full.string))?[.size] as? NSNumber)?.int64Value ?? 0
            let unpacked = initrd.isLayer ? nil : (try? read(full, overlay: role.overlays.contains { $0.path == path }).get())?.totalBytes
            measured.append((initrd, fileSize, unpacked))
        }
        let sizes = RoleCheck.sizes(measured)
        let problems = RoleCheck.budget(sizes, maxInitrd: role.limits.initrd, maxUnpacked: role.limits.unpacked, role: role.name)
        let limits = [role.limits.initrd.map { "max \(humanSize($0))" }, role.limits.unpacked.map { "max \(humanSize($0))" }]
        let summary =
            "\(humanSize(sizes.compressed)) of initrds\(limits[0].map { " (\($0))" } ?? ""), \(humanSize(sizes.unpacked)) unpacked\(limits[1].map { " (\($0))" } ?? "")"
        return CheckResult(check: .size, status: problems.isEmpty ? .ok : .failed, summary: summary, problems: problems, sizes: sizes)
    }
}

/// One check of one role.
struct CheckResult: Encodable {
    enum Check: String, Encodable {
        case solve, collisions
        case baseTypes = "base-types"
        case size, base
    }

    enum Status: String, Encodable {
        case ok, failed, skipped
        /// The check could not run: a repo or an overlay could not be read.
        case error
    }

    var check: Check
    var status: Status
    var summary: String
    var problems: [RoleProblem] = []
    var sizes: RoleCheck.Sizes?
}

/// What `overlay check` says of one role.
struct RoleReport: Encodable {
    var role: String
    var overlays: [String]
    var checks: [CheckResult] = []

    var ok: Bool { checks.allSatisfy { $0.status == .ok || $0.status == .skipped } }

    enum CodingKeys: String, CodingKey { case role, overlays, ok, checks }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        try container.encode(overlays, forKey: .overlays)
        try container.encode(ok, forKey: .ok)
        try container.encode(checks, forKey: .checks)
    }
}

/// What `overlay check` prints.
struct CheckReport: Encodable {
    var roles: [RoleReport]
    var ok: Bool { roles.allSatisfy(\.ok) }

    enum CodingKeys: String, CodingKey { case roles, ok }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(roles, forKey: .roles)
        try container.encode(ok, forKey: .ok)
    }

    /// A table per role: each check on one line, then each problem of a failed check on a line of its own.
    var text: String {
        var out = ""
        for role in roles {
            out +=
                "role \(role.role) (\(role.overlays.isEmpty ? "no overlays" : role.overlays.joined(separator: ", "))): \(role.ok ? "ok" : "cannot be served as written")\n"
            let width = role.checks.map(\.check.rawValue.count).max() ?? 0
            for check in role.checks {
                out +=
                    "  \(check.check.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.status.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(check.summary)\n"
                for problem in check.problems { out += "      \(problem.message)\n" }
            }
            out += "\n"
        }
        out += "\(roles.filter(\.ok).count) of \(counted(roles.count, "role")) ok\n"
        return out
    }
}

/// Bad input particular to `check`.
enum CheckInputError: UserError {
    case fleetBase(fleet: String, served: String, base: String, identity: String)
    case unusedPlugin(fleet: String, plugin: String, path: String)

    var description: String {
        switch self {
        case .fleetBase(let fleet, let served, let base, let identity):
            "\(fleet) serves base \(served), but --base \(base) is base \(identity); give --base the root filesystem of the base the fleet serves"
        case .unusedPlugin(let fleet, let plugin, let path):
            "--plugin \(path) is plugin \"\(plugin)\", which no role of \(fleet) uses; remove it or add it to a role"
        }
    }
}
