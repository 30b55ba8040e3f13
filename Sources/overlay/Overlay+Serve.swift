import ArgumentParser
import Fleet
import OverlayKit
import Serve
import SystemPackage

extension Overlay {
    struct ServeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve a directory to network-booting nodes over TFTP and HTTP, with per-MAC boot files from a fleet.",
            discussion: """
                Serves DIR read-only (nothing outside it, no symbolic links). With --fleet, the boot files of \
                overlay boot-config (boot.ipxe, ipxe/<mac>, pxelinux.cfg/..., grub.cfg...) are generated for each \
                request, and a MAC not in the fleet gets the default role or a message naming it.

                The fleet file is re-read on SIGHUP and when it changes (checked every second). A fleet that no \
                longer validates is not taken: the previous one keeps being served and one line says why. \
                SIGINT or SIGTERM stop the servers cleanly.

                Before it starts, serve runs the checks of overlay check that need no plugin directories on the \
                fleet: a path two overlays of a role ship differently (unless the role's wins settles it), a role's \
                initrds over max_initrd or max_unpacked, an overlay built for another base. A fleet that fails one is \
                refused (exit status 3), each failure on a line; --no-check serves it as written. A reloaded fleet \
                gets the same checks: one that fails them is not taken, each failure said on a line.

                The access log goes to standard output, one line per request or transfer (JSON lines with \
                --json-log); start-up, reload and shutdown messages go to standard error.

                With neither --http nor --tftp, both run: HTTP on 0.0.0.0:8080 and TFTP on 0.0.0.0:69 (port 69 \
                needs root or CAP_NET_BIND_SERVICE). With one of them, only that server runs. Each may be given \
                several times (one per interface or port): the server listens on every address given.

                With a fleet, GET /status.json and GET / (a page) show each node's last boot, its last report and \
                how it drifts from the fleet. With --state DIR, booted nodes POST their reports to /report (the boot \
                files name that URL as overlay.report=: --advertise URL, else for a boot file fetched over HTTP the \
                address the node used); each report is appended to DIR/reports.jsonl and read back at start.
                """)

        @Option(name: .customLong("dir"), help: ArgumentHelp("The directory to serve.", valueName: "DIR"), completion: .directory)
        var directory: String

        @Option(
            name: .customLong("fleet"), help: ArgumentHelp("The fleet file whose boot files to generate.", valueName: "FILE"),
            completion: .file(extensions: ["toml"]))
        var fleetFile: String?

        @Option(
            help: ArgumentHelp(
                "Where HTTP listens (default 0.0.0.0:8080 when --tftp is not given either); repeat to listen on several.",
                valueName: "ADDR:PORT"))
        var http: [String] = []

        @Option(
            help: ArgumentHelp(
                "Where TFTP listens (default 0.0.0.0:69 when --http is not given either); repeat to listen on several.",
                valueName: "ADDR:PORT"))
        var tftp: [String] = []

        @Flag(name: .customLong("json-log"), help: "Write the access log as JSON lines.")
        var jsonLog = false

        @Flag(name: .customLong("no-check"), help: "Serve the fleet even if its roles fail overlay check's collision, size or base checks.")
        var noCheck = false

        @Option(
            name: .customLong("state"),
            help: ArgumentHelp(
                "Take the reports booted nodes POST to /report and keep them in DIR/reports.jsonl (created if missing; needs --fleet).",
                valueName: "DIR"), completion: .directory)
        var state: String?

        @Option(
            help: ArgumentHelp(
                "The URL nodes reach this server at, named in every boot file as overlay.report=URL/report (default: for boot files fetched over HTTP, the address the node used; over TFTP, none).",
                valueName: "URL"))
        var advertise: String?

        @Option(
            name: .customLong("state-max"),
            help: ArgumentHelp("Rotate DIR/reports.jsonl to reports.jsonl.1 once it passes SIZE (default 16M).", valueName: "SIZE"))
        var stateMax: String?

        @OptionGroup var output: ConsoleOptions

        func validate() throws {
            if state != nil && fleetFile == nil { throw ValidationError("--state keeps node reports against a fleet; give --fleet FILE too.") }
            if advertise != nil && state == nil { throw ValidationError("--advertise says where nodes send reports, which needs --state DIR.") }
            if let stateMax {
                guard state != nil else { throw ValidationError("--state-max bounds the reports file of --state DIR; give --state too.") }
                guard let bytes = SizeLimits.parse(stateMax), bytes <= Int64(Int.max) else {
                    throw ValidationError("--state-max \(stateMax) is not a size: write bytes or 512K, 16M, 1G.")
                }
            }
        }

        func run() throws {
            try reportingErrors { try serve() }
        }

        private func serve() throws {
            let events = EventLog(level: output.console().level)
            if let fleetFile, !noCheck { try check(FilePath(fleetFile)) }
            let reports = try state.map { directory in
                FleetServer.Reports(
                    state: FilePath(directory), advertise: try advertise.map { try ReportAddress(advertise: $0) },
                    rotateBytes: stateMax.flatMap(SizeLimits.parse).map { Int($0) } ?? ReportLog.defaultRotateBytes)
            }
            let server = try FleetServer(
                directory: FilePath(directory), fleetFile: fleetFile.map { FilePath($0) }, http: http, tftp: tftp,
                log: AccessLog(.standardOutput, format: jsonLog ? .json : .plain), reports: reports,
                check: noCheck ? nil : { Self.checkResult(of: $0) }, report: events.report)
            try server.run()
        }
    }
}

