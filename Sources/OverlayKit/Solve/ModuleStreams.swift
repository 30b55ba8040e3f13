import Foundation

/// A module stream as a plugin names it: `maven:3.8`.
public struct ModuleStreamName: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var stream: String

    public init(name: String, stream: String) {
        self.name = name
        self.stream = stream
    }

    /// Parses `name:stream`; nil when it is not of that form.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.isValidPart(parts[0]), Self.isValidPart(parts[1]) else { return nil }
        self.init(name: String(parts[0]), stream: String(parts[1]))
    }

    public var description: String { "\(name):\(stream)" }

    /// Module and stream names are letters, digits and `. _ + -` (modulemd's own rule for NSVCA parts).
    private static func isValidPart(_ part: Substring) -> Bool {
        !part.isEmpty && part.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._+-".unicodeScalars.contains($0)) }
    }
}

/// The module streams of the enabled repos, merged, and the choice dnf makes among them: a module's stream is
/// active when the plugin enables it, else when the base has it (its dnf state enables it, or its packages are
/// installed), else when it is the default; every other stream's packages are hidden from the solver.
struct ModuleStreams {
    /// Every stream build of every enabled repo, each once.
    let builds: [RepoModules.Stream]
    /// Module → default stream; a module two repos give different defaults has none (as libmodulemd merges).
    let defaults: [String: String]
    /// Which enabled repos carry module metadata, for messages.
    let repos: [String]

    init(_ repos: [(id: String, modules: RepoModules)]) {
        var builds: [RepoModules.Stream] = []
        var seen = Set<String>()
        var defaults: [String: String] = [:]
        var conflicting = Set<String>()
        for (_, modules) in repos {
            for build in modules.streams where seen.insert("\(build.nameStream):\(build.version):\(build.context):\(build.arch)").inserted {
                builds.append(build)
            }
            for (module, stream) in modules.defaults.sorted(by: { $0.key < $1.key }) {
                if let other = defaults[module], other != stream { conflicting.insert(module) }
                defaults[module] = stream
            }
        }
        for module in conflicting { defaults[module] = nil }
        self.builds = builds
        self.defaults = defaults
        self.repos = repos.map(\.id)
    }

    var isEmpty: Bool { builds.isEmpty }

    /// Why a stream was chosen, for messages.
    enum Origin: Sendable, Equatable {
        case plugin, baseState, installed, defaultStream, dependency
    }

