import ArgumentParser
import Foundation
import OverlayKit
import Posix
import SystemPackage
import Formats
import Fleet

extension Overlay {
    /// `overlay fleet …`: what a fleet hands its nodes.
    struct FleetCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fleet", abstract: "Look at a fleet: what each role and node boots, and what a server says they booted.",
            subcommands: [Show.self, Status.self])
    }
}

extension Overlay.FleetCommand {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what each role and listed node of a fleet boots.",
            discussion: """
                Reads FILE against DIR as `overlay serve` does and prints, per role: the kernel and the initrds in \
                the order a node loads them (base, overlays, layers, the role's rpmdb) with their size and sha256 \
                and what each one is, the command line, and the nodes that have the role; per listed node: its \
                role, its command line and the boot files it is handed (iPXE, PXELINUX, GRUB); and which role a MAC \
                not listed boots. --role or --mac narrows it to one; with --mac the node's iPXE script is printed \
                too. The same with --json, boot file contents included.
                """)

        @Option(name: .customLong("fleet"), help: ArgumentHelp("The fleet file.", valueName: "FILE"), completion: .file(extensions: ["toml"]))
        var fleetFile: String

        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp("The served directory (default: the fleet file's directory).", valueName: "DIR"),
            completion: .directory)
        var directory: String?

        @Option(help: ArgumentHelp("Only this role.", valueName: "NAME"))
        var role: String?

        @Option(help: ArgumentHelp("Only the node with this MAC address (listed or not: an unlisted one gets the default role).", valueName: "MAC"))
        var mac: String?

        @Flag(help: "Print it as JSON.")
        var json = false

        @OptionGroup var verbosity: ConsoleOptions

        func validate() throws {
            if role != nil && mac != nil { throw ValidationError("--role and --mac each narrow the view; give one of them.") }
        }

        func run() throws {
            let console = verbosity.console()
            try reportingErrors(console) {
                let file = FilePath(fleetFile)
                let served = FleetPlugins.servedDirectory(fleet: file, dir: directory)
                let fleet = try Fleet.load(file: file, servedDirectory: served)
                for note in fleet.notes { console.note("overlay: \(note)") }
                let view = try FleetView(fleet: fleet, file: fleetFile, served: served, role: role, mac: mac)
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(view), as: UTF8.self))
                } else {
                    print(view.text(), terminator: "")
                }
            }
        }
    }
}

extension Overlay.FleetCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what each node of a served fleet booted and reported, and how it drifts from the fleet.",
            discussion: """
                Fetches URL/status.json from an overlay serve --fleet and prints one line per node: its role, when it \
                was last seen, what it fetched in its last boot, the plugins it last reported, and each way it \
                drifts from the fleet (unknown MAC, wrong role, stale overlay, missing overlay, unexpected plugin, \
                never reported, mismatch), then a summary. --json prints the server's JSON as it came.

                Exit status: 0 no node drifts, 3 some node drifts, 1 the server cannot be reached or did not answer \
                with a fleet status.
                """)

        @Option(help: ArgumentHelp("The overlay serve to ask, as nodes or a browser reach it.", valueName: "URL"))
        var server: String

        @Option(help: ArgumentHelp("Seconds to wait for the server before giving up.", valueName: "SECONDS"))
        var timeout = 10

        @Flag(help: "Print the server's JSON.")
        var json = false

        @OptionGroup var verbosity: ConsoleOptions

        func validate() throws {
            let lower = server.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                throw ValidationError(
                    "--server \(server) is not an http:// or https:// URL; write where overlay serve listens, for example http://10.0.0.1:8080.")
            }
            guard timeout > 0 else { throw ValidationError("--timeout must be at least 1 second.") }
        }

        /// URL/status.json, unless the URL names it already.
        var statusURL: String {
            if server.hasSuffix("/status.json") { return server }
            return (server.hasSuffix("/") ? String(server.dropLast()) : server) + "/status.json"
        }

        func run() throws {
            try reportingErrors(verbosity.console()) {
                let body: Data
                do throws(RepoError) {
                    body = try HTTPDownload.get(statusURL, silence: timeout)
                } catch {
                    throw FleetStatusError.unreachable(url: statusURL, reason: error)
                }
                let status: FleetStatus
                do {
                    status = try JSONDecoder().decode(FleetStatus.self, from: body)
                } catch {
                    throw FleetStatusError.notAStatus(url: statusURL)
                }
                if json {
                    print(String(decoding: body, as: UTF8.self), terminator: body.last == UInt8(ascii: "\n") ? "" : "\n")
                } else {
                    print(FleetStatusTable(status, server: server).text(), terminator: "")
                }
                if status.driftNodes > 0 { throw ExitStatus.drift }
            }
        }
    }
}

