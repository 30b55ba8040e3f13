import Foundation
import Testing
import TestSupport

/// `overlay lab` on the example (built by `make example`, which `make test` runs first): roles booted in QEMU from
/// the lab's own server, and every combination of three plugins built, checked and booted. TCG, since nested KVM
/// does not boot iPXE on every machine.
@Suite(.serialized) struct LabTests {
    static let served = ExampleBootTests.served.path
    static let fleet = ExampleBootTests.fleet.path
    static let build = ExampleBootTests.build.path

    struct Verdict: Decodable {
        var role: String
        var mac: String
        var expected: [String]
        var reported: [String]?
        var base: String?
        var bytesFetched: Int
        var requests: Int
        var serverReceivedReport: Bool?
        var secondsToReady: Double?
        var problems: [String]
        var pass: Bool
    }

    func exampleIsBuilt() -> Bool {
        guard FileManager.default.fileExists(atPath: Self.served + "/base.json") else {
            Issue.record("\(Self.served) is missing: run `make example` first (`make test` does)")
            return false
        }
        return true
    }

    @Test func eachRoleBootsAndReportsExactlyItsPlugins() throws {
        guard exampleIsBuilt() else { return }
        for (role, plugins, protocolFlag) in [("compute", ["cim@1.0", "vdsm@1.0"], [String]()), ("monitoring", ["monitor@1.0"], ["--tftp"])] {
            let run = try OverlayCommand.run(
                ["lab", "boot", "--fleet", Self.fleet, "--dir", Self.served, "--role", role, "--accel", "tcg", "--json"] + protocolFlag)
            #expect(run.status == 0, "\(role): \(run.stdout) \(run.stderr)")
            let verdict = try JSONDecoder().decode(Verdict.self, from: Data(run.stdout.utf8))
            #expect(verdict.pass && verdict.problems.isEmpty)
            #expect(verdict.role == role)
            #expect(verdict.expected == plugins && verdict.reported == plugins)
            #expect(verdict.base == "oVirt Node Example 3.0")
            // The kernel, the base and each overlay, at least.
            #expect(verdict.requests >= 3 + plugins.count && verdict.bytesFetched > 10_000_000, "\(verdict)")
            #expect((verdict.secondsToReady ?? 0) > 0)
            // Booted over HTTP, the node sends its report to the server it booted from; over TFTP it is not told where.
            #expect(verdict.serverReceivedReport == (protocolFlag.isEmpty ? true : nil))
        }
    }

