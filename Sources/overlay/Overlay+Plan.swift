import ArgumentParser
import Foundation
import OverlayKit
import SystemPackage
import Formats
import Posix

extension Overlay {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Solve each plugin against the locked base and show what it would add.",
            discussion: """
                Every package of the base is locked: never upgraded, downgraded, obsoleted or removed. Each plugin is \
                solved on its own. Exits 3 when a plugin cannot be satisfied, saying which package and version it \
                needs and what the base has.
                """
        )

        @OptionGroup var solve: SolveOptions

        @Flag(name: .long, help: "Print the plan as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                try solve.repos.planning(base: solve.base, plugins: solve.plugins, console: console) { planner, plugins in
                    var results: [PlanReport.Entry] = []
                    for (index, plugin) in plugins.enumerated() {
                        let started = ContinuousClock.now
                        let repos = plugin.repoSources(enabled: solve.repoSelection).enabled.map(\.id)
                        // One step for the whole run: many quick solves (a sample of hundreds) still show their progress.
                        console.progress.update(
                            step: "solving", "\(plugin.name): solving (plugin \(index + 1) of \(plugins.count))",
                            fraction: Double(index) / Double(plugins.count))
                        defer {
                            console.detail(
                                "\(plugin.name): solved in \(seconds(since: started)) with repos \(repos.isEmpty ? "(none)" : repos.joined(separator: ", "))")
                        }
                        do {
                            let plan = try planner.plan(plugin)
                            // A key that cannot be read or fetched would fail the build: say so now.
                            _ = try planner.signingKeys(for: plan, of: plugin)
                            results.append(.init(plan: plan))
                        } catch let error as PlanError {
                            results.append(.init(plugin: plugin, error: error))
                        }
                    }
                    console.progress.finish()
                    let report = PlanReport(base: planner.baseIdentity, plugins: results)
                    if json {
                        print(String(decoding: try JSONEncoder.manifest.encode(report), as: UTF8.self))
                    } else {
                        print(report.text, terminator: "")
                    }
                    let failures = results.compactMap(\.failure)
                    for failure in failures where !json { console.error(failure.description) }
                    if let worst = failures.first(where: { $0.kind == .failed }) ?? failures.first {
                        throw ExitCode(worst.exitStatus)
                    }
                }
            }
        }
    }
}

/// What `overlay plan` prints.
struct PlanReport: Encodable {
    struct Entry: Encodable {
        var plugin: String
        var version: String
        var ok: Bool
        var packages: [PlannedPackage]
        var alreadyInBase: [String]
        var errors: [String]
        var failure: PlanError?

        init(plan: PluginPlan) {
            plugin = plan.plugin
            version = plan.version
            ok = true
            packages = plan.packages
            alreadyInBase = plan.alreadyInBase
            errors = []
        }

        init(plugin: Plugin, error: PlanError) {
            self.plugin = plugin.name
            version = plugin.manifest.version
            ok = false
            packages = []
            alreadyInBase = []
            errors = error.reasons
            failure = error
        }

        enum CodingKeys: String, CodingKey { case plugin, version, ok, packages, alreadyInBase, errors }
    }
    var base: String
    var plugins: [Entry]

    var text: String {
        var out = "base \(base)\n"
        for entry in plugins {
            if entry.ok {
                let count = entry.packages.count
                out += "\nplugin \(entry.plugin) \(entry.version): adds \(count) package\(count == 1 ? "" : "s")\n"
                let width = entry.packages.map(\.nevra.count).max() ?? 0
                for package in entry.packages {
                    out += "  \(package.nevra.padding(toLength: width, withPad: " ", startingAt: 0))  \(package.repo)\n"
                }
                for name in entry.alreadyInBase {
                    out += "  \(name): already in the base\n"
                }
            } else if entry.failure?.kind == .failed {
                // The reasons go to standard error, one line each.
                out += "\nplugin \(entry.plugin) \(entry.version): could not be planned\n"
            } else {
                out += "\nplugin \(entry.plugin) \(entry.version): cannot be installed on this base\n"
            }
        }
        return out
    }
}
