import ArgumentParser
import OverlayKit
import Serve
import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

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

        @Option(name: .customLong("fleet"), help: ArgumentHelp("The fleet file whose boot files to generate.", valueName: "FILE"), completion: .file(extensions: ["toml"]))
        var fleetFile: String?

        @Option(help: ArgumentHelp("Where HTTP listens (default 0.0.0.0:8080 when --tftp is not given either); repeat to listen on several.",
                                   valueName: "ADDR:PORT"))
        var http: [String] = []

        @Option(help: ArgumentHelp("Where TFTP listens (default 0.0.0.0:69 when --http is not given either); repeat to listen on several.",
                                   valueName: "ADDR:PORT"))
        var tftp: [String] = []

        @Flag(name: .customLong("json-log"), help: "Write the access log as JSON lines.")
        var jsonLog = false

        @OptionGroup var output: ConsoleOptions

        func run() throws {
            try reportingErrors { try serve() }
        }

        private func serve() throws {
            // Block the signals before any server thread exists, so every thread inherits the mask and only
            // the sigtimedwait below receives them: no work happens in a signal handler.
            var signals = sigset_t()
            sigemptyset(&signals)
            for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            Self.raiseOpenFileLimit()

            let root = FilePath(directory)
            let events = EventLog(level: output.console().level)
            var catalog: FleetCatalog?
            var watched: FileSignature?
            if let fleetFile {
                let file = FilePath(fleetFile)
                watched = FileSignature(file)
                catalog = FleetCatalog(try Fleet.load(file: file, servedDirectory: root))
            }
            let log = AccessLog(.standardOutput, format: jsonLog ? .json : .plain)
            let (httpAddresses, tftpAddresses) = http.isEmpty && tftp.isEmpty ? (["0.0.0.0:8080"], ["0.0.0.0:69"]) : (http, tftp)
            let httpServers = try httpAddresses.map { address in
                (address, try Self.listen("HTTP", address) { try HTTPServer(root: root, bind: $0, catalog: catalog, log: log) })
            }
            let tftpServers = try tftpAddresses.map { address in
                (address, try Self.listen("TFTP", address) { try TFTPServer(root: root, bind: $0, catalog: catalog, log: log) })
            }
            for (address, server) in httpServers {
                try server.start()
                events.detail("HTTP listening on \(Self.host(address)):\(server.port)")
            }
            for (address, server) in tftpServers {
                try server.start()
                events.detail("TFTP listening on \(Self.host(address)):\(server.port)")
            }

            var listeners: [String] = []
            if !httpServers.isEmpty {
                listeners.append("HTTP on " + httpServers.map { "\(Self.host($0.0)):\($0.1.port)" }.joined(separator: ", "))
            }
            if !tftpServers.isEmpty {
                listeners.append("TFTP on " + tftpServers.map { "\(Self.host($0.0)):\($0.1.port)" }.joined(separator: ", "))
            }
            events.say(
                "serving \(directory) over \(listeners.joined(separator: " and "))"
                    + (catalog.map { "; " + Self.summary($0.fleet) } ?? "; no fleet, files only"))

            var pending = watched
            var timeout = timespec(tv_sec: 1, tv_nsec: 0)
            loop: while true {
                let received = sigtimedwait(&signals, nil, &timeout)
                switch received {
                case SIGINT, SIGTERM:
                    events.say("stopping on \(received == SIGINT ? "SIGINT" : "SIGTERM")")
                    break loop
                case SIGHUP:
                    if let catalog, let fleetFile {
                        watched = FileSignature(FilePath(fleetFile))
                        pending = watched
                        reload(catalog, file: fleetFile, root: root, reason: "SIGHUP", events: events)
                    }
                default:
                    // A timeout (or EINTR): look at the fleet file. Reload once it changed and then stayed the same
                    // for a whole second, so that an editor's half-written file is not taken for the new fleet.
                    guard let catalog, let fleetFile else { continue }
                    let now = FileSignature(FilePath(fleetFile))
                    if now != watched && now == pending {
                        watched = now
                        reload(catalog, file: fleetFile, root: root, reason: "\(fleetFile) changed", events: events)
                    }
                    pending = now
                }
            }
            for (_, server) in httpServers { server.stop() }
            for (_, server) in tftpServers { server.stop() }
            events.say("stopped")
        }

        private func reload(_ catalog: FleetCatalog, file: String, root: FilePath, reason: String, events: EventLog) {
            do {
                let fleet = try Fleet.load(file: FilePath(file), servedDirectory: root)
                catalog.replace(fleet)
                events.say("reloaded the fleet (\(reason)): \(Self.summary(fleet))")
            } catch {
                events.warn("reload (\(reason)) failed, still serving the previous fleet: \(error)")
            }
        }

        private static func listen<Server>(_ name: String, _ address: String, _ make: (String) throws -> Server) throws -> Server {
            do {
                return try make(address)
            } catch ServeError.socket(_, let reason) where reason.errno == .permissionDenied {
                throw PrivilegedPort(
                    description:
                        "cannot listen for \(name) on \(address): \(reason.errno.posixDescription); ports below 1024 need root or CAP_NET_BIND_SERVICE, or choose another port with --\(name.lowercased()) ADDR:PORT."
                )
            }
        }

        private static func host(_ address: String) -> String {
            guard let colon = address.lastIndex(of: ":") else { return address }
            return String(address[..<colon])
        }

        static func summary(_ fleet: Fleet) -> String {
            let fallback = fleet.defaultRole.map { "unknown MACs boot role \($0)" } ?? "unknown MACs are refused"
            return "fleet \(fleet.file): \(counted(fleet.nodes.count, "node")), \(counted(fleet.roles.count, "role")), \(fallback)"
        }
    }
}