extension Overlay.ServeCommand {
    /// Refuses a fleet whose roles fail the checks that need no plugin directories. A fleet that does not load is
    /// left to the server, which says why in its own words.
    private func check(_ file: FilePath) throws {
        guard let fleet = try? Fleet.load(file: file, servedDirectory: FilePath(directory), acceptingOtherBases: true) else { return }
        let result = Self.checkResult(of: fleet)
        for note in result.notes { printError("overlay serve: \(note)") }
        guard !result.failures.isEmpty else { return }
        for line in result.failures { printError("overlay serve: \(line)") }
        printError("overlay serve: not serving \(file): fix its roles (overlay check --fleet \(file) says more), or serve it as written with --no-check")
        throw ExitStatus.unsatisfiable
    }

    /// The checks of `overlay check` that need no plugin directories, on every role of `fleet`: a failure refuses the
    /// fleet, at start and on reload. An overlay the checks cannot read is only noted: it is the server's to report
    /// when a node asks for it.
    static func checkResult(of fleet: Fleet) -> FleetServer.CheckResult {
        let reader = RoleReader()
        var result = FleetServer.CheckResult()
        for role in fleet.roles {
            for outcome in reader.check(role, in: fleet, base: nil) where outcome.status == .failed || outcome.status == .error {
                let details = outcome.problems.isEmpty ? [outcome.summary] : outcome.problems.map(\.message)
                if outcome.status == .error {
                    result.notes += details.map { "role \(role.name) could not be checked (\(outcome.check.rawValue)): \($0)" }
                } else {
                    result.failures += details.map { "role \(role.name) fails check \(outcome.check.rawValue): \($0)" }
                }
            }
        }
        return result
    }
}

/// Start-up, reload and shutdown messages on standard error, one `write(2)` per line: none with --quiet but a
/// failed reload, and each listener with --verbose.
struct EventLog: Sendable {
    let level: Console.Level

    func report(_ event: FleetServer.Event) {
        switch event.importance {
        case .detail: guard level == .verbose else { return }
        case .normal: guard level >= .normal else { return }
        case .warning: break
        }
        let line = Array("overlay serve: \(event.description)\n".utf8)
        _ = try? line.withUnsafeBytes { try FileDescriptor.standardError.writeAll($0) }
    }
}
