import Testing
@testable import OverlayKit

@Suite struct RegistryEntryTests {
    @Test func rendersAndParsesBack() throws {
        let entry = RegistryEntry(
            name: "vdsm", version: "1.0", summary: #"Says "hi" for $5 via `echo` \o/"#,
            packages: ["a-1.0-1.noarch", "b-2:3.1-4.x86_64"], base: "sha256:0123")
        let text = entry.rendered()
        #expect(text == #"""
            NAME="vdsm"
            VERSION="1.0"
            SUMMARY="Says \"hi\" for \$5 via \`echo\` \\o/"
            PACKAGES="a-1.0-1.noarch b-2:3.1-4.x86_64"
            BASE="sha256:0123"

            """#)
        #expect(try RegistryEntry.parse(text, source: "vdsm") == entry)
        // The file is valid shell: sourcing it gives the same values.
        let shell = try PackFixture.sh("printf '%s' '\(text.replacingOccurrences(of: "'", with: "'\\''"))' > /tmp/registry-$$ && . /tmp/registry-$$ && rm /tmp/registry-$$ && printf '%s' \"$SUMMARY\"")
        #expect(shell == entry.summary)
    }

    @Test func acceptsOsReleaseVariants() throws {
        let entry = try RegistryEntry.parse("# comment\n\nNAME=vdsm\nVERSION='1.0 beta'\n  SUMMARY=\"x\"  \nEXTRA=1\n", source: "f")
        #expect(entry == RegistryEntry(name: "vdsm", version: "1.0 beta", summary: "x", packages: [], base: ""))
    }

    @Test func errorsNameFileAndLine() {
        #expect { try RegistryEntry.parse("NAME=\"a\"\nthis is not a pair\n", source: "/x/vdsm") } throws: {
            "\($0)" == #"/x/vdsm:2: expected KEY="value", found "this is not a pair"."#
        }
        #expect { try RegistryEntry.parse("NAME=\"a\nVERSION=1\n", source: "/x/vdsm") } throws: {
            "\($0)" == "/x/vdsm:1: the quoted value has no closing quote."
        }
        #expect { try RegistryEntry.parse("NAME=\"a\"\n", source: "/x/vdsm") } throws: {
            "\($0)" == #"/x/vdsm has no VERSION="..." line: every plugin registry entry needs one."#
        }
    }
}