/// A port below 1024 without the privilege to bind it.
struct PrivilegedPort: Error, CustomStringConvertible {
    let description: String
}



/// The serve catalog backed by the current fleet; a reload swaps the fleet under the lock and requests already
/// answered keep what they got.
final class FleetCatalog: ServeCatalog {
    private let current: Locked<Fleet>

    init(_ fleet: Fleet) { current = Locked(fleet) }

    var fleet: Fleet { current.withLock { $0 } }

    func replace(_ fleet: Fleet) { current.withLock { $0 = fleet } }

    func generatedDocument(path: String) -> GeneratedDocument? {
        fleet.document(at: path).map { GeneratedDocument(body: Array($0.body.utf8), contentType: $0.contentType) }
    }

    func knownDigest(path: String) -> String? { fleet.digest(of: path) }
}

/// What identifies one version of a file without reading it: device, inode, size, modification and change times.
/// A rename over the file (how editors save) changes the inode; an in-place write changes the times.
struct FileSignature: Equatable {
    let values: [Int]

    init?(_ path: FilePath) {
        var status = stat()
        guard path.withPlatformString({ stat($0, &status) }) == 0 else { return nil }
        values = [
            Int(status.st_dev), Int(status.st_ino), Int(status.st_size), Int(status.st_mtim.tv_sec), Int(status.st_mtim.tv_nsec),
            Int(status.st_ctim.tv_sec), Int(status.st_ctim.tv_nsec),
        ]
    }
}

/// Start-up, reload and shutdown messages on standard error, one `write(2)` per line: none with --quiet but a
/// failed reload, and each listener with --verbose.
struct EventLog {
    let level: Console.Level

    func say(_ message: String) {
        if level >= .normal { write(message) }
    }

    func detail(_ message: String) {
        if level == .verbose { write(message) }
    }

    func warn(_ message: String) { write(message) }

    private func write(_ message: String) {
        let line = Array("overlay serve: \(message)\n".utf8)
        _ = try? line.withUnsafeBytes { try FileDescriptor.standardError.writeAll($0) }
    }
}

extension Overlay.ServeCommand {
    /// A boot storm holds a descriptor per connection and transfer: lift the soft limit to the hard one
    /// (1024 by default, which a thousand clients exceed), as nginx's worker_rlimit_nofile does.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
