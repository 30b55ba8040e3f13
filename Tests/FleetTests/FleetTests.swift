import Foundation
import SystemPackage
import Testing

@testable import Fleet
import Formats
import TestSupport

@Suite struct FleetTests {
    @Test func loadsRolesNodesAndOverlaysInOrder() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("vdsm", "1.2")
        let fleet = try fixture.load(
            FleetFixture.header + """
                [roles.compute]
                plugins = ["vdsm", "cim"]

                [[nodes]]
                mac  = "52-54-00-AB-CD-EF"
                role = "compute"
                """)
        #expect(fleet.roles.map(\.name) == ["compute"])
        #expect(fleet.roles[0].overlays.map(\.label) == ["vdsm-1.2", "cim-1.0"])
        #expect(fleet.nodes.map(\.mac.description) == ["52:54:00:ab:cd:ef"])
        #expect(
            fleet.nodes[0].boot
                == Fleet.Boot(
                    kernel: "vmlinuz", initrds: ["base.cpio.zst", "overlays/vdsm-1.2.cpio.zst", "overlays/cim-1.0.cpio.zst"],
                    cmdline: "console=ttyS0 overlay.role=compute overlay.expect=vdsm@1.2,cim@1.0"))
        #expect(fleet.defaultRole == nil)
        #expect(fleet.baseIdentity == FleetFixture.baseIdentity)
    }

    @Test func syntaxErrorNamesLineAndColumn() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let message = try fixture.error(
            """
            [base]
            kernel = "vmlinuz"
            initrd = ["base.cpio.zst"
            """)
        #expect(message == "\(fixture.fleetFile):3:26: invalid TOML: error while parsing array: encountered end-of-file; fix the syntax at that spot")

        let equals = try fixture.error("[base]\nkernel == \"vmlinuz\"\n")
        #expect(equals == "\(fixture.fleetFile):2:9: invalid TOML: error while parsing value: could not determine value type; fix the syntax at that spot")
    }

    /// A name read from the file is shown with its control characters escaped: the message stays one line.
    @Test func aNameWithALineBreakStaysOnOneLine() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let message = try fixture.error(
            FleetFixture.header + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"comp\\nute\\u001B\"\n")
        #expect(
            message
                == "\(fixture.fleetFile): nodes[0].role names role \"comp\\nute\\u{1B}\", which has no [roles.comp\\nute\\u{1B}] table (defined roles: compute); add the role or fix the name"
        )
    }

    @Test func unknownKeysAreRefusedWithTheirPath() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.addOverlay("cim", "1.0")
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugin = [\"cim\"]\n")
                == "\(fixture.fleetFile): unknown key roles.compute.plugin: the keys allowed there are plugins, cmdline, wins, max_initrd, max_unpacked; fix the spelling or remove it"
        )
        #expect(
            try fixture.error(FleetFixture.header + "[[node]]\nmac = \"52:54:00:12:34:56\"\n")
                == "\(fixture.fleetFile): unknown key node: the keys allowed there are base, roles, nodes, defaults; fix the spelling or remove it")
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"compute\"\nhost = \"a\"\n")
                == "\(fixture.fleetFile): unknown key nodes[0].host: the keys allowed there are mac, role, cmdline; fix the spelling or remove it")
        #expect(
            try fixture.error("[base]\ninitrd = [\"base.cpio.zst\"]\nkernels = \"vmlinuz\"\n")
                == "\(fixture.fleetFile): unknown key base.kernels: the keys allowed there are kernel, initrd, cmdline; fix the spelling or remove it")
    }

    @Test func missingAndMistypedValues() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        #expect(
            try fixture.error("[roles.compute]\n")
                == "\(fixture.fleetFile): [base] is missing: add a [base] table with the kernel and initrd the nodes boot")
        #expect(
            try fixture.error("[base]\nkernel = \"vmlinuz\"\n")
                == "\(fixture.fleetFile): base.initrd is missing: list the base initrd files, for example initrd = [\"base.cpio.zst\"]")
        #expect(
            try fixture.error("[base]\ninitrd = \"base.cpio.zst\"\n")
                == "\(fixture.fleetFile): base.initrd must be an array of strings, not a string")
        #expect(
            try fixture.error("[base]\ninitrd = [\"base.cpio.zst\", 2]\n")
                == "\(fixture.fleetFile): base.initrd[1] must be a string, not an integer")
        #expect(
            try fixture.error(FleetFixture.header + "[nodes]\nmac = \"52:54:00:12:34:56\"\n")
                == "\(fixture.fleetFile): nodes must be an array of tables, written [[nodes]], not a table")
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[0]: the plugin name is empty; write the plugin's name, for example \"vdsm\"")
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\ncmdline = \"quiet; reboot\"\n")
                == "\(fixture.fleetFile): roles.compute.cmdline: the command line contains ';', which iPXE, PXELINUX or GRUB would interpret; write plain kernel parameters without \" ' ` $ ; & | < > \\ # { } or control characters"
        )
    }

    @Test func macAddressesAreNormalizedAndCheckedForDuplicates() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let fleet = try fixture.load(
            FleetFixture.header + """
                [roles.compute]
                [[nodes]]
                mac = "52:54:00:AA:BB:01"
                role = "compute"
                [[nodes]]
                mac = "52-54-00-aa-bb-02"
                role = "compute"
                """)
        #expect(fleet.nodes.map(\.mac.description) == ["52:54:00:aa:bb:01", "52:54:00:aa:bb:02"])
        #expect(fleet.nodes.map(\.mac.hyphenated) == ["52-54-00-aa-bb-01", "52-54-00-aa-bb-02"])

        for bad in ["52:54:00:12:34", "52:54:00:12:34:5g", "52:54-00:12:34:56", "525400123456", "52:54:00:12:34:567"] {
            #expect(
                try fixture.error(FleetFixture.header + "[roles.compute]\n[[nodes]]\nmac = \"\(bad)\"\nrole = \"compute\"\n")
                    == "\(fixture.fleetFile): nodes[0].mac \"\(bad)\" is not a MAC address: write six two-digit hex bytes such as 52:54:00:12:34:56 or 52-54-00-12-34-56"
            )
        }
        #expect(
            try fixture.error(
                FleetFixture.header + """
                    [roles.compute]
                    [[nodes]]
                    mac = "52:54:00:12:34:56"
                    role = "compute"
                    [[nodes]]
                    mac = "52-54-00-12-34-57"
                    role = "compute"
                    [[nodes]]
                    mac = "52-54-00-12-34-56"
                    role = "compute"
                    """) == "\(fixture.fleetFile): nodes[2].mac 52:54:00:12:34:56 is already listed at nodes[0].mac: list each node once")
    }

    @Test func rolesMustExist() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\n[roles.storage]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"compte\"\n")
                == "\(fixture.fleetFile): nodes[0].role names role \"compte\", which has no [roles.compte] table (defined roles: compute, storage); add the role or fix the name"
        )
        #expect(
            try fixture.error(FleetFixture.header + "[defaults]\nrole = \"compute\"\n")
                == "\(fixture.fleetFile): defaults.role names role \"compute\", which has no [roles.compute] table (the file defines no roles); add the role or fix the name"
        )
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\n")
                == "\(fixture.fleetFile): nodes[0].role is missing: give the node a role, or set one for all nodes with [defaults] role")
        // With a default role, a node may leave its role out.
        let fleet = try fixture.load(FleetFixture.header + "[roles.compute]\n[defaults]\nrole = \"compute\"\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\n")
        #expect(fleet.nodes.map(\.role) == ["compute"])
        #expect(fleet.defaultRole == "compute")
    }

    @Test func bootFilesMustBeRegularFilesInsideTheServedDirectory() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        #expect(
            try fixture.error("[base]\nkernel = \"bzImage\"\ninitrd = [\"base.cpio.zst\"]\n")
                == "\(fixture.fleetFile): base.kernel: bzImage does not exist (served directory \(fixture.served)); put the kernel there or fix the path")
        #expect(
            try fixture.error("[base]\nkernel = \"vmlinuz\"\ninitrd = [\"base.cpio.zst\", \"extra.cpio\"]\n")
                == "\(fixture.fleetFile): base.initrd[1]: extra.cpio does not exist (served directory \(fixture.served)); put the base initrd there (overlay base create writes it) or fix the path"
        )
        #expect(
            try fixture.error("[base]\nkernel = \"../vmlinuz\"\ninitrd = [\"base.cpio.zst\"]\n")
                == "\(fixture.fleetFile): base.kernel: ../vmlinuz contains \"..\" (served directory \(fixture.served)); put the kernel there or fix the path")
        #expect(
            try fixture.error("[base]\nkernel = \"/boot/vmlinuz\"\ninitrd = [\"base.cpio.zst\"]\n")
                == "\(fixture.fleetFile): base.kernel: /boot/vmlinuz is absolute (served directory \(fixture.served)); put the kernel there or fix the path")
        try FileManager.default.createSymbolicLink(atPath: fixture.served.appending("linux").string, withDestinationPath: "vmlinuz")
        #expect(
            try fixture.error("[base]\nkernel = \"linux\"\ninitrd = [\"base.cpio.zst\"]\n")
                == "\(fixture.fleetFile): base.kernel: \(fixture.served.appending("linux")) is a symbolic link, which the server does not follow (served directory \(fixture.served)); put the kernel there or fix the path"
        )
        #expect(
            try fixture.error("[base]\nkernel = \"vm linuz\"\ninitrd = [\"base.cpio.zst\"]\n")
                == "\(fixture.fleetFile): base.kernel: vm linuz contains characters other than letters, digits and . _ - + ~ @ (served directory \(fixture.served)); put the kernel there or fix the path"
        )
    }

    @Test func kernelDefaultsToTheOneBaseJsonNames() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let fleet = try fixture.load("[base]\ninitrd = [\"base.cpio.zst\"]\n[roles.plain]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"plain\"\n")
        #expect(fleet.nodes[0].boot.kernel == "vmlinuz")

        let bare = try FleetFixture(kernelInManifest: false)
        defer { bare.remove() }
        #expect(
            try bare.error("[base]\ninitrd = [\"base.cpio.zst\"]\n")
                == "\(bare.fleetFile): base.kernel is missing: name the kernel file, for example kernel = \"vmlinuz\"")
    }

    @Test func pluginsAreFoundByNameOrPinnedVersion() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("vdsm", "1.2")
        try fixture.addOverlay("vdsm", "1.3", folder: "overlays/newer")
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\", \"vdsm\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[1]: plugin \"vdsm\" is present in several versions (1.2, 1.3); pin one, for example \"vdsm@1.2\", \"vdsm@1.3\""
        )
        let at = try fixture.load(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\", \"vdsm@1.3\"]\n")
        #expect(at.roles[0].boot.initrds == ["base.cpio.zst", "overlays/cim-1.0.cpio.zst", "overlays/newer/vdsm-1.3.cpio.zst"])
        let dash = try fixture.load(FleetFixture.header + "[roles.compute]\nplugins = [\"vdsm-1.2\"]\n")
        #expect(dash.roles[0].overlays.map(\.label) == ["vdsm-1.2"])
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"vdsm@2.0\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[0]: no overlay for plugin \"vdsm@2.0\" in \(fixture.served) (overlays found: cim-1.0, vdsm-1.2, vdsm-1.3); build it with overlay build into that directory or fix the name"
        )
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\", \"cim@1.0\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[1]: overlay cim-1.0 is listed twice in the role; list each plugin once")
    }

    @Test func overlaysMustMatchTheFleetsBase() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
        try fixture.addOverlay("cim", "1.0", base: other)
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[0]: overlay cim-1.0 was built against base \(other), but the fleet boots base \(FleetFixture.baseIdentity) (\(fixture.served.appending("base.json"))); rebuild the overlay against this base or boot the base it was built for"
        )
    }

    /// The overlays `overlay rebase --out` built for a new base, served beside the old base's: the fleet's base picks
    /// which of the same name (and version) a role gets, so moving the fleet is editing its [base].
    @Test func overlaysOfTwoBasesSideBySideAreChosenByTheFleetsBase() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let new = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("cim", "1.0", base: new, folder: "v2/overlays")
        try fixture.addOverlay("vdsm", "1.0", base: new, folder: "v2/overlays")
        let old = try fixture.load(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n")
        #expect(old.roles[0].boot.initrds == ["base.cpio.zst", "overlays/cim-1.0.cpio.zst"])

        try fixture.write("v2 kernel", at: "v2/vmlinuz")
        try fixture.write("v2 initrd", at: "v2/base.cpio.zst")
        let base = BaseManifest(
            identity: new, file: "base.cpio.zst", size: 9, sha256: String(repeating: "c", count: 64), kernel: "vmlinuz", packages: ["bash-5.2-1.x86_64"])
        try fixture.write(String(decoding: try JSONEncoder.manifest.encode(base), as: UTF8.self), at: "v2/base.json")
        let moved = try fixture.load("[base]\nkernel = \"v2/vmlinuz\"\ninitrd = [\"v2/base.cpio.zst\"]\n\n[roles.compute]\nplugins = [\"cim\", \"vdsm\"]\n")
        #expect(moved.roles[0].boot.initrds == ["v2/base.cpio.zst", "v2/overlays/cim-1.0.cpio.zst", "v2/overlays/vdsm-1.0.cpio.zst"])
    }

    @Test func missingOverlaysAndManifests() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[0]: no overlay for plugin \"cim\" in \(fixture.served) (no overlay manifests were found there); build it with overlay build into that directory or fix the name"
        )
        try fixture.addOverlay("cim", "1.0", withFile: false)
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[0]: overlays/cim-1.0.cpio.zst does not exist (served directory \(fixture.served)); the manifest overlays/cim-1.0.json names it: rebuild the overlay or remove the stale manifest"
        )
        try fixture.write("{\"kind\": \"overlay\", \"name\": \"broken\"}", at: "overlays/broken-1.json")
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n")
                == "manifest \(fixture.served.appending("overlays/broken-1.json")) cannot be read: the key \"version\" is missing; rebuild it or remove it from the served directory"
        )
        try FileManager.default.removeItem(atPath: fixture.served.appending("overlays/broken-1.json").string)
        // The base's unpacked tree beside base.json is not searched: a manifest there is not found.
        try FileManager.default.createDirectory(atPath: fixture.served.appending("rootfs/etc").string, withIntermediateDirectories: true)
        try fixture.write("{\"kind\": \"overlay\", \"name\": \"broken\"}", at: "rootfs/etc/broken-1.json")
        // JSON that is not a manifest is none of the fleet's business.
        try fixture.write("{\"editor\": \"settings\"}", at: "overlays/settings.json")
        try fixture.write("overlay", at: "overlays/cim-1.0.cpio.zst")
        #expect(try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n") == nil)
        // Without base.json there is nothing to check overlays against.
        try FileManager.default.removeItem(atPath: fixture.served.appending("rootfs").string)
        try FileManager.default.removeItem(atPath: fixture.served.appending("base.json").string)
        #expect(
            try fixture.error(FleetFixture.header + "[roles.compute]\nplugins = [\"cim\"]\n")
                == "\(fixture.fleetFile): roles.compute.plugins[0]: base.json does not exist beside the base initrd, so overlay cim-1.0 cannot be checked against the base (served directory \(fixture.served)); create the base with overlay base create, which writes base.json beside the initrd"
        )
    }

    /// A quote, `$` or `;` followed by a combining mark is one Character, but iPXE, PXELINUX and GRUB read bytes:
    /// the command line is checked scalar by scalar, and nothing of it reaches a boot file.
    @Test func aCombiningMarkDoesNotHideARefusedCharacter() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        for (cmdline, shown) in [("quiet\\\"\u{301} rd.break", "'\"'"), ("a=$\u{301}{x}", "'$'"), ("quiet;\u{301} reboot", "';'")] {
            #expect(
                try fixture.error(FleetFixture.header + "[roles.compute]\ncmdline = \"\(cmdline)\"\n")
                    == "\(fixture.fleetFile): roles.compute.cmdline: the command line contains \(shown), which iPXE, PXELINUX or GRUB would interpret; write plain kernel parameters without \" ' ` $ ; & | < > \\ # { } or control characters"
            )
        }
    }

    @Test func unreadableFleetFile() throws {
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let missing = fixture.fleetFile.removingLastComponent().appending("nope.toml")
        #expect(throws: FleetError.unreadable(file: missing, reason: "No such file or directory")) {
            try Fleet.load(file: missing, servedDirectory: fixture.served)
        }
        #expect(
            FleetError.unreadable(file: missing, reason: "No such file or directory").description
                == "cannot read fleet file \(missing): No such file or directory; check the path given with --fleet")
    }
}
