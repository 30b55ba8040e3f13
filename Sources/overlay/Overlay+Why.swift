import ArgumentParser
import Foundation
import OverlayKit
import Formats

extension Overlay {
    struct Why: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say why a plugin installs a package: the chain from its request down to the package.",
            discussion: """
                The plugin is solved against the locked base as `overlay plan` solves it, and libsolv is asked why it \
                decided to install the package: the plugin's request, then each package that requires (or, as a weak \
                dependency, recommends or supplements) the next, one step a line. A package the base has is named as \
                the base's, with the plugin's packages that require it; a package nothing the plugin installs needs \
                is said to be so, with the versions the plugin's repos have of it.

                Exit status: 0 an answer, 3 a plugin the locked base cannot satisfy, 1 bad input or a plugin that \
                cannot be solved for another reason (the reasons `overlay plan` gives, on standard error).
                """
        )

        @Argument(help: ArgumentHelp("A package name, NEVRA, name.arch, capability or file path.", valueName: "package"))
        var package: String

        @OptionGroup var base: BaseOption

        @Option(name: .long, help: ArgumentHelp("The plugin directory or .tar/.tar.gz/.tar.zst bundle.", valueName: "path"), completion: .file())
        var plugin: String

        @OptionGroup var repos: RepoOptions

        @Flag(name: .long, help: "Print the answer as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                try repos.planning(base: base.base, plugins: [plugin], console: console) { planner, plugins in
                    guard let plugin = plugins.first else { return }
                    console.progress.update(step: "solving", "\(plugin.name): solving")
                    // A plugin that cannot be solved: the reasons and exit status `plan` gives.
                    let explanation = try planner.explain(package: package, in: plugin)
                    console.progress.finish()
                    if json {
                        print(String(decoding: try JSONEncoder.manifest.encode(explanation), as: UTF8.self))
                    } else {
                        print(explanation.text, terminator: "")
                    }
                }
            }
        }
    }
}

extension PackageExplanation {
    /// What `overlay why` prints.
    var text: String {
        var out: String
        switch answer {
        case .plugin:
            out = "\(nevra ?? package) is installed by plugin \"\(plugin)\" because:\n"
            out += Self.lines(chain).map { "  \($0)\n" }.joined()
        case .base:
            out = "\(package) is in the base image (\(nevra ?? package), locked); the plugin does not add it.\n"
            if chain.isEmpty {
                out += "  nothing the plugin installs requires it\n"
            } else {
                out += "plugin \"\(plugin)\" needs it:\n" + Self.lines(chain).map { "  \($0)\n" }.joined()
                let others = requiredBy.filter { $0.by != chain.last?.by }
                if !others.isEmpty {
                    out += "  also required by " + others.map { "\($0.by ?? "") (\($0.dependency ?? ""))" }.joined(separator: ", ") + "\n"
                }
            }
        case .none:
            out =
                "\(package) is not part of plugin \"\(plugin)\": neither requested nor required by anything the plugin installs, and not in the base image.\n"
            for candidate in available {
                out += "  \(candidate.nevra) is available in repo \"\(candidate.repo)\" but was not chosen\n"
            }
            for nevra in instead {
                out += "  \(nevra) is installed instead\n"
            }
        }
        return out
    }

    /// One line a link, as dnf and rpm-ostree explain: `a-1.0-1.noarch (requested by the plugin's package list)
    /// requires b >= 1.0`. A request is said with the package it asks for when a package requires something of it.
    private static func lines(_ chain: [Step]) -> [String] {
        var lines: [String] = []
        for (index, step) in chain.enumerated() {
            let previous = index > 0 ? chain[index - 1] : nil
            let requested = previous?.reason == .request && previous?.package == step.by
            let by = (step.by ?? "") + (requested ? " (requested by the plugin's package list)" : "")
            switch step.reason {
            case .request:
                if index + 1 == chain.count { lines.append("\(step.package) is requested by the plugin's package list") }
            case .requires, .recommends:
                lines.append("\(by) \(step.reason.rawValue) \(step.dependency ?? "")")
            case .supplements:
                lines.append("\(step.package) supplements \(step.dependency ?? "")" + (step.by.map { ", which \($0) provides" } ?? ""))
            case .unexplained:
                lines.append("\(step.package) is installed by a decision of the solver that names no dependency")
            }
        }
        return lines
    }
}
