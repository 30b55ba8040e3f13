import ArgumentParser
import Foundation
import OverlayKit
import Posix
import SystemPackage
import Formats
import Fleet

extension Overlay {
    struct RPMDB: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rpmdb",
            abstract: "Make each role's rpmdb: the base's packages and the role's plugins', as the role's last initrd.",
            discussion: """
                For each role of the fleet (or each --role), copies the base's rpmdb and records in it every package \
                of the role's overlays, from the installed headers each overlay's build kept beside it \
                (<name>-<version>.rpmheaders; nothing is installed again, the base is not touched). Files a plugin's \
                blacklist dropped are recorded as not installed, so rpm -V does not miss them. Writes \
                rpmdb/<role>-rpmdb.cpio.zst and rpmdb/<role>.json beside the fleet's base initrd in DIR, each \
                atomically. overlay serve and boot-config append that initrd to the role's initrds while it matches the role's overlays, so that \
                rpm -qa on a node lists the base and its plugins; after a role's overlays change, run this again.
                """)

        @Option(
            help: ArgumentHelp(
                "The base image the fleet's overlays were built against: its root directory, an initramfs, a squashfs image or a live ISO.",
                valueName: "DIR|IMAGE"),
            completion: .file())
        var base: String

        @Option(name: .customLong("fleet"), help: ArgumentHelp("The fleet file.", valueName: "FILE"), completion: .file(extensions: ["toml"]))
        var fleetFile: String

        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp("The served directory: kernel, base initrd with base.json, overlays with their manifests.", valueName: "DIR"),
            completion: .directory)
        var directory: String

        @Option(name: .customLong("role"), help: ArgumentHelp("Only this role (repeat for several).", valueName: "NAME"))
        var roles: [String] = []

        @Flag(help: "Print the written rpmdb manifests as JSON.")
        var json = false

        @OptionGroup var verbosity: ConsoleOptions

        func run() throws {
            let console = verbosity.console()
            try reportingErrors(console) {
                let sourceDateEpoch = try OverlayBuilder.sourceDateEpochFromEnvironment()
                let served = FilePath(directory)
                let fleet = try Fleet.load(file: FilePath(fleetFile), servedDirectory: served)
                // An image gives its rpmdb, extracted into a private directory.
                let source = try BaseImageSource(FilePath(base))
                if source.kind != .directory { try removingTemporaryFilesOnSignal() }
                let opened = try source.openForPlanning()
                defer { opened.close() }
                let image = opened.image
                let identity = BaseIdentity.of(packages: try image.installedPackages())
                guard identity == fleet.baseIdentity else {
                    throw RPMDBError.otherBase(base: base, identity: identity, fleet: fleetFile, fleetIdentity: fleet.baseIdentity)
                }
                for name in roles where !fleet.roles.contains(where: { $0.name == name }) {
                    throw RPMDBError.unknownRole(name, fleet: fleetFile, known: fleet.roles.map(\.name))
                }
                let output = served.appending(fleet.roleDatabaseDirectory)
                try FileManager.default.createDirectory(atPath: output.string, withIntermediateDirectories: true)
                var written: [RoleDatabaseManifest] = []
                for role in fleet.roles where roles.isEmpty || roles.contains(role.name) {
                    let members = role.overlays.map { overlay in
                        RoleDatabase.Member(
                            manifest: overlay.manifest, directory: served.appending(overlay.manifestPath).removingLastComponent(),
                            servedPath: overlay.path)
                    }
                    let manifest = try RoleDatabase.make(
                        base: image, baseIdentity: identity, role: role.name, members: members, output: output, sourceDateEpoch: sourceDateEpoch)
                    written.append(manifest)
                    if !json {
                        let added = role.overlays.reduce(0) { $0 + $1.manifest.packages.count }
                        print(
                            "\(output.appending(manifest.file))  \(humanSize(manifest.size))  role \(role.name): \(counted(manifest.packages.count, "package")) (\(added) from \(counted(role.overlays.count, "overlay")))"
                        )
                    }
                }
                if json { print(String(decoding: try JSONEncoder.manifest.encode(written), as: UTF8.self)) }
            }
        }
    }
}

/// Why `overlay rpmdb` refused its arguments.
enum RPMDBError: UserError {
    case otherBase(base: String, identity: String, fleet: String, fleetIdentity: String?)
    case unknownRole(String, fleet: String, known: [String])

    var description: String {
        switch self {
        case .otherBase(let base, let identity, let fleet, let fleetIdentity):
            "--base \(base) is base \(identity), but \(fleet) serves base \(fleetIdentity ?? "(no base.json)"): give the root of the base the fleet serves"
        case .unknownRole(let name, let fleet, let known):
            "--role \(name): \(fleet) has no such role; its roles are \(known.joined(separator: ", "))"
        }
    }
}
