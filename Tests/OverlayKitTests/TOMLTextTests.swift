import Foundation
import Testing

@testable import OverlayKit
@testable import Formats
import TestSupport

/// TOML text that toml++ 3.4.0 (inside TOMLKit) aborted the process on, found by fuzzing plugin.toml and
/// fleet.toml: each is now a one-line syntax error with line and column, and TOML that only looks like it still
/// parses.
@Suite struct TOMLTextTests {
    /// (text, line, column, reason)
    static let aborting: [(String, Int, Int, String)] = [
        ("name = \"x\"\n[\nversion = \"1\"\n", 2, 2, "a table header must start with a name, as in [name] or [[name]]"),
        ("[*]\n", 1, 2, "a table header must start with a name, as in [name] or [[name]]"),
        ("[[[a]]]\n", 1, 3, "a table header must start with a name, as in [name] or [[name]]"),
        ("\u{FEFF}\t[\n", 1, 4, "a table header must start with a name, as in [name] or [[name]]"),
        ("packages = [}\n", 1, 13, "an array element cannot start with '}'"),
        ("packages = [\"a\",\u{2028}\"b\"]\n", 1, 17, "an array element cannot start with U+2028"),
        ("summary = 2024-01-01T\n", 1, 22, "a date and time needs a time after its T"),
        ("summary = [2024-01-01Tx]\n", 1, 23, "a date and time needs a time after its T"),
        ("version = 2024-01-02 2 \n", 1, 22, "a date and time written with a space needs the whole time after it"),
        ("name = \"x\"\u{0}version = \"2\"\n", 1, 11, "the text holds a NUL character, which TOML does not allow"),
    ]

    @Test(arguments: 0..<aborting.count) func abortingTextIsASyntaxError(_ index: Int) throws {
        let (text, line, column, reason) = Self.aborting[index]
        #expect { try PluginManifest(parsing: text, file: "/p/plugin.toml") } throws: {
            "\($0)" == "/p/plugin.toml:\(line):\(column): invalid TOML: \(reason); fix the syntax at that position"
        }
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        #expect(try fixture.error(text) == "\(fixture.fleetFile):\(line):\(column): invalid TOML: \(reason); fix the syntax at that spot.")
    }

    /// The same characters where TOML allows them: in strings, comments, multi-line values, and a real date-time
    /// (which a manifest then refuses for its type, with the key's line, not as a syntax error).
    @Test func lookalikesStillParse() throws {
        let manifest = try PluginManifest(
            parsing: "\u{FEFF}name = \"vdsm\" # [*]\nversion = \"1.0\"\nsummary = \"\"\"\n[*] fast\n[\npackages = [}\"\"\"\n"
                + "packages = [\n  \"a\", # [}\n  \"[}\",\n  '[[[x]]]',\n]\n",
            file: "plugin.toml")
        #expect(manifest.name == "vdsm")
        #expect(manifest.summary == "[*] fast\n[\npackages = [}")
        #expect(manifest.packages == ["a", "[}", "[[[x]]]"])

        #expect { try PluginManifest(parsing: "name = \"x\"\nversion = 2024-01-01T10:00:00Z\npackages = [\"a\"]\n", file: "plugin.toml") } throws: {
            "\($0)" == "plugin.toml:2: \"version\" must be a string such as version = \"…\", not a date-time"
        }
        let fixture = try FleetFixture()
        defer { fixture.remove() }
        let fleet = try fixture.load("[base]\nkernel = \"vmlinuz\" # [*]\ninitrd = [\n  \"base.cpio.zst\", # [}\n]\n")
        #expect(fleet.roles.isEmpty)
    }
}