enum FleetStatusError: UserError {
    case unreachable(url: String, reason: RepoError)
    case notAStatus(url: String)

    var description: String {
        switch self {
        case .unreachable(let url, .noAnswer(_, let seconds)):
            "\(url) did not answer within \(seconds) s; check --server, or raise --timeout"
        case .unreachable(let url, .download(_, let reason)):
            "cannot get \(url): \(reason); check --server and that overlay serve --fleet runs there"
        case .unreachable(let url, let other):
            "cannot get \(url): \(other)"
        case .notAStatus(let url):
            "\(url) is not a fleet status; point --server at an overlay serve --fleet"
        }
    }
}

/// What `overlay fleet show` prints.
struct FleetView: Encodable {
    struct Item: Encodable {
        var path: String
        var size: Int64
        var sha256: String
        /// `kernel`, `base`, `overlay`, `layer` or `rpmdb`.
        var kind: String
        /// `name version` of the plugin, for overlays and layers.
        var plugin: String?
    }

    struct Role: Encodable {
        var name: String
        var kernel: Item
        var initrds: [Item]
        var cmdline: String
        var nodes: [String]
    }

    struct Node: Encodable {
        var mac: String
        var role: String
        var listed: Bool
        var cmdline: String
        /// Boot file path → content.
        var bootFiles: [String: String]
    }

    var fleet: String
    var directory: String
    var defaultRole: String?
    var roles: [Role]
    var nodes: [Node]

