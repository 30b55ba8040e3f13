import Foundation
import SystemPackage
import Testing

@testable import Formats
@testable import OverlayKit
import TestSupport

/// `overlay check` through the release binary, on a base made by `overlay base create` and overlays made by
/// `overlay build`. Plugins: pina and pinb pin shared = 1.0 and shared = 2.0 (each solves alone, not together);
/// etca and etcb both ship /etc/x with different content; calm adds a tool of its own.
@Suite(.serialized) struct CheckCommandTests {
    let work: URL
    let served: URL
    let cache: URL
    let plugins: URL

    init() throws {
        work = try RPMFixture.temporaryDirectory("check-cli")
        served = work.appendingPathComponent("served")
        cache = work.appendingPathComponent("cache")
        plugins = work.appendingPathComponent("plugins")
    }

    var rootfs: URL { served.appendingPathComponent("rootfs") }
    var fleetFile: URL { work.appendingPathComponent("fleet.toml") }

    func overlay(_ arguments: [String]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(arguments + ["--cachedir", cache.path])
    }

    func plugin(_ name: String) throws -> URL {
        let directory = plugins.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: directory.path) { return directory }
        let bundled: [SpecPackage] =
            switch name {
            case "pina":
                [
                    SpecPackage(name: "a", requires: ["shared = 1.0"], files: ["/usr/bin/a": "a\n"]),
                    SpecPackage(name: "shared", version: "1.0", files: ["/usr/lib/libshared.so": "one\n"]),
                ]
            case "pinb":
                [
                    SpecPackage(name: "b", requires: ["shared = 2.0"], files: ["/usr/bin/b": "b\n"]),
                    SpecPackage(name: "shared", version: "2.0", files: ["/usr/lib/libshared.so": "two\n"]),
                ]
            case "etca": [SpecPackage(name: "etca", files: ["/etc/x": "from etca\n"])]
            case "etcb": [SpecPackage(name: "etcb", files: ["/etc/x": "from etcb, longer\n"])]
            default: [SpecPackage(name: name, files: ["/usr/bin/\(name)": "\(name)\n"])]
            }
        let packages = ["pina": ["a"], "pinb": ["b"]][name] ?? [name]
        return try PluginFixture.make(at: directory, name: name, packages: packages, bundled: bundled)
    }

    /// A served directory: the base from `overlay base create`, and an overlay of each plugin built against it.
    func serve(_ names: [String]) throws {
        let repo = try RPMFixture.repo(BuildTests.basePackages, at: work.appendingPathComponent("base-repo"))
        let created = try overlay([
            "base", "create", "--repo", repo.path, "--package", "busybox", "--package", "kernel", "--package", "corelib",
            "--package", "ovirt-node-release", "--out", served.path,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let built = try overlay(["build", "--base", rootfs.path, "--out", served.path] + names.flatMap { ["--plugin", try plugin($0).path] })
        #expect(built.status == 0, "\(built.stderr)")
    }

    func writeFleet(_ roles: String) throws {
        try Data(("[base]\ninitrd = [\"base.cpio.zst\"]\n\n" + roles).utf8).write(to: fleetFile)
    }

    func check(_ arguments: [String]) throws -> OverlayCommand.Output {
        try overlay(["check", "--fleet", fleetFile.path, "--dir", served.path] + arguments)
    }

    func json(_ output: OverlayCommand.Output) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
    }

    /// The lines of `output` a role's check prints: `  solve  failed  …` and its problems under it.
    func lines(_ output: OverlayCommand.Output) -> [String] {
        output.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test func twoPluginsPinningOtherVersionsOfOneDependencyCannotShareARole() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        let base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        // Each plugin alone is fine.
        let alone = try overlay(["plan", "--base", base.path, "--plugin", try plugin("pina").path, "--plugin", try plugin("pinb").path])
        #expect(alone.status == 0, "\(alone.stderr)")

        let together = try overlay([
            "check", "--base", base.path, "--plugin", try plugin("pina").path, "--plugin", try plugin("pinb").path, "--role-name", "hv",
        ])
        #expect(together.status == 3, "\(together.stderr)")
        #expect(lines(together).contains("role hv (pina-1.0, pinb-1.0): cannot be served as written"))
        #expect(lines(together).contains("solve  failed   the plugins cannot be installed together on this base"))
        #expect(
            lines(together).contains(
                "shared-1.0-1.noarch (pulled in by plugin \"pina\"'s a-1.0-1.noarch) and shared-2.0-1.noarch (pulled in by plugin \"pinb\"'s b-1.0-1.noarch) are two versions of shared, and a root holds one; plugins \"pina\" and \"pinb\" cannot share a role: make them agree on one version of shared, or put them in different roles"
            ), "\(together.stdout)")

        let fine = try overlay(["check", "--base", base.path, "--plugin", try plugin("pina").path, "--plugin", try plugin("calm").path, "--json"])
        #expect(fine.status == 0, "\(fine.stderr)")
        let roles = try #require(try json(fine)["roles"] as? [[String: Any]])
        #expect(roles.first?["role"] as? String == "plugins")
        #expect(roles.first?["ok"] as? Bool == true)
        let solve = try #require((roles.first?["checks"] as? [[String: Any]])?.first)
        #expect(solve["check"] as? String == "solve" && solve["status"] as? String == "ok")
        #expect(solve["summary"] as? String == "2 plugins solved together: 3 packages over the base")
    }

    @Test func aFleetsRolesAreCheckedForCollisionsSizeAndTheSolve() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        try serve(["pina", "pinb", "etca", "etcb", "calm"])
        try writeFleet(
            """
            [roles.calm]
            plugins = ["calm", "etca"]

            [roles.etc]
            plugins = ["etca", "etcb"]

            [roles.pinned]
            plugins = ["pina", "pinb"]
            max_unpacked = "1K"

            """)
        let result = try check(["--base", rootfs.path] + ["pina", "pinb", "etca", "etcb", "calm"].flatMap { ["--plugin", try plugin($0).path] })
        #expect(result.status == 3, "\(result.stderr)")
        let text = lines(result)
        #expect(text.contains("role calm (calm-1.0, etca-1.0): ok"), "\(result.stdout)")
        #expect(text.contains("role etc (etca-1.0, etcb-1.0): cannot be served as written"))
        #expect(text.contains("collisions  failed   1 path shipped differently by two overlays"))
        #expect(
            text.contains(
                "/etc/x is in etca-1.0 and etcb-1.0 with different content (10 and 18 bytes), and the node silently keeps etcb-1.0's; make the plugins ship the same file, or say which wins with wins = [\"etcb\"] under [roles.etc]"
            ))
        #expect(text.contains("role pinned (pina-1.0, pinb-1.0): cannot be served as written"))
        #expect(text.contains { $0.hasPrefix("role \"pinned\" unpacks to ") && $0.contains(", over its max_unpacked of 1.0 KiB") })
        #expect(text.contains { $0.hasPrefix("shared-1.0-1.noarch (pulled in by plugin \"pina\"'s a-1.0-1.noarch) and shared-2.0-1.noarch") })
        #expect(text.contains("1 of 3 roles ok"))

        let report = try json(try check(["--json"]))
        let roles = try #require(report["roles"] as? [[String: Any]])
        #expect(report["ok"] as? Bool == false)
        let etc = try #require(roles.first { $0["role"] as? String == "etc" }?["checks"] as? [[String: Any]])
        #expect(etc.map { $0["check"] as? String } == ["solve", "collisions", "base-types", "size", "base"])
        #expect(etc.map { $0["status"] as? String } == ["skipped", "failed", "skipped", "ok", "ok"])
        #expect((etc[1]["problems"] as? [[String: Any]])?.compactMap { $0["path"] as? String } == ["/etc/x"])

        // The role says which plugin wins, and that plugin's overlay comes last: accepted.
        try writeFleet(
            """
            [defaults]
            max_initrd = "1G"

            [roles.etc]
            plugins = ["etca", "etcb"]
            wins = ["etcb"]

            """)
        let settled = try check([])
        #expect(settled.status == 0, "\(settled.stdout)\(settled.stderr)")
        #expect(lines(settled).contains { $0.hasPrefix("size ") && $0.contains("(max 1.0 GiB)") })
        // When the winner comes first, the node would keep the other: say to reorder.
        try writeFleet("[roles.etc]\nplugins = [\"etca\", \"etcb\"]\nwins = [\"etca\"]\n")
        let reversed = try check([])
        #expect(reversed.status == 3)
        #expect(
            lines(reversed).contains(
                "/etc/x: role \"etc\" says plugin \"etca\" wins, but etcb-1.0 comes later and the node keeps its copy (different content (10 and 18 bytes)); list \"etca\" after \"etcb\" in the role's plugins"
            ), "\(reversed.stdout)")

        // Bad values are refused with the key that holds them.
        try writeFleet("[roles.etc]\nplugins = [\"etca\", \"etcb\"]\nwins = [\"nope\"]\n")
        let unknown = try check([])
        #expect(unknown.status == 1)
        #expect(
            unknown.stderr
                == "overlay: \(fleetFile.path): roles.etc.wins[0]: \"nope\" is not one of the role's plugins (etca, etcb); name a plugin the role lists, whose files should win where overlays ship the same path\n"
        )
        try writeFleet("[defaults]\nmax_unpacked = \"lots\"\n[roles.etc]\nplugins = [\"etca\"]\n")
        let size = try check([])
        #expect(size.status == 1)
        #expect(
            size.stderr
                == "overlay: \(fleetFile.path): defaults.max_unpacked: \"lots\" is not a size; write a size such as \"512M\" or \"2G\" (K, M, G, T are powers of 1024), or a number of bytes\n"
        )
    }

    /// An overlay built for another base is a failed line in the table (the fleet still loads), and a path an overlay
    /// ships as a file where the base's root has a directory fails the base types.
    @Test func anOverlayForAnotherBaseAndAPathOfAnotherTypeThanTheBasesAreReported() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        try serve(["etca"])
        let other = try RPMFixture.base(
            BuildTests.basePackages.filter { $0.name != "kernel" } + [SpecPackage(name: "kernel", version: "3.2", files: ["/boot/vmlinuz-3.2": "k\n"])],
            at: work.appendingPathComponent("other"))
        let built = try overlay(["build", "--base", other.path, "--plugin", try plugin("calm").path, "--out", served.path])
        #expect(built.status == 0, "\(built.stderr)")
        try writeFleet("[roles.mixed]\nplugins = [\"etca\", \"calm\"]\n")
        // The base's root has a directory where etca ships the file /etc/x.
        try FileManager.default.createDirectory(at: rootfs.appendingPathComponent("etc/x"), withIntermediateDirectories: true)

        let result = try check(["--base", rootfs.path])
        #expect(result.status == 3, "\(result.stderr)")
        let text = lines(result)
        let fleetBase = try JSONDecoder().decode(BaseManifest.self, from: Data(contentsOf: served.appendingPathComponent("base.json"))).identity
        let calm = try JSONDecoder().decode(OverlayManifest.self, from: Data(contentsOf: served.appendingPathComponent("calm-1.0.json")))
        #expect(calm.base != fleetBase)
        #expect(text.contains("base        failed   1 overlay built for another base"), "\(result.stdout)")
        #expect(
            text.contains(
                "\(fleetFile.path): roles.mixed.plugins[1]: overlay calm-1.0 was built against base \(calm.base), but the fleet boots base \(fleetBase) (\(served.path)/base.json); rebuild the overlay against this base or boot the base it was built for"
            ))
        #expect(text.contains("base-types  failed   1 path of another type than the base's"))
        #expect(
            text.contains(
                "/etc/x is a file in etca-1.0, but the base has a directory there (\(rootfs.path)); ship it where the base has the same type, or build against a base that agrees"
            ))
        // Without --base the base types are not checked, and say so.
        #expect(lines(try check([])).contains("base-types  skipped  give --base DIR to compare with the base's file types"))
    }

    /// `overlay serve` runs the checks that need no plugin directories before it starts: a fleet with a collision is
    /// refused, one line per problem; `--no-check` serves it.
    @Test func serveRefusesAFleetThatFailsTheChecksUnlessToldNotToCheck() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        try serve(["etca", "etcb"])
        try writeFleet("[roles.etc]\nplugins = [\"etca\", \"etcb\"]\n\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"etc\"\n")
        let refused = try OverlayCommand.run(["serve", "--dir", served.path, "--fleet", fleetFile.path, "--http", "127.0.0.1:0"])
        #expect(refused.status == 3)
        #expect(
            refused.stderr.split(separator: "\n").map(String.init) == [
                "overlay serve: role etc fails check collisions: /etc/x is in etca-1.0 and etcb-1.0 with different content (10 and 18 bytes), and the node silently keeps etcb-1.0's; make the plugins ship the same file, or say which wins with wins = [\"etcb\"] under [roles.etc]",
                "overlay serve: not serving \(fleetFile.path): fix its roles (overlay check --fleet \(fleetFile.path) says more), or serve it as written with --no-check",
            ])

        let server = try OverlayProcess(["serve", "--dir", served.path, "--fleet", fleetFile.path, "--http", "127.0.0.1:0", "--no-check"], in: work)
        defer { server.terminate() }
        #expect(try server.waitForEvent("overlay serve: serving ").contains("HTTP on 127.0.0.1:"))
        #expect(server.terminate() == 0)
    }

    /// A fleet edited while `serve` runs gets the same checks as at start: one that fails them is not taken, the
    /// server says why and keeps serving the previous fleet, and the fixed fleet is taken.
    @Test func serveKeepsThePreviousFleetWhenAReloadFailsTheChecks() throws {
        defer { try? FileManager.default.removeItem(at: work) }
        try serve(["etca", "etcb"])
        let node = "[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"etc\"\n"
        try writeFleet("[roles.etc]\nplugins = [\"etca\"]\n\n" + node)
        let server = try OverlayProcess(["serve", "--dir", served.path, "--fleet", fleetFile.path, "--http", "127.0.0.1:0"], in: work)
        defer { server.terminate() }
        let http = try #require(FleetServeTests.port(after: "HTTP on 127.0.0.1:", in: try server.waitForEvent("overlay serve: serving ")))
        let script = { try curl("http://127.0.0.1:\(http)/ipxe/52-54-00-12-34-56") }
        #expect(try script().contains("initrd --name etca-1.0.cpio.zst "))

        try writeFleet("[roles.etc]\nplugins = [\"etca\", \"etcb\"]\n\n" + node)
        let refused = try server.waitForEvent("overlay serve: reload (\(fleetFile.path) changed) failed")
        #expect(
            refused
                == "overlay serve: reload (\(fleetFile.path) changed) failed, still serving the previous fleet: role etc fails check collisions: /etc/x is in etca-1.0 and etcb-1.0 with different content (10 and 18 bytes), and the node silently keeps etcb-1.0's; make the plugins ship the same file, or say which wins with wins = [\"etcb\"] under [roles.etc]"
        )
        let kept = try script()
        #expect(kept.contains("initrd --name etca-1.0.cpio.zst ") && !kept.contains("etcb"), "\(kept)")

        // SIGHUP reads it again, with the same verdict.
        server.signal(SIGHUP)
        _ = try server.waitForEvent("overlay serve: reload (SIGHUP) failed, still serving the previous fleet: role etc fails check collisions: ")

        try writeFleet("[roles.etc]\nplugins = [\"etca\", \"etcb\"]\nwins = [\"etcb\"]\n\n" + node)
        _ = try server.waitForEvent("overlay serve: reloaded the fleet (\(fleetFile.path) changed)")
        #expect(try script().contains("initrd --name etcb-1.0.cpio.zst "))
        #expect(server.terminate() == 0)
    }
}
