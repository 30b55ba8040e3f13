import ArgumentParser
import Fleet
import Formats
import Foundation
import OverlayKit
import Posix
import SystemPackage

extension Overlay {
    struct LabMatrix: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "matrix",
            abstract: "Build, check and boot every combination of some plugins on one base.",
            discussion: """
                Every combination of the --plugin given, up to --max-size plugins (default: all of them), is a role \
                of a fleet the lab writes into its cache (--cache). Each plugin is built there against the base, \
                unless an overlay of its version built for this base is there already; each combination is checked \
                as `overlay check` does (one solve, collisions, sizes); each that passes is booted in QEMU, up to \
                --jobs at a time, and must report exactly its plugins.

                --base is a base directory as `overlay base create --out` or `overlay base import --out` write it: \
                base.json, the kernel and the initrd it names (and squashfs.img for an imported live ISO).

                Prints a table, one row per combination, with the reason of each failure; --junit FILE writes the \
                same as JUnit XML (one test case per combination) for CI systems.

                Exit status: 0 every combination passes, 3 one does not, 1 the lab could not run.
                """)

        @Option(help: ArgumentHelp("The base directory (base.json, kernel, initrd).", valueName: "dir"), completion: .directory)
        var base: String

        @Option(name: .customLong("plugin"), help: ArgumentHelp("A plugin directory or bundle; repeat for each.", valueName: "path"), completion: .file())
        var plugins: [String] = []

        @Option(name: .customLong("max-size"), help: ArgumentHelp("The most plugins in one combination (default: all).", valueName: "count"))
        var maxSize: Int?

        @Option(help: ArgumentHelp("Nodes booted at the same time.", valueName: "count"))
        var jobs = 2

        @Option(help: ArgumentHelp("Where overlays are built and the lab's fleet is written (default: ~/.cache/overlay/lab).", valueName: "dir"))
        var cache: String?

        @Option(help: ArgumentHelp("The nodes' kernel command line.", valueName: "text"))
        var cmdline = "console=ttyS0 overlay.poweroff"

        @Option(name: .customLong("enablerepo"), help: ArgumentHelp("Passed to build and check, as there.", valueName: "id,glob"))
        var enabledRepos: [String] = []

        @Option(name: .customLong("disablerepo"), help: ArgumentHelp("Passed to build and check, as there.", valueName: "id,glob"))
        var disabledRepos: [String] = []

        @Flag(name: .customLong("nogpgcheck"), help: "Passed to build and check, as there.")
        var noGPGCheck = false

        @OptionGroup var machine: LabMachineOptions

        @Option(help: ArgumentHelp("Also write the results as JUnit XML to this file.", valueName: "file"))
        var junit: String?

        @Flag(help: "Print the results as JSON.")
        var json = false

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            if plugins.isEmpty { throw ValidationError("Give the plugins to combine with --plugin PATH (at least one).") }
            if let maxSize, maxSize < 1 { throw ValidationError("--max-size must be at least 1.") }
            if jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
        }

        private var repoArguments: [String] {
            enabledRepos.flatMap { ["--enablerepo", $0] } + disabledRepos.flatMap { ["--disablerepo", $0] } + (noGPGCheck ? ["--nogpgcheck"] : [])
        }

        /// The repo options for building one plugin: `--enablerepo` only for the repos that plugin has (build refuses
        /// to enable a repo its plugin does not define; check solves them all and takes every one).
        private func buildRepoArguments(for plugin: Plugin) -> [String] {
            let ids = plugin.repos.map(\.id)
            func own(_ options: [String]) -> [String] {
                options.flatMap { $0.split(separator: ",").map(String.init) }.filter { pattern in ids.contains { fnmatch(pattern, $0, 0) == 0 } }
            }
            let (enabled, disabled) = (own(enabledRepos), own(disabledRepos))
            return (enabled.isEmpty ? [] : ["--enablerepo", enabled.joined(separator: ",")])
                + (disabled.isEmpty ? [] : ["--disablerepo", disabled.joined(separator: ",")]) + (noGPGCheck ? ["--nogpgcheck"] : [])
        }

        func run() throws {
            let console = output.console()
            defer { console.progress.stop() }
            try reportingErrors(console) {
                let started = ContinuousClock.now
                let baseDirectory = FilePath(base)
                let manifest = try Self.baseManifest(in: baseDirectory)
                if let missing = LabMachine.missingParts(for: machine.uefi ? .uefi : .bios) { throw LabError.missingTool(missing) }
                let loaded = try PluginLoader.load(plugins, arch: HostArchitecture.current)
                defer { loaded.cleanUp() }
                let names = loaded.plugins.map(\.name)
                if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
                    throw LabError.input("plugin \"\(twice)\" is given twice")
                }
                let cache = FilePath(self.cache ?? Self.defaultCache(identity: manifest.identity))
                let served = cache
                try Self.prepare(served, base: baseDirectory, manifest: manifest)
                let buildBase = Self.buildBase(baseDirectory, manifest: manifest)

                // Build what is missing.
                var phases = MatrixReport.Phases()
                var phaseStart = ContinuousClock.now
                var buildFailures: [String: String] = [:]
                for (plugin, path) in zip(loaded.plugins, plugins) {
                    let overlayManifest = served.appending("\(plugin.name)-\(plugin.manifest.version).json")
                    if let data = FileManager.default.contents(atPath: overlayManifest.string),
                        let built = try? JSONDecoder().decode(OverlayManifest.self, from: data), built.base == manifest.identity
                    {
                        console.detail("\(plugin.name) \(plugin.manifest.version): built for this base already")
                        continue
                    }
                    console.progress.update(step: "building", "building \(plugin.name) \(plugin.manifest.version)")
                    let result = Self.runSelf(
                        ["build", "--base", buildBase.string, "--plugin", path, "--out", served.string, "--quiet"] + buildRepoArguments(for: plugin))
                    if result.status != 0 {
                        buildFailures[plugin.name] =
                            "does not build: " + (result.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)")
                    }
                }
                console.progress.finish()
                phases.build = Self.seconds(since: phaseStart)
                phaseStart = ContinuousClock.now

                // The combinations, each a role of the lab's fleet.
                let limit = min(maxSize ?? loaded.plugins.count, loaded.plugins.count)
                let combinations = Self.combinations(of: loaded.plugins.map { ($0.name, $0.manifest.version) }, upTo: limit)
                var rows = combinations.map { MatrixRow(plugins: $0.map(\.0)) }
                for index in rows.indices {
                    if let broken = rows[index].plugins.first(where: { buildFailures[$0] != nil }) {
                        rows[index].fail(.check, "\(broken) \(buildFailures[broken] ?? "")")
                    }
                }
                let buildable = rows.indices.filter { rows[$0].failure == nil }
                let fleetFile = served.appending("lab-fleet.toml")
                // Combination `index` is booted as lab node `number + 1`.
                let nodes = Dictionary(uniqueKeysWithValues: buildable.enumerated().map { number, index in (index, MACAddress.lab(number + 1)) })
                try AtomicFile.write(
                    Array(
                        Self.fleetText(
                            kernel: manifest.kernel ?? "vmlinuz", initrd: manifest.file, cmdline: cmdline,
                            roles: buildable.enumerated().map { number, index in
                                (rows[index].name, combinations[index].map { "\($0.0)@\($0.1)" }, MACAddress.lab(number + 1))
                            }
                        ).utf8), to: fleetFile)

                // Check each combination as `overlay check` does.
                if !buildable.isEmpty {
                    console.progress.update(step: "checking", "checking \(counted(buildable.count, "combination"))")
                    var arguments = ["--fleet", fleetFile.string, "--dir", served.string, "--base", buildBase.string, "--quiet"]
                    for (plugin, path) in zip(loaded.plugins, plugins) where buildFailures[plugin.name] == nil { arguments += ["--plugin", path] }
                    let check = try Overlay.Check.parse(arguments + repoArguments)
                    let report = try check.makeReport(console: Console(.quiet))
                    for index in buildable {
                        guard let role = report.roles.first(where: { $0.role == rows[index].name }) else { continue }
                        if let failed = role.checks.first(where: { $0.status == .failed || $0.status == .error }) {
                            let detail = failed.problems.first.map { ": \($0.message)" } ?? ""
                            rows[index].fail(.check, "\(failed.check.rawValue): \(failed.summary)\(detail)")
                        } else {
                            rows[index].checked = true
                        }
                    }
                    console.progress.finish()
                }

                phases.check = Self.seconds(since: phaseStart)
                phaseStart = ContinuousClock.now

                // Boot each combination that passed, up to --jobs at a time.
                let bootable = rows.indices.filter { rows[$0].checked }
                if !bootable.isEmpty {
                    let scratch = try LabScratch()
                    defer { scratch.remove() }
                    let server = try LabServer(directory: served.string, fleet: fleetFile.string, scratch: scratch.path)
                    defer { server.stop() }
                    console.progress.update(step: "booting", "booting \(counted(bootable.count, "combination")), \(jobs) at a time")
                    let results = Locked([Int: Result<(LabMachine, LabMachine.Outcome), LabError>]())
                    let queue = Locked(bootable)
                    let (httpPort, tftpPort) = (server.httpPort, server.tftpPort)
                    let bootNext: @Sendable () -> Void = { [machine, nodes, scratch] in
                        while let index = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                            guard let mac = nodes[index] else { continue }
                            let labMachine = machine.machine(mac: mac, httpPort: httpPort, tftpPort: tftpPort)
                            let result = Result { () throws(LabError) in (labMachine, try labMachine.boot(scratch: scratch.path)) }
                            results.withLock { $0[index] = result }
                        }
                    }
                    // Each worker boots one node after another; this thread is the last of them.
                    func work(_ more: Int) throws {
                        guard more > 0 else { return bootNext() }
                        let worker = try PosixThread(name: "lab node \(more)", bootNext)
                        try work(more - 1)
                        try worker.join()
                    }
                    try work(min(jobs, bootable.count) - 1)
                    console.progress.finish()
                    let outcomes = results.withLock { $0 }
                    let received = server.receivedReports()
                    for index in bootable {
                        switch outcomes[index] {
                        case .success(let (labMachine, outcome)):
                            let verdict = LabVerdict(
                                machine: labMachine, role: rows[index].name,
                                expected: combinations[index].map { NodeReport.Plugin(name: $0.0, version: $0.1) }, outcome: outcome, fetches: [],
                                received: received,
                                timeout: machine.timeout)
                            rows[index].seconds = verdict.secondsToReady ?? outcome.seconds
                            rows[index].accelerator = verdict.accelerator
                            if let problem = verdict.problems.first { rows[index].fail(.boot, problem) } else { rows[index].booted = true }
                        case .failure(let error):
                            rows[index].fail(.boot, error.description)
                        case nil:
                            rows[index].fail(.boot, "not booted")
                        }
                    }
                }

                phases.boot = Self.seconds(since: phaseStart)
                let matrix = MatrixReport(base: base, rows: rows, seconds: Self.seconds(since: started), phases: phases)
                if let junit { try AtomicFile.write(Array(matrix.junit.utf8), to: FilePath(junit)) }
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(matrix), as: UTF8.self))
                } else {
                    print(matrix.text, terminator: "")
                }
                if !matrix.pass { throw ExitStatus.unsatisfiable }
            }
        }

        static func seconds(since start: ContinuousClock.Instant) -> Double {
            (ContinuousClock.now - start).inSeconds
        }

        /// Every combination of `items` of 1 to `limit` items, smaller ones first, each in the given order.
        static func combinations<T>(of items: [T], upTo limit: Int) -> [[T]] {
            var result: [[T]] = []
            for size in 1...max(1, limit) {
                func extend(_ chosen: [Int], from start: Int) {
                    if chosen.count == size {
                        result.append(chosen.map { items[$0] })
                        return
                    }
                    guard start < items.count else { return }
                    for next in start..<items.count { extend(chosen + [next], from: next + 1) }
                }
                extend([], from: 0)
            }
            return result
        }

        static func baseManifest(in directory: FilePath) throws -> BaseManifest {
            let path = directory.appending("base.json")
            guard let data = FileManager.default.contents(atPath: path.string) else {
                throw LabError.input(
                    "\(directory) has no base.json: give the directory that overlay base create --out or overlay base import --out wrote")
            }
            do { return try JSONDecoder().decode(BaseManifest.self, from: data) } catch {
                throw LabError.input("\(path) is not a base manifest: \(ErrorText.describe(error))")
            }
        }

        /// What the plugins are built against: an imported live ISO's root file system, else the base initrd.
        static func buildBase(_ directory: FilePath, manifest: BaseManifest) -> FilePath {
            let squashfs = directory.appending("squashfs.img")
            return FileManager.default.fileExists(atPath: squashfs.string) ? squashfs : directory.appending(manifest.file)
        }

        static func defaultCache(identity: String) -> String {
            let environment = ProcessInfo.processInfo.environment
            let root = environment["XDG_CACHE_HOME"] ?? ((environment["HOME"] ?? "/root") + "/.cache")
            let digest = identity.split(separator: ":").last.map { String($0.prefix(12)) } ?? "base"
            return "\(root)/overlay/lab/\(digest)"
        }

        /// The cache serves the base as well: its manifest, kernel and initrd are linked (or copied) in.
        static func prepare(_ cache: FilePath, base: FilePath, manifest: BaseManifest) throws {
            try FileManager.default.createDirectory(atPath: cache.string, withIntermediateDirectories: true)
            for name in ["base.json", manifest.file, manifest.kernel ?? "vmlinuz"] {
                let source = base.appending(name).string
                let target = cache.appending(name).string
                let same = FileManager.default.contentsEqual(atPath: source, andPath: target)
                if same { continue }
                try? FileManager.default.removeItem(atPath: target)
                if link(source, target) != 0 {
                    do { try FileManager.default.copyItem(atPath: source, toPath: target) } catch {
                        throw LabError.input("cannot put \(source) into the lab cache \(cache): \(ErrorText.describe(error))")
                    }
                }
            }
        }

        static func fleetText(kernel: String, initrd: String, cmdline: String, roles: [(name: String, plugins: [String], mac: MACAddress)]) -> String {
            var lines = [
                "# Written by overlay lab matrix: one role per combination of plugins, one node per role.", "[base]",
                "kernel = \"\(kernel)\"", "initrd = [\"\(initrd)\"]", "cmdline = \"\(cmdline)\"",
            ]
            for role in roles {
                lines += ["", "[roles.\"\(role.name)\"]", "plugins = [" + role.plugins.map { "\"\($0)\"" }.joined(separator: ", ") + "]"]
            }
            for role in roles { lines += ["", "[[nodes]]", "mac = \"\(role.mac)\"", "role = \"\(role.name)\""] }
            return lines.joined(separator: "\n") + "\n"
        }

        /// This program run with `arguments`: its status and standard error.
        static func runSelf(_ arguments: [String]) -> (status: Int32, stderr: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: LabServer.ownExecutable)
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            do { try process.run() } catch { return (127, ErrorText.describe(error)) }
            let text = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: text, as: UTF8.self))
        }
    }
}