    init(fleet: Fleet, file: String, served: FilePath, role: String?, mac: String?) throws {
        self.fleet = file
        directory = served.string
        defaultRole = fleet.defaultRole
        var digests: [String: Item] = [:]
        func item(_ path: String, kind: String, plugin: String? = nil) throws -> Item {
            if let known = digests[path] { return known }
            let full = served.appending(path)
            let size = (try? FileManager.default.attributesOfItem(atPath: full.string)[.size] as? Int64) ?? 0
            let sha256 = try fleet.digest(of: path) ?? SHA256Digest.file(full)
            let made = Item(path: path, size: size, sha256: sha256, kind: kind, plugin: plugin)
            digests[path] = made
            return made
        }
        func items(_ boot: Fleet.Boot, overlays: [ServedOverlay]) throws -> [Item] {
            try boot.initrds.map { path in
                if let overlay = overlays.first(where: { $0.path == path }) {
                    return try item(
                        path, kind: boot.layerNames[path] == nil ? "overlay" : "layer", plugin: "\(overlay.manifest.name) \(overlay.manifest.version)")
                }
                return try item(path, kind: path.hasPrefix(fleet.roleDatabaseDirectory + "/") ? "rpmdb" : "base")
            }
        }

        var wantedRoles = fleet.roles
        var shownNodes = fleet.nodes.map { (node: $0, listed: true) }
        if let role {
            wantedRoles = fleet.roles.filter { $0.name == role }
            guard !wantedRoles.isEmpty else { throw FleetViewError.unknownRole(role, file: file, known: fleet.roles.map(\.name)) }
            shownNodes = shownNodes.filter { $0.node.role == role }
        }
        if let mac {
            guard let address = MACAddress(mac) else { throw FleetViewError.badMAC(mac) }
            if let node = fleet.node(address) {
                shownNodes = [(node, true)]
            } else if let fallback = fleet.defaultRole, let roleBoot = fleet.roles.first(where: { $0.name == fallback }) {
                shownNodes = [(Fleet.Node(mac: address, role: fallback, boot: roleBoot.boot), false)]
            } else {
                throw FleetViewError.unknownMAC(address.description, file: file)
            }
            wantedRoles = fleet.roles.filter { $0.name == shownNodes[0].node.role }
        }
        roles = try wantedRoles.map { role in
            Role(
                name: role.name, kernel: try item(role.boot.kernel, kind: "kernel"), initrds: try items(role.boot, overlays: role.overlays),
                cmdline: role.boot.cmdline, nodes: fleet.nodes.filter { $0.role == role.name }.map(\.mac.description))
        }
        nodes = shownNodes.map { node, listed in
            let hyphenated = node.mac.hyphenated
            var files: [String: String] = [:]
            // PXELINUX and GRUB fall back to their default files by themselves for a MAC not listed.
            let paths =
                listed
                ? ["ipxe/\(hyphenated)", "pxelinux.cfg/01-\(hyphenated)", "grub.cfg-01-\(hyphenated)"]
                : ["ipxe/\(hyphenated)", "pxelinux.cfg/default", "grub.cfg"]
            for path in paths {
                if let document = fleet.document(at: path) { files[path] = document.body }
            }
            return Node(mac: node.mac.description, role: node.role, listed: listed, cmdline: node.boot.cmdline, bootFiles: files)
        }
    }

    func text() -> String {
        var out = "fleet \(fleet), served from \(directory): \(counted(roles.count, "role")), \(counted(nodes.filter(\.listed).count, "listed node")); "
        out += defaultRole.map { "a MAC not listed boots role \($0)\n" } ?? "a MAC not listed is refused\n"
        for role in roles {
            out += "\nrole \(role.name)\n"
            out += line("kernel", role.kernel)
            for (index, initrd) in role.initrds.enumerated() { out += line("initrd \(index + 1)", initrd) }
            out += "  cmdline   \(role.cmdline)\n"
            out += "  nodes     \(role.nodes.isEmpty ? "(none listed)" : role.nodes.joined(separator: " "))\n"
        }
        for node in nodes {
            out += "\nnode \(node.mac): role \(node.role)\(node.listed ? "" : " (not listed: the default role)")\n"
            out += "  cmdline   \(node.cmdline)\n"
            for path in node.bootFiles.keys.sorted() { out += "  boot file \(path)\n" }
            if nodes.count == 1, let script = node.bootFiles.first(where: { $0.key.hasPrefix("ipxe/") })?.value {
                out += "\n" + script
            }
        }
        return out
    }

    private func line(_ label: String, _ item: Item) -> String {
        let what = item.plugin.map { "\(item.kind) \($0)" } ?? item.kind
        return
            "  \(label.padding(toLength: 9, withPad: " ", startingAt: 0)) \(item.path)  \(humanSize(item.size))  sha256:\(item.sha256.prefix(12))…  \(what)\n"
    }
}

enum FleetViewError: UserError {
    case unknownRole(String, file: String, known: [String])
    case badMAC(String)
    case unknownMAC(String, file: String)

    var description: String {
        switch self {
        case .unknownRole(let name, let file, let known):
            "--role \(name): \(file) has no such role; its roles are \(known.joined(separator: ", "))"
        case .badMAC(let text):
            "--mac \(text) is not a MAC address: write six hex bytes, for example 52:54:00:12:34:56"
        case .unknownMAC(let mac, let file):
            "\(mac) is not listed in \(file) and it has no [defaults] role: such a node is refused"
        }
    }
}
