import ArgumentParser
import Fleet
import Formats
import Foundation
import Posix
import SystemPackage

extension Overlay {
    struct Lab: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Boot roles and plugin combinations in QEMU before they reach a fleet.",
            discussion: """
                The lab runs this program's own `overlay serve` on loopback ports and network-boots QEMU nodes from \
                it the way a real node boots (the distribution's iPXE ROM; --uefi: OVMF), reads each node's console \
                and checks its report (the README's "What a node reports") against what its role should give it.
                """,
            subcommands: [LabBoot.self, LabMatrix.self])
    }

    struct LabBoot: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "boot",
            abstract: "Boot one node of a fleet in QEMU and check that it has exactly its role's plugins.",
            discussion: """
                The node is the fleet's node with --mac, or the first node of --role (a role no node is listed \
                for is booted with a lab MAC, 52:54:00:1a:b0:01). It boots through iPXE from the fleet's boot.ipxe \
                over HTTP (--tftp: over TFTP), like a node of the fleet would. Pass: the node printed its report, \
                booted as its role and lists exactly the role's plugins and versions, every layer mounted. Prints \
                the time to the report and what the node fetched.

                A node whose command line does not power it off (overlay.poweroff) is stopped 20 s after its \
                report; with --keep it is left to you on this terminal (Ctrl-A X ends QEMU).

                Exit status: 0 pass, 3 the node booted something else or did not finish, 1 the lab could not run \
                (no QEMU, a fleet that does not load).
                """)

        @Option(name: .customLong("fleet"), help: ArgumentHelp("The fleet file.", valueName: "file"), completion: .file(extensions: ["toml"]))
        var fleetFile: String

        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp("The directory the fleet is served from (default: the fleet file's directory).", valueName: "dir"),
            completion: .directory)
        var directory: String?

        @Option(help: ArgumentHelp("The role to boot.", valueName: "name"))
        var role: String?

        @Option(help: ArgumentHelp("The node to boot, by MAC.", valueName: "mac"))
        var mac: String?

        @OptionGroup var machine: LabMachineOptions

        @Flag(help: "Leave the node running on this terminal after its report, for a shell.")
        var keep = false

        @Option(help: ArgumentHelp("Also write the node's console to this file.", valueName: "file"))
        var console: String?

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            if (role == nil) == (mac == nil) { throw ValidationError("Give the node to boot: --role NAME or --mac MAC.") }
            if let mac, MACAddress(mac) == nil { throw ValidationError("--mac \(mac) is not a MAC address such as 52:54:00:12:34:56.") }
        }

        func run() throws {
            try reportingErrors {
                let file = FilePath(fleetFile)
                let served = FleetPlugins.servedDirectory(fleet: file, dir: directory)
                let fleet = try Fleet.load(file: file, servedDirectory: served)
                let scratch = try LabScratch()
                defer { scratch.remove() }
                let (node, roleName, fleetToServe) = try choose(in: fleet, file: file, scratch: scratch)
                guard let role = fleet.roles.first(where: { $0.name == roleName }) else {
                    throw LabError.input("\(fleetFile) has no role \"\(roleName)\"")
                }
                let server = try LabServer(directory: served.string, fleet: fleetToServe, scratch: scratch.path)
                defer { server.stop() }
                var labMachine = machine.machine(mac: node, httpPort: server.httpPort, tftpPort: server.tftpPort)
                labMachine.interactive = keep
                if !json && !keep { printError("lab: booting \(node) as role \(roleName) from \(labMachine.bootURL) …") }
                let outcome = try labMachine.boot(scratch: scratch.path)
                server.stop()
                if let console {
                    try AtomicFile.write(Array((outcome.console + "\n").utf8), to: FilePath(console))
                }
                let verdict = LabVerdict(
                    machine: labMachine, role: roleName, expected: role.expectedPlugins, outcome: outcome, fetches: server.fetches(),
                    received: server.receivedReports(),
                    timeout: machine.timeout)
                if let note = outcome.note { printError("lab: \(note)") }
                if json {
                    print(String(decoding: try JSONEncoder.manifest.encode(verdict), as: UTF8.self))
                } else {
                    print(verdict.text, terminator: "")
                }
                if !verdict.pass { throw ExitStatus.unsatisfiable }
            }
        }

        /// The MAC to boot, its role, and the fleet file to serve: the fleet's own, or a copy that lists the lab MAC
        /// for a role no node is listed for.
        private func choose(in fleet: Fleet, file: FilePath, scratch: LabScratch) throws -> (MACAddress, String, String) {
            if let mac, let address = MACAddress(mac) {
                if let node = fleet.nodes.first(where: { $0.mac == address }) { return (address, node.role, fleetFile) }
                guard let role = fleet.defaultRole else {
                    throw LabError.input("\(fleetFile) lists no node \(address) and has no default role: give a listed MAC or --role")
                }
                return (address, role, fleetFile)
            }
            let role = self.role ?? ""
            guard fleet.roles.contains(where: { $0.name == role }) else {
                let known = fleet.roles.map(\.name).joined(separator: ", ")
                throw LabError.input("\(fleetFile) has no role \"\(role)\" (its roles: \(known))")
            }
            if let node = fleet.nodes.first(where: { $0.role == role }) { return (node.mac, role, fleetFile) }
            let labMAC = MACAddress.lab(0xb001)
            let text = try String(contentsOfFile: fleetFile, encoding: .utf8)
            let copy = scratch.path + "/fleet.toml"
            try AtomicFile.write(Array((text + "\n[[nodes]]\nmac = \"\(labMAC)\"\nrole = \"\(role)\"\n").utf8), to: FilePath(copy))
            return (labMAC, role, copy)
        }
    }
}

/// How the lab's QEMU nodes are run.
struct LabMachineOptions: ParsableArguments {
    @Flag(help: "Boot with UEFI firmware (OVMF) instead of BIOS.")
    var uefi = false

    @Flag(help: "Fetch boot.ipxe over TFTP instead of HTTP.")
    var tftp = false

    @Option(help: ArgumentHelp("QEMU's accelerator: auto (KVM when it works here, else TCG), kvm or tcg.", valueName: "auto|kvm|tcg"))
    var accel: LabMachine.Accelerator = .auto

    @Option(help: ArgumentHelp("Seconds a node may take to boot and report.", valueName: "seconds"))
    var timeout = 180

    @Option(help: ArgumentHelp("Each node's memory, in MiB.", valueName: "MiB"))
    var memory = 512

    func machine(mac: MACAddress, httpPort: Int, tftpPort: Int) -> LabMachine {
        let url = tftp ? "tftp://10.0.2.2:\(tftpPort)/boot.ipxe" : "http://10.0.2.2:\(httpPort)/boot.ipxe"
        return LabMachine(
            mac: mac, bootURL: url, firmware: uefi ? .uefi : .bios, accelerator: accel, memoryMiB: memory, timeoutSeconds: timeout)
    }
}

extension LabMachine.Accelerator: ExpressibleByArgument {}

extension Fleet.Role {
    /// The plugins a node of this role should report, as `overlay.expect=` names them.
    var expectedPlugins: [NodeReport.Plugin] {
        overlays.map { NodeReport.Plugin(name: $0.manifest.name, version: $0.manifest.version) }
    }
}

/// A private directory for one lab run: the served fleet copy, the server's logs, consoles.
struct LabScratch {
    let path: String

    init() throws(LabError) {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array((base + "/overlay-lab.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw .input("cannot make a scratch directory in \(base): \(String(cString: strerror(errno)))") }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