    /// Chooses the active streams. `enabled` are the plugin's `modules`; `base` is what the base image says;
    /// `installed` its packages (`name-[epoch:]version-release.arch`, no `0:` epoch); `arch` the solve's.
    /// Throws for a stream the repos do not have (exit 1) and for an enabled stream whose module requirements
    /// no build meets (exit 3).
    func activate(
        enabled: [ModuleStreamName], base: BaseModuleState, installed: Set<String>, arch: String,
        subject: String
    ) throws(PlanError) -> ActiveModules {
        let builds = self.builds.filter { $0.arch == arch || $0.arch == "noarch" }
        var streamsOf: [String: Set<String>] = [:]
        for build in builds { streamsOf[build.name, default: []].insert(build.stream) }

        for request in enabled {
            guard let streams = streamsOf[request.name] else {
                throw PlanError(plugin: subject, kind: .failed, reasons: [unknownModule(request, known: streamsOf)])
            }
            guard streams.contains(request.stream) else {
                let choices = streams.sorted(by: Self.streamOrder).map { "\(request.name):\($0)" }.joined(separator: ", ")
                throw PlanError(
                    plugin: subject, kind: .failed,
                    reasons: [
                        "module stream \(request) is not in the enabled repos; \(request.name) has \(streams.count == 1 ? "stream" : "streams") \(choices): fix modules in plugin.toml"
                    ])
            }
        }

        // The first choice for each module wins: the plugin's, then the base's dnf state, then its installed
        // packages, then the default stream.
        var wanted: [(name: String, stream: String, origin: Origin)] = enabled.map { ($0.name, $0.stream, .plugin) }
        for (name, stream) in base.enabledStreams.sorted(by: { $0.key < $1.key }) { wanted.append((name, stream, .baseState)) }
        for (name, stream) in installedStreams(builds, installed: installed) { wanted.append((name, stream, .installed)) }
        for (name, stream) in defaults.sorted(by: { $0.key < $1.key }) where !base.disabledModules.contains(name) {
            wanted.append((name, stream, .defaultStream))
        }

        var chosen: [String: (stream: String, origin: Origin)] = [:]
        for want in wanted where chosen[want.name] == nil && streamsOf[want.name]?.contains(want.stream) == true {
            chosen[want.name] = (want.stream, want.origin)
        }

        // Settle each chosen stream on one context whose run-time module requirements hold (the newest such
        // build's), enabling a required module's stream when the requirement names just one.
        var active: [String: (stream: String, context: String, origin: Origin)] = [:]
        var queue = chosen.keys.sorted()
        var dropped = Set<String>()  // `name:stream` of chosen streams no build of which could be used
        while let name = queue.first {
            queue.removeFirst()
            guard let (stream, origin) = chosen[name], active[name] == nil, !dropped.contains("\(name):\(stream)") else { continue }
            let candidates = builds.filter { $0.name == name && $0.stream == stream }.sorted { $0.version > $1.version }
            var unmet: String?
            var settled: RepoModules.Stream?
            for build in candidates {
                let outcome = requirementsHold(build, chosen: &chosen, base: base, streamsOf: streamsOf, dropped: dropped)
                if case .failure(let reason) = outcome {
                    unmet = unmet ?? reason
                    continue
                }
                settled = build
                break
            }
            if let settled {
                active[name] = (stream, settled.context, origin)
                queue += chosen.compactMap { active[$0.key] == nil && !dropped.contains("\($0.key):\($0.value.stream)") ? $0.key : nil }.sorted()
            } else if origin == .plugin {
                throw PlanError(
                    plugin: subject, kind: .unsatisfiable,
                    reasons: [
                        "module stream \(name):\(stream) \(unmet ?? "has no build for \(arch)"); choose another stream in plugin.toml or build against a base image that meets it"
                    ])
            } else {
                dropped.insert("\(name):\(stream)")  // dnf leaves a default stream it cannot resolve inactive, too
                chosen[name] = nil
            }
        }

        var result = ActiveModules()
        for build in builds {
            let isActive = active[build.name].map { $0.stream == build.stream && $0.context == build.context } ?? false
            for artifact in build.artifacts {
                let nevra = ActiveModules.solvableNEVRA(artifact)
                if isActive {
                    result.included.insert(nevra)
                } else {
                    result.hiddenBy[nevra, default: []].insert(build.nameStream)
                }
            }
        }
        for nevra in result.included { result.hiddenBy[nevra] = nil }
        // Non-modular packages named like an active stream's binary packages are hidden too, unless the stream's
        // newest build says they left the module.
        for (name, choice) in active {
            let streamBuilds = builds.filter { $0.name == name && $0.stream == choice.stream && $0.context == choice.context }
            let demodularized = Set(streamBuilds.max { $0.version < $1.version }?.demodularized ?? [])
            for build in streamBuilds {
                for artifact in build.artifacts {
                    guard let parsed = ActiveModules.nameAndArch(artifact), parsed.arch != "src", parsed.arch != "nosrc",
                        !demodularized.contains(parsed.name)
                    else { continue }
                    result.shadowedNames.insert(parsed.name)
                }
            }
            result.streams[name] = choice.stream
        }
        return result
    }

    private enum Requirement {
        case success
        case failure(String)
    }

    /// Whether a build's run-time module requirements hold (any one `dependencies` block), enabling the stream
    /// of a required module that has none chosen when the requirement allows just one (or the default).
    private func requirementsHold(
        _ build: RepoModules.Stream, chosen: inout [String: (stream: String, origin: Origin)],
        base: BaseModuleState, streamsOf: [String: Set<String>], dropped: Set<String>
    ) -> Requirement {
        if build.requires.isEmpty { return .success }
        var firstReason: String?
        for block in build.requires {
            var additions: [String: String] = [:]
            var reason: String?
            for (module, streams) in block.sorted(by: { $0.key < $1.key }) {
                let allowed = streams.isEmpty ? "any stream" : streams.joined(separator: ", ")
                if module == "platform" {
                    guard let platform = base.platform else { continue }  // a base that does not say: not checked
                    if !Self.matches(platform, streams) {
                        reason = "needs platform \(allowed), but the base image is platform:\(platform)"
                        break
                    }
                    continue
                }
                if let current = chosen[module]?.stream ?? additions[module] {
                    if !Self.matches(current, streams) {
                        reason = "needs module \(module):\(allowed), but \(module):\(current) is enabled"
                        break
                    }
                    continue
                }
                let available = (streamsOf[module] ?? []).filter { Self.matches($0, streams) && !dropped.contains("\(module):\($0)") }
                if let preferred = defaults[module], available.contains(preferred), !base.disabledModules.contains(module) {
                    additions[module] = preferred
                } else if available.count == 1, let only = available.first {
                    additions[module] = only
                } else {
                    reason =
                        available.isEmpty
                        ? "needs module \(module):\(allowed), which the enabled repos do not have"
                        : "needs module \(module) (one of \(available.sorted(by: Self.streamOrder).joined(separator: ", "))): add the one to use to modules in plugin.toml"
                    break
                }
            }
            if let reason {
                firstReason = firstReason ?? reason
                continue
            }
            for (module, stream) in additions { chosen[module] = (stream, .dependency) }
            return .success
        }
        return .failure(firstReason ?? "has unmet module requirements")
    }

