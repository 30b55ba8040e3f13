import ArgumentParser
import Fleet
import Foundation
import OverlayKit
import Posix
import SystemPackage
import Formats

extension Overlay {
    struct Rebase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check whether plugins (and a fleet's roles) can move from one base image to a newer one.",
            discussion: """
                Solves every plugin against the old and the new locked base, with the rules of plan, and says for each: \
                unchanged (the same packages, the same versions); changed (which packages differ and why: now in the \
                base, a newer or older version, dropped, added); needs a newer base (installable on neither, with the \
                reason plan gives); or blocked by the new base (installable on the old base, not on the new one, \
                naming the new base's package in the way).

                With --fleet, each role of the fleet can move when all its plugins can. A fleet names built overlays, \
                not plugin directories: give the plugin directory of every overlay its roles use with --plugin, matched \
                by plugin name. The fleet must serve the --from base.

                With --out, every plugin that can move, changed or not, is built against the new base into DIR: an \
                overlay records the base it was built for, and a fleet serves only overlays built for its base. The \
                old overlays are left as they are; a fleet moves by serving the new base and the overlays of DIR.

                Exit status: 0 every plugin (and role) can move, 3 one cannot, 1 bad input or a failed build.
                """
        )

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The base the plugins are built against today: its root directory, an initramfs, a squashfs image or a live ISO.",
                valueName: "dir|image"),
            completion: .file())
        var from: String

        @Option(
            name: .long, help: ArgumentHelp("The new base image, in any of the forms --from takes.", valueName: "dir|image"), completion: .file())
        var to: String

        @Option(
            name: .customLong("plugin"),
            help: ArgumentHelp(
                "A plugin directory or .tar/.tar.gz/.tar.zst bundle; repeat for several. With --fleet, one for each plugin its roles use.",
                valueName: "path"),
            completion: .file())
        var plugins: [String] = []

        @Option(
            name: .customLong("fleet"),
            help: ArgumentHelp("A fleet file: also say which of its roles can move (needs --plugin for each of their plugins).", valueName: "file"),
            completion: .file(extensions: ["toml"]))
        var fleetFile: String?

        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp("The directory the fleet is served from (default: the fleet file's directory).", valueName: "dir"),
            completion: .directory)
        var directory: String?

        @OptionGroup var repos: RepoOptions

        @Option(
            help: ArgumentHelp("Build every plugin that can move against the new base into this directory (not the old overlays').", valueName: "dir"),
            completion: .directory)
        var out: String?

        @OptionGroup var pack: PackOptions

        @Flag(name: .long, help: "Print the verdicts as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            guard !plugins.isEmpty else {
                throw ValidationError("Name at least one plugin with --plugin PATH (with --fleet, the plugin of each overlay its roles use).")
            }
            if directory != nil && fleetFile == nil { throw ValidationError("--dir applies to --fleet: give the fleet file too.") }
        }

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                let (oldSource, newSource) = (try BaseImageSource(FilePath(from)), try BaseImageSource(FilePath(to)))
                if let out {
                    try removingUnfinishedFilesOnSignal(out: out)
                } else if oldSource.kind != .directory || newSource.kind != .directory {
                    try removingTemporaryFilesOnSignal()
                }
                let options = repos.planOptions
                // Images give their rpmdb and module state; the new base's whole tree only when --out builds against it.
                let oldBase = try oldSource.openForPlanning()
                defer { oldBase.close() }
                let newBase = try out == nil ? newSource.openForPlanning() : newSource.materialize()
                defer { newBase.close() }
                let upgrade = BaseUpgrade(
                    old: try Planner(base: oldBase.image, options: options),
                    new: try Planner(base: newBase.image, options: options))
                let plugins = try PluginLoader.load(self.plugins, arch: repos.arch)
                defer { plugins.cleanUp() }
                try Planner.checkEnabledRepos(repos.repoSelection, plugins: plugins.plugins)
                let roles = try fleetFile.map { try fleetRoles(FilePath($0), plugins: plugins.plugins, base: upgrade.old.baseIdentity) } ?? []
                console.detail("old base \(from): \(counted(upgrade.old.basePackages.count, "package")), identity \(upgrade.old.baseIdentity)")
                console.detail("new base \(to): \(counted(upgrade.new.basePackages.count, "package")), identity \(upgrade.new.baseIdentity)")

                var verdicts: [PluginRebase] = []
                for (index, plugin) in plugins.plugins.enumerated() {
                    let started = ContinuousClock.now
                    console.progress.update(
                        step: "solving", "\(plugin.name): solving against both bases (plugin \(index + 1) of \(plugins.plugins.count))",
                        fraction: Double(index) / Double(plugins.plugins.count))
                    let verdict = upgrade.check(plugin)
                    console.detail("\(plugin.name): \(verdict.verdict.rawValue), solved against both bases in \(seconds(since: started))")
                    verdicts.append(verdict)
                }
                console.progress.finish()

                var built: [OverlayManifest] = []
                var buildFailed = false
                let moving = plugins.plugins.filter { plugin in verdicts.contains { $0.plugin == plugin.name && $0.canMove } }
                if let out, !moving.isEmpty {
                    (built, buildFailed) = try build(moving, with: upgrade.new, into: out, console: console)
                }

                let report = RebaseReport(
                    from: .init(root: from, identity: upgrade.old.baseIdentity, packages: upgrade.old.basePackages.count),
                    to: .init(root: to, identity: upgrade.new.baseIdentity, packages: upgrade.new.basePackages.count),
                    baseChanges: upgrade.baseChanges, plugins: verdicts,
                    roles: roles.map { role in RebaseReport.Role(role: role.name, plugins: role.plugins, verdicts: verdicts) }, built: built)
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(report), as: UTF8.self))
                } else {
                    print(report.text, terminator: "")
                }
                for verdict in verdicts where verdict.verdict == .failed {
                    console.error(verdict.failure?.description ?? verdict.reasons.map { "plugin \"\(verdict.plugin)\": \($0)" }.joined(separator: "\n"))
                }
                if verdicts.contains(where: { $0.verdict == .failed }) || buildFailed { throw ExitStatus.failure }
                if !report.canMove { throw ExitStatus.unsatisfiable }
            }
        }

        /// The fleet's roles and the plugins each uses, checked against the plugins given and the old base.
        private func fleetRoles(_ file: FilePath, plugins: [Plugin], base: String) throws -> [(name: String, plugins: [String])] {
            let fleet = try Fleet.load(file: file, servedDirectory: FleetPlugins.servedDirectory(fleet: file, dir: directory))
            if let identity = fleet.baseIdentity, identity != base {
                throw RebaseInputError.fleetBase(fleet: file.string, served: identity, from: from, identity: base)
            }
            for role in fleet.roles {
                if let overlay = FleetPlugins.match(role, in: plugins).missing.first {
                    throw RebaseInputError.missingPlugin(fleet: file.string, role: role.name, overlay: overlay.label, plugin: overlay.manifest.name)
                }
            }
            return fleet.roles.map { ($0.name, $0.overlays.map(\.manifest.name)) }
        }

        /// Builds `plugins` against the new base into `out`, as `overlay build` does, printing a line for each (in
        /// text mode) and each failure on standard error.
        private func build(_ plugins: [Plugin], with planner: Planner, into out: String, console: Console) throws -> ([OverlayManifest], Bool) {
            let epoch = try OverlayBuilder.sourceDateEpochFromEnvironment()
            let output = try lockOutput(out, console: console)
            let builder = OverlayBuilder(planner: planner, output: output, packer: pack.packer(sourceDateEpoch: epoch))
            defer { reportFullCache(planner.options.cache, console: console) }
            var built: [OverlayManifest] = []
            var failed = false
            for plugin in plugins {
                Interruption.setActivity("building plugin \"\(plugin.name)\" against the new base")
                console.progress.update(step: "building", "\(plugin.name): building against the new base")
                do {
                    let result = try builder.build(plugin)
                    console.progress.finish()
                    built.append(result.manifest)
                    console.detail("\(plugin.name): built \(result.overlay.string)")
                } catch {
                    console.progress.finish()
                    console.error(error is PlanError ? "\(error)" : ErrorText.describe(error))
                    failed = true
                }
            }
            return (built, failed)
        }
    }
}