    @Test func aRoleBootsUnderUEFI() throws {
        guard exampleIsBuilt() else { return }
        let run = try OverlayCommand.run(
            ["lab", "boot", "--fleet", Self.fleet, "--dir", Self.served, "--role", "compute", "--uefi", "--accel", "tcg"])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.hasPrefix("lab boot: role compute on 52:54:00:12:34:56 (UEFI, TCG): pass\n"))
        #expect(run.stdout.contains("  reported   cim@1.0, vdsm@1.0\n") && run.stdout.contains("  report     received by the server\n"))
    }

    /// A node that boots as another role than the fleet gives it (here its own command line overrides the role):
    /// the lab says so and exits 3.
    @Test func aNodeThatReportsAnotherRoleFails() throws {
        guard exampleIsBuilt() else { return }
        let scratch = try RPMFixture.temporaryDirectory("lab-other-role")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let text = try String(contentsOfFile: Self.fleet, encoding: .utf8)
            .replacingOccurrences(
                of: "mac  = \"52:54:00:12:34:57\"\nrole = \"monitoring\"",
                with: "mac  = \"52:54:00:12:34:57\"\nrole = \"monitoring\"\ncmdline = \"overlay.role=compute\"")
        #expect(text.contains("cmdline = \"overlay.role=compute\""))
        let fleet = scratch.appendingPathComponent("fleet.toml")
        try text.write(to: fleet, atomically: true, encoding: .utf8)
        let run = try OverlayCommand.run(
            ["lab", "boot", "--fleet", fleet.path, "--dir", Self.served, "--mac", "52:54:00:12:34:57", "--accel", "tcg"])
        #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.hasPrefix("lab boot: role monitoring on 52:54:00:12:34:57 (BIOS, TCG): FAIL\n"))
        #expect(run.stdout.contains("  problem    the node booted as role compute, not monitoring\n"))
        #expect(run.stdout.contains("  reported   monitor@1.0\n"))
    }

    @Test func theMatrixBuildsChecksAndBootsEveryCombination() throws {
        guard exampleIsBuilt() else { return }
        let scratch = try RPMFixture.temporaryDirectory("lab-matrix")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let junit = scratch.appendingPathComponent("matrix.xml")
        let run = try OverlayCommand.run(
            [
                "lab", "matrix", "--base", Self.build, "--plugin", Self.build + "/plugins/vdsm", "--plugin", Self.build + "/plugins/cim",
                "--plugin", Self.build + "/plugins/hwinfo", "--cache", scratch.appendingPathComponent("cache").path, "--accel", "tcg",
                "--junit", junit.path,
            ])
        #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("combination      check  boot   ready   reason") == true, "\(run.stdout)")
        let rows = Dictionary(uniqueKeysWithValues: lines.dropFirst().dropLast().map { ($0.split(separator: " ")[0].description, $0) })
        #expect(rows.keys.sorted() == ["cim", "cim+hwinfo", "hwinfo", "vdsm", "vdsm+cim", "vdsm+cim+hwinfo", "vdsm+hwinfo"])
        for passing in ["vdsm", "cim", "hwinfo", "vdsm+cim", "vdsm+hwinfo"] {
            #expect(rows[passing]?.contains(" ok     ok ") == true, "\(rows[passing] ?? "")")
        }
        for failing in ["cim+hwinfo", "vdsm+cim+hwinfo"] {
            #expect(rows[failing]?.contains(" FAIL   -      -       solve: the plugins cannot be installed together on this base: ") == true)
            #expect(rows[failing]?.contains("hwinfo-agent-1.0-1.noarch conflicts with cim-provider") == true)
        }
        #expect(lines.last?.hasPrefix("5 of 7 combinations pass; 2 fail (") == true)

        // The JUnit file, read by an XML parser as a CI system reads it (Python's ElementTree).
        let junitRead = try Command.capture(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [
                "-c",
                """
                import sys, xml.etree.ElementTree as ET
                suite = ET.parse(sys.argv[1]).getroot().find("testsuite")
                cases = suite.findall("testcase")
                print(suite.get("tests"), suite.get("failures"), len(cases))
                for case in cases:
                    failure = case.find("failure")
                    if failure is not None:
                        print(case.get("name"), failure.get("type"), "conflicts with cim-provider" in failure.get("message"))
                """,
                junit.path,
            ])
        #expect(junitRead.status == 0, "\(junitRead.stderr)")
        #expect(junitRead.stdout == "7 2 7\ncim+hwinfo check True\nvdsm+cim+hwinfo check True\n")

        // A second run builds nothing again: the overlays for this base are in the cache.
        let cache = scratch.appendingPathComponent("cache").path
        let before = try FileManager.default.attributesOfItem(atPath: cache + "/vdsm-1.0.cpio.zst")[.modificationDate] as? Date
        let again = try OverlayCommand.run(
            [
                "lab", "matrix", "--base", Self.build, "--plugin", Self.build + "/plugins/vdsm", "--cache", cache, "--accel", "tcg",
            ])
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        #expect(again.stdout.contains("\n1 of 1 combination pass ("))
        #expect(try FileManager.default.attributesOfItem(atPath: cache + "/vdsm-1.0.cpio.zst")[.modificationDate] as? Date == before)
    }

    @Test func badInputIsOneSentence() throws {
        guard exampleIsBuilt() else { return }
        let role = try OverlayCommand.run(["lab", "boot", "--fleet", Self.fleet, "--dir", Self.served, "--role", "storage"])
        #expect(role.status == 1)
        #expect(role.stderr == "overlay: lab: \(Self.fleet) has no role \"storage\" (its roles: compute, monitoring)\n")
        let base = try OverlayCommand.run(["lab", "matrix", "--base", Self.served + "/rpmdb", "--plugin", Self.build + "/plugins/vdsm"])
        #expect(base.status == 1)
        #expect(
            base.stderr
                == "overlay: lab: \(Self.served)/rpmdb has no base.json: give the directory that overlay base create --out or overlay base import --out wrote\n"
        )
        let neither = try OverlayCommand.run(["lab", "boot", "--fleet", Self.fleet])
        #expect(neither.status == 64)
        #expect(neither.stderr == "overlay: give the node to boot: --role NAME or --mac MAC; see 'overlay lab boot --help'\n")
    }
}