/// One combination's row of the matrix.
struct MatrixRow: Encodable {
    enum Stage: String, Encodable {
        case check, boot
    }

    var plugins: [String]
    var checked = false
    var booted = false
    var seconds: Double?
    var accelerator: String?
    var failedAt: Stage?
    var failure: String?

    init(plugins: [String]) { self.plugins = plugins }

    /// The combination's role name: its plugins joined by `+`.
    var name: String { plugins.joined(separator: "+") }
    var pass: Bool { booted && failure == nil }

    mutating func fail(_ stage: Stage, _ reason: String) {
        failedAt = stage
        failure = reason
    }

    enum CodingKeys: String, CodingKey { case name, plugins, check, boot, seconds, accelerator, pass, failedAt, failure }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(plugins, forKey: .plugins)
        try container.encode(checked ? "ok" : failedAt == .check ? "failed" : "skipped", forKey: .check)
        try container.encode(booted ? "ok" : failedAt == .boot ? "failed" : "skipped", forKey: .boot)
        try container.encodeIfPresent(seconds, forKey: .seconds)
        try container.encodeIfPresent(accelerator, forKey: .accelerator)
        try container.encode(pass, forKey: .pass)
        try container.encodeIfPresent(failedAt, forKey: .failedAt)
        try container.encodeIfPresent(failure, forKey: .failure)
    }
}