/// Bad input particular to `rebase`.
enum RebaseInputError: UserError {
    case fleetBase(fleet: String, served: String, from: String, identity: String)
    case missingPlugin(fleet: String, role: String, overlay: String, plugin: String)

    var description: String {
        switch self {
        case .fleetBase(let fleet, let served, let from, let identity):
            "\(fleet) serves base \(served), but --from \(from) is base \(identity); give --from the base the fleet serves"
        case .missingPlugin(let fleet, let role, let overlay, let plugin):
            "\(fleet): role \"\(role)\" uses overlay \(overlay), but no --plugin is plugin \"\(plugin)\"; give its plugin directory with --plugin"
        }
    }
}

/// What `overlay rebase` prints.
struct RebaseReport: Encodable {
    struct Base: Encodable {
        var root: String
        var identity: String
        var packages: Int
    }

    struct Role: Encodable {
        var role: String
        var plugins: [String]
        var canMove: Bool
        /// The role's plugins that cannot move.
        var blockedBy: [String]

        init(role: String, plugins: [String], verdicts: [PluginRebase]) {
            self.role = role
            self.plugins = plugins
            blockedBy = plugins.filter { name in verdicts.first { $0.plugin == name }?.canMove != true }
            canMove = blockedBy.isEmpty
        }
    }

