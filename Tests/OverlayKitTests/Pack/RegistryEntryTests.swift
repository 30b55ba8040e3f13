import Foundation
import Testing
@testable import OverlayKit

@Suite struct RegistryEntryTests {
    @Test func rendersAndParsesBack() throws {
        let entry = RegistryEntry(
            name: "vdsm", version: "1.0", summary: #"Says "hi" for $5 via `echo` \o/"#,
            packages: ["a-1.0-1.noarch", "b-2:3.1-4.x86_64"], base: "sha256:0123")
        let text = entry.rendered()
        #expect(
            text == #"""
                NAME="vdsm"
                VERSION="1.0"
                SUMMARY="Says \"hi\" for \$5 via \`echo\` \\o/"
                PACKAGES="a-1.0-1.noarch b-2:3.1-4.x86_64"
                BASE="sha256:0123"

                """#)
        #expect(try RegistryEntry.parse(text, source: "vdsm") == entry)
        // The file is valid shell: sourcing it gives the same values.
        let shell = try PackFixture.sh(
            "printf '%s' '\(text.replacingOccurrences(of: "'", with: "'\\''"))' > /tmp/registry-$$ && . /tmp/registry-$$ && rm /tmp/registry-$$ && printf '%s' \"$SUMMARY\""
        )
        #expect(shell == entry.summary)
    }

    /// A summary from a plugin.toml is escaped scalar by scalar: a quote, `$` or backquote followed by a combining
    /// mark (one Character in Swift) is still escaped, so a shell sourcing the entry runs nothing from it.
    @Test func aCombiningMarkDoesNotUnescapeAQuote() throws {
        let scratch = try PackFixture.scratch("registry")
        defer { PackFixture.remove(scratch) }
        let marker = scratch.appending("ran")
        let summary = "a\"\u{301}; touch \(marker) #\n`\u{301}touch \(marker)`\r\n$\u{301}(touch \(marker))"
        let entry = RegistryEntry(name: "vdsm", version: "1.0", summary: summary, packages: ["a-1.0-1.noarch"], base: "sha256:0123")
        let text = entry.rendered()
        #expect(text.split(separator: "\n").count == 5)
        #expect(text.contains("SUMMARY=\"a\\\"\u{301}; touch \(marker) # \\`\u{301}touch \(marker)\\` \\$\u{301}(touch \(marker))\"\n"))
        let expected = summary.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
        #expect(try RegistryEntry.parse(text, source: "vdsm").summary == expected)

        let file = scratch.appending("vdsm")
        try text.write(toFile: file.string, atomically: true, encoding: .utf8)
        let shell = try PackFixture.sh(". \(file) && printf '%s' \"$SUMMARY\"")
        #expect(shell == expected)
        #expect(!FileManager.default.fileExists(atPath: marker.string))
    }

    @Test func acceptsOsReleaseVariants() throws {
        let entry = try RegistryEntry.parse("# comment\n\nNAME=vdsm\nVERSION='1.0 beta'\n  SUMMARY=\"x\"  \nEXTRA=1\n", source: "f")
        #expect(entry == RegistryEntry(name: "vdsm", version: "1.0 beta", summary: "x", packages: [], base: ""))
    }

    @Test func errorsNameFileAndLine() {
        #expect { try RegistryEntry.parse("NAME=\"a\"\nthis is not a pair\n", source: "/x/vdsm") } throws: {
            "\($0)" == #"/x/vdsm:2: expected KEY="value", found "this is not a pair""#
        }
        #expect { try RegistryEntry.parse("NAME=\"a\nVERSION=1\n", source: "/x/vdsm") } throws: {
            "\($0)" == "/x/vdsm:1: the quoted value has no closing quote"
        }
        #expect { try RegistryEntry.parse("NAME=\"a\"\n", source: "/x/vdsm") } throws: {
            "\($0)" == #"/x/vdsm has no VERSION="..." line: every plugin registry entry needs one"#
        }
    }
}