    /// Streams of modules whose packages the base has installed: a module with installed packages of one stream
    /// counts as having that stream enabled.
    private func installedStreams(_ builds: [RepoModules.Stream], installed: Set<String>) -> [(String, String)] {
        guard !installed.isEmpty else { return [] }
        var found: [String: Set<String>] = [:]
        for build in builds where build.artifacts.contains(where: { installed.contains(ActiveModules.solvableNEVRA($0)) }) {
            found[build.name, default: []].insert(build.stream)
        }
        return found.compactMap { name, streams in streams.count == 1 ? streams.first.map { (name, $0) } : nil }.sorted { $0.0 < $1.0 }
    }

    private func unknownModule(_ request: ModuleStreamName, known: [String: Set<String>]) -> String {
        if known.isEmpty {
            let searched = repos.isEmpty ? "none of the enabled repos has module metadata" : "the enabled repos have no module streams for this architecture"
            return
                "module \"\(request.name)\" (modules = [\"\(request)\"]) is not in the enabled repos: \(searched); enable the repo that has it with --enablerepo, or remove it from modules in plugin.toml"
        }
        return
            "module \"\(request.name)\" (modules = [\"\(request)\"]) is not in the enabled repos, which have modules \(known.keys.sorted().joined(separator: ", ")): fix modules in plugin.toml"
    }

    /// `streams` as modulemd writes them: empty is any stream, `-x` excludes x, anything else lists the allowed.
    static func matches(_ stream: String, _ streams: [String]) -> Bool {
        if streams.isEmpty { return true }
        let allowed = streams.filter { !$0.hasPrefix("-") }
        if !allowed.isEmpty { return allowed.contains(stream) }
        return !streams.contains("-" + stream)
    }

    /// Streams in a readable order: numerically where they are numbers (`3.8` before `3.10`).
    static func streamOrder(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: .numeric) == .orderedAscending
    }
}

/// The outcome of choosing module streams: what the solver may see.
struct ActiveModules: Sendable {
    /// Module → its active stream.
    var streams: [String: String] = [:]
    /// Packages of active streams (`name-[epoch:]version-release.arch`, as libsolv writes them).
    var included = Set<String>()
    /// Packages of streams that are not active → those streams (`name:stream`).
    var hiddenBy: [String: Set<String>] = [:]
    /// Binary package names of active streams: a non-modular package providing one is hidden.
    var shadowedNames = Set<String>()

    var filtersAnything: Bool { !hiddenBy.isEmpty || !shadowedNames.isEmpty }

    /// A modulemd artifact (`name-epoch:version-release.arch`, epoch always written) as libsolv names the
    /// package (`name-version-release.arch` for epoch 0).
    static func solvableNEVRA(_ artifact: String) -> String {
        guard let colon = artifact.firstIndex(of: ":") else { return artifact }
        let head = artifact[..<colon]
        guard head.hasSuffix("-0") else { return artifact }
        return String(head.dropLast()) + artifact[artifact.index(after: colon)...]
    }

    /// The name and arch of an artifact, nil when it is not `name-[epoch:]version-release.arch`.
    static func nameAndArch(_ artifact: String) -> (name: String, arch: String)? {
        guard let dot = artifact.lastIndex(of: ".") else { return nil }
        let nevr = artifact[..<dot]
        guard let releaseDash = nevr.lastIndex(of: "-") else { return nil }
        let nev = nevr[..<releaseDash]
        guard let versionDash = nev.lastIndex(of: "-") else { return nil }
        return (String(nev[..<versionDash]), String(artifact[artifact.index(after: dot)...]))
    }
}