    var from: Base
    var to: Base
    var baseChanges: [BaseChange]
    var plugins: [PluginRebase]
    var roles: [Role]
    /// The overlays `--out` built against the new base.
    var built: [OverlayManifest]

    var canMove: Bool { plugins.allSatisfy(\.canMove) && roles.allSatisfy(\.canMove) }

    enum CodingKeys: String, CodingKey { case from, to, baseChanges, plugins, roles, canMove, built }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(baseChanges, forKey: .baseChanges)
        try container.encode(plugins, forKey: .plugins)
        try container.encode(roles, forKey: .roles)
        try container.encode(canMove, forKey: .canMove)
        try container.encode(built, forKey: .built)
    }

    var text: String {
        var out = "from \(from.root)  \(from.identity)  \(counted(from.packages, "package"))\n"
        out += "to   \(to.root)  \(to.identity)  \(counted(to.packages, "package"))\n"
        for change in baseChanges {
            switch change.kind {
            case .upgraded, .downgraded: out += "  \(change.kind.rawValue)  \(change.from ?? "") → \(change.to ?? "")\n"
            case .added: out += "  added  \(change.to ?? "")\n"
            case .removed: out += "  removed  \(change.from ?? "")\n"
            }
        }
        for plugin in plugins {
            out += "\nplugin \(plugin.plugin) \(plugin.version): \(Self.headline(plugin))\n"
            for change in plugin.changes { out += "  \(Self.line(change))\n" }
            for reason in plugin.reasons where plugin.verdict != .failed { out += "  \(reason)\n" }
        }
        if !roles.isEmpty { out += "\n" }
        for role in roles {
            let names = role.plugins.map { name in
                "\(name) \(plugins.first { $0.plugin == name }.map { Self.verdictWords($0.verdict) } ?? "not checked")"
            }
            out += "role \(role.role): \(role.canMove ? "can move" : "cannot move") (\(names.isEmpty ? "no plugins" : names.joined(separator: ", ")))\n"
        }
        out += "\n\(plugins.filter(\.canMove).count) of \(counted(plugins.count, "plugin")) can move to the new base"
        if !roles.isEmpty { out += ", \(roles.filter(\.canMove).count) of \(counted(roles.count, "role"))" }
        out += "\n"
        for manifest in built {
            out += "built \(manifest.file)  \(humanSize(manifest.size))  \(counted(manifest.packages.count, "package"))  sha256:\(manifest.sha256)\n"
        }
        return out
    }

    private static func verdictWords(_ verdict: PluginRebase.Verdict) -> String {
        switch verdict {
        case .unchanged: "unchanged"
        case .changed: "changed"
        case .needsNewerBase: "needs a newer base"
        case .blockedByNewBase: "blocked by the new base"
        case .failed: "could not be checked"
        }
    }

    private static func headline(_ plugin: PluginRebase) -> String {
        switch plugin.verdict {
        case .unchanged:
            return "unchanged, adds \(counted(plugin.newPackages?.count ?? 0, "package"))"
        case .changed:
            let adds = "changed, adds \(counted(plugin.newPackages?.count ?? 0, "package"))"
            guard let old = plugin.oldPackages else { return "\(adds) (it could not be installed on the old base)" }
            return "\(adds) (\(old.count) on the old base)"
        case .needsNewerBase:
            return "needs a newer base"
        case .blockedByNewBase:
            let culprits = plugin.blamedChanges.map { change in
                change.from.map { "\($0) → \(change.to ?? "")" } ?? "\(change.to ?? "") added"
            }
            return "blocked by the new base" + (culprits.isEmpty ? "" : " (\(culprits.joined(separator: ", ")))")
        case .failed:
            return "could not be checked"
        }
    }

    private static func line(_ change: PackageChange) -> String {
        switch change.kind {
        case .nowInBase: "- \(change.from ?? ""): now in the base (\(change.base ?? "")), no longer in the overlay"
        case .newer: "~ \(change.from ?? "") → \(change.to ?? ""): newer version"
        case .older: "~ \(change.from ?? "") → \(change.to ?? ""): older version (the new base allows no newer one)"
        case .dropped: "- \(change.from ?? ""): dropped, no longer needed"
        case .added: "+ \(change.to ?? ""): added"
        }
    }
}
