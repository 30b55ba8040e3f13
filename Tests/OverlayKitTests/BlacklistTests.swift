import Testing

@testable import OverlayKit

@Suite struct BlacklistTests {
    @Test func globsMatchWithinAndAcrossComponents() {
        let blacklist = Blacklist(["/usr/share/doc/**", "/usr/share/man/man?/*.gz", "/**/__pycache__/**", "/etc/[ab]*.conf"])
        #expect(blacklist.matches("/usr/share/doc/vdsm/README"))
        #expect(blacklist.matches("/usr/share/doc"))
        #expect(blacklist.matches("/usr/share/man/man8/vdsm-tool.8.gz"))
        #expect(!blacklist.matches("/usr/share/man/man8/sub/vdsm-tool.8.gz"))
        #expect(blacklist.matches("/usr/lib/python3.9/site-packages/vdsm/__pycache__/api.cpython-39.pyc"))
        #expect(blacklist.matches("/__pycache__"))
        #expect(blacklist.matches("/etc/a.conf"))
        #expect(!blacklist.matches("/etc/c.conf"))
        #expect(!blacklist.matches("/usr/bin/vdsm"))
        #expect(Blacklist(["/"]).matches("/"))
        #expect(!Blacklist(["/"]).matches("/usr"))
    }

    /// A plugin's blacklist is applied to every path of its delta. Each `**` used to try every split of the path in
    /// turn, so seven of them against a 40-component path took longer than any build (found by fuzzing plugin.toml);
    /// matching is now proportional to the glob's length times the path's.
    @Test(.timeLimit(.minutes(1))) func manyDoubleStarsOnADeepPathAnswerAtOnce() {
        let deep = "/" + Array(repeating: "a", count: 40).joined(separator: "/")
        #expect(!Blacklist(["/**/**/**/**/**/**/**/b"]).matches(deep))
        #expect(Blacklist(["/**/**/**/**/**/**/**/a"]).matches(deep))
        #expect(!Blacklist(["/**/a/**/a/**/a/**/a/**/a/**/a/**/b/**"]).matches(deep))
        #expect(Blacklist(["/**/a/**/a/**/a/**/a/**/a/**/a/**"]).matches(deep))
    }
}
