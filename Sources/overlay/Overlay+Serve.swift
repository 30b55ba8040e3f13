import ArgumentParser
import Fleet
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

                The access log goes to standard output, one line per request or transfer (JSON lines with \
                --json-log); start-up, reload and shutdown messages go to standard error.

                With neither --http nor --tftp, both run: HTTP on 0.0.0.0:8080 and TFTP on 0.0.0.0:69 (port 69 \
                needs root or CAP_NET_BIND_SERVICE). With one of them, only that server runs. Each may be given \
                several times (one per interface or port): the server listens on every address given.
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

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            try reportingErrors { try serve() }
        }

        private func serve() throws {
            let events = EventLog(level: output.console().level)
            let server = try FleetServer(
                directory: FilePath(directory), fleetFile: fleetFile.map { FilePath($0) }, http: http, tftp: tftp,
                log: AccessLog(.standardOutput, format: jsonLog ? .json : .plain), report: events.report)
            try server.run()
        }
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