/// What `overlay lab matrix` prints and writes.
struct MatrixReport: Encodable {
    var base: String
    var rows: [MatrixRow]
    var seconds: Double
    /// Wall time of each phase: building the overlays, checking the combinations, booting them.
    var phases: Phases
    var pass: Bool { rows.allSatisfy(\.pass) }

    struct Phases: Encodable {
        var build = 0.0
        var check = 0.0
        var boot = 0.0
    }

    enum CodingKeys: String, CodingKey { case base, combinations, pass, seconds, phases }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(base, forKey: .base)
        try container.encode(rows, forKey: .combinations)
        try container.encode(pass, forKey: .pass)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(phases, forKey: .phases)
    }

    var text: String {
        let width = max(11, rows.map(\.name.count).max() ?? 0)
        func padded(_ text: String, _ count: Int) -> String { text + String(repeating: " ", count: max(0, count - text.count)) }
        var lines = [padded("combination", width) + "  check  boot   ready   reason"]
        for row in rows {
            let check = row.checked ? "ok" : row.failedAt == .check ? "FAIL" : "-"
            let boot = row.booted ? "ok" : row.failedAt == .boot ? "FAIL" : "-"
            let ready = row.seconds.map { String(format: "%.1f s", $0) } ?? "-"
            lines.append(padded(row.name, width) + "  " + padded(check, 5) + "  " + padded(boot, 5) + "  " + padded(ready, 6) + "  " + (row.failure ?? ""))
        }
        let passed = rows.filter(\.pass).count
        lines.append(
            "\(passed) of \(counted(rows.count, "combination")) pass"
                + (pass ? "" : "; \(rows.count - passed) fail")
                + String(format: " (%.0f s: build %.0f s, check %.0f s, boot %.0f s)", seconds, phases.build, phases.check, phases.boot))
        return lines.map { $0 + "\n" }.joined()
    }

    /// JUnit XML: one test suite, one test case per combination, a failure with the reason.
    var junit: String {
        let escaped = markupEscaped
        let failures = rows.filter { !$0.pass }.count
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<testsuites tests=\"\(rows.count)\" failures=\"\(failures)\" time=\"\(String(format: "%.1f", seconds))\">",
            "  <testsuite name=\"overlay lab matrix\" tests=\"\(rows.count)\" failures=\"\(failures)\" time=\"\(String(format: "%.1f", seconds))\">",
        ]
        for row in rows {
            let time = String(format: "%.1f", row.seconds ?? 0)
            let open = "    <testcase classname=\"lab.matrix\" name=\"\(escaped(row.name))\" time=\"\(time)\""
            if row.pass {
                lines.append(open + "/>")
            } else {
                let stage = row.failedAt?.rawValue ?? "boot"
                let reason = row.failure ?? "failed"
                lines += [
                    open + ">", "      <failure type=\"\(stage)\" message=\"\(escaped(reason))\">\(escaped(stage + ": " + reason))</failure>",
                    "    </testcase>",
                ]
            }
        }
        lines += ["  </testsuite>", "</testsuites>"]
        return lines.joined(separator: "\n") + "\n"
    }
}
