import Foundation
import SystemPackage
import Testing

@testable import OverlayKit
import TestSupport

/// Repo signature checks (dnf's gpgcheck) through `overlay build` and `overlay plan`, with RPMs signed by
/// rpmsign using throwaway GnuPG keys, file:// and http:// repos and keys.
@Suite(.serialized) struct GPGCheckTests {
    let work: URL
    let base: URL
    let cache: URL
    let trusted: SigningKey

    init() throws {
        work = try RPMFixture.temporaryDirectory("gpgcheck")
        base = try RPMFixture.base(BuildTests.basePackages, at: work.appendingPathComponent("base"))
        cache = work.appendingPathComponent("cache")
        trusted = try SigningKey(email: "trusted@example.invalid", home: work.appendingPathComponent("gpg-trusted"))
    }

    /// Stops the key's gpg-agent and removes the test's files.
    func finish() {
        trusted.close()
        try? FileManager.default.removeItem(at: work)
    }

    func overlay(_ arguments: [String]) throws -> OverlayCommand.Output {
        try OverlayCommand.run(arguments + ["--cachedir", cache.path])
    }

    /// An rpm-md repo of `packages`, each signed by `signer` when one is given.
    func repo(_ name: String, _ packages: [SpecPackage], signedBy signer: SigningKey?) throws -> URL {
        let directory = work.appendingPathComponent(name)
        let rpms = try RPMFixture.build(packages, into: directory)
        if let signer { try signer.sign(rpms) }
        try RPMFixture.run(["createrepo_c", "--quiet", "--no-database", directory.path])
        return directory
    }

    /// A plugin asking for `agent`, with one `.repo` file.
    func plugin(_ name: String, repoFile: String, keys: [URL] = []) throws -> URL {
        let directory = try PluginFixture.make(
            at: work.appendingPathComponent("plugins/\(name)"), name: name, packages: ["agent"],
            repoFiles: ["\(name).repo": repoFile])
        try install(keys, into: directory)
        return directory
    }

    /// A plugin with a bundled rpms/ repo of `agent`, signed by `signer` when one is given, and `keys/`.
    func bundledPlugin(_ name: String, signedBy signer: SigningKey?, keys: [URL]) throws -> URL {
        let directory = try PluginFixture.make(at: work.appendingPathComponent("plugins/\(name)"), name: name, packages: ["agent"])
        let rpms = directory.appendingPathComponent("rpms")
        let files = try RPMFixture.build([Self.agent], into: rpms)
        if let signer { try signer.sign(files) }
        try RPMFixture.run(["createrepo_c", "--quiet", "--no-database", rpms.path])
        try install(keys, into: directory)
        return directory
    }

    func install(_ keys: [URL], into plugin: URL) throws {
        guard !keys.isEmpty else { return }
        let directory = plugin.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (index, key) in keys.enumerated() {
            try FileManager.default.copyItem(at: key, to: directory.appendingPathComponent("key\(index).asc"))
        }
    }

    static let agent = SpecPackage(name: "agent", requires: ["corelib"], files: ["/usr/bin/agent": "a\n"])

    func listing(_ directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    /// The overlay's entries, and the contents of every regular file in it, listed by the cpio tool.
    func unpacked(_ overlay: URL) throws -> (entries: [String], text: String) {
        let target = work.appendingPathComponent("extracted-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try RPMFixture.run(["sh", "-c", "cd '\(target.path)' && zstd -dc '\(overlay.path)' | cpio --quiet -idm"])
        let entries = try RPMFixture.run(["sh", "-c", "cd '\(target.path)' && find . -mindepth 1 | sort"])
        let text = try RPMFixture.run(["sh", "-c", "cd '\(target.path)' && find . -type f -exec cat {} +"])
        return (entries.split(separator: "\n").map { String($0.dropFirst(2)) }, text)
    }

    /// The names the base's rpmdb lists, read with rpm.
    func basePackageNames() throws -> [String] {
        try RPMFixture.run(["rpm", "--root", base.path, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}\n"])
            .split(separator: "\n").map(String.init).sorted()
    }

    @Test func aSignedPackageWithItsRepoKeyBuildsAndNoKeyReachesTheOverlayOrTheBase() throws {
        defer { finish() }
        let repo = try repo("extra", [Self.agent], signedBy: trusted)
        let dir = try plugin("signed", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\ngpgkey=file://\(trusted.publicKey.path)\n")
        // rpm reading the rpmdb may touch its files: the names are read before the snapshot is taken.
        let packagesBefore = try basePackageNames()
        let before = try TreeSnapshot(FilePath(base.path))

        let plan = try overlay(["plan", "--base", base.path, "--plugin", dir.path, "--enablerepo", "extra"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let out = work.appendingPathComponent("out")
        let built = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--enablerepo", "extra", "--out", out.path])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr == "")

        let tree = try unpacked(out.appendingPathComponent("signed-1.0.cpio.zst"))
        #expect(tree.entries == ["etc", "etc/ovirt.plugins.d", "etc/ovirt.plugins.d/signed", "usr", "usr/bin", "usr/bin/agent"])
        #expect(!tree.text.contains("PGP PUBLIC KEY"))
        #expect(try TreeSnapshot(FilePath(base.path)) == before)
        #expect(try basePackageNames() == packagesBefore)
        #expect(!packagesBefore.contains("gpg-pubkey"))
    }

    @Test func severalGpgkeyURLsAreTriedAndAKeyOnlyOfAnotherRepoDoesNotCount() throws {
        defer { finish() }
        let stranger = try SigningKey(email: "stranger@example.invalid", home: work.appendingPathComponent("gpg-stranger"))
        defer { stranger.close() }
        let repo = try repo("extra", [Self.agent], signedBy: stranger)
        // Commas and whitespace separate keys, and continuation lines add more, as dnf reads them.
        let both = try plugin(
            "both",
            repoFile: """
                [extra]
                name=Extra
                baseurl=file://\(repo.path)
                gpgkey=file://\(trusted.publicKey.path),
                  file://\(stranger.publicKey.path)

                """)
        let out = work.appendingPathComponent("out")
        let built = try overlay(["build", "--base", base.path, "--plugin", both.path, "--enablerepo", "extra", "--out", out.path])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(listing(out) == ["both-1.0.cpio.zst", "both-1.0.json", "both-1.0.rpmheaders"])

        // gpgkey= without a gpgcheck line checks: the stranger's package is refused against the trusted key alone.
        let one = try plugin("one", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgkey=file://\(trusted.publicKey.path)\n")
        let refusedOut = work.appendingPathComponent("refused")
        let refused = try overlay(["build", "--base", base.path, "--plugin", one.path, "--enablerepo", "extra", "--out", refusedOut.path])
        #expect(refused.status == 1)
        let rpm = repo.appendingPathComponent("agent-1.0-1.noarch.rpm").path
        #expect(
            refused.stderr
                == "plugin \"one\": agent-1.0-1.noarch (\(rpm)) from repo \"extra\" is signed with key \(stranger.keyID), which is not one of the keys tried (\(trusted.keyID) from file://\(trusted.publicKey.path)): add the signing key to the plugin's keys/ or the repo's gpgkey= (\(one.path)/repos/one.repo:1), or pass --nogpgcheck\n"
        )
        #expect(listing(refusedOut) == [])

        // gpgcheck=0 turns the check off even with gpgkey=.
        let off = try plugin("off", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=0\ngpgkey=file://\(trusted.publicKey.path)\n")
        let offOut = work.appendingPathComponent("off-out")
        let unchecked = try overlay(["build", "--base", base.path, "--plugin", off.path, "--enablerepo", "extra", "--out", offOut.path])
        #expect(unchecked.status == 0, "\(unchecked.stderr)")
    }

    @Test func anUnsignedPackageIsRefusedWithNothingWrittenUnlessNogpgcheck() throws {
        defer { finish() }
        let repo = try repo("extra", [Self.agent], signedBy: nil)
        let dir = try plugin("unsigned", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\ngpgkey=file://\(trusted.publicKey.path)\n")
        let before = try TreeSnapshot(FilePath(base.path))
        let out = work.appendingPathComponent("out")
        let refused = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--enablerepo", "extra", "--out", out.path])
        #expect(refused.status == 1)
        let rpm = repo.appendingPathComponent("agent-1.0-1.noarch.rpm").path
        #expect(
            refused.stderr
                == "plugin \"unsigned\": agent-1.0-1.noarch (\(rpm)) from repo \"extra\" is not signed, but that repo requires signed packages (keys tried: \(trusted.keyID) from file://\(trusted.publicKey.path)): add the signing key to the plugin's keys/ or the repo's gpgkey= (\(dir.path)/repos/unsigned.repo:1), or pass --nogpgcheck\n"
        )
        #expect(listing(out) == [])
        #expect(try TreeSnapshot(FilePath(base.path)) == before)
        #expect(!mountsMention(work.path))

        let unchecked = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--enablerepo", "extra", "--out", out.path, "--nogpgcheck"])
        #expect(unchecked.status == 0, "\(unchecked.stderr)")
        #expect(listing(out) == ["unsigned-1.0.cpio.zst", "unsigned-1.0.json", "unsigned-1.0.rpmheaders"])
    }

    @Test func theBundledRepoIsCheckedAgainstThePluginsKeys() throws {
        defer { finish() }
        let signed = try bundledPlugin("bundled", signedBy: trusted, keys: [trusted.publicKey])
        let out = work.appendingPathComponent("out")
        let built = try overlay(["build", "--base", base.path, "--plugin", signed.path, "--out", out.path])
        #expect(built.status == 0, "\(built.stderr)")
        let tree = try unpacked(out.appendingPathComponent("bundled-1.0.cpio.zst"))
        #expect(tree.entries == ["etc", "etc/ovirt.plugins.d", "etc/ovirt.plugins.d/bundled", "usr", "usr/bin", "usr/bin/agent"])
        #expect(!tree.text.contains("PGP PUBLIC KEY"))

        let loose = try bundledPlugin("loose", signedBy: nil, keys: [trusted.publicKey])
        let looseOut = work.appendingPathComponent("loose-out")
        let refused = try overlay(["build", "--base", base.path, "--plugin", loose.path, "--out", looseOut.path])
        #expect(refused.status == 1)
        let rpm = loose.appendingPathComponent("rpms/agent-1.0-1.noarch.rpm").path
        #expect(
            refused.stderr
                == "plugin \"loose\": agent-1.0-1.noarch (\(rpm)) from repo \"loose-bundled\" is not signed, but that repo requires signed packages (keys tried: \(trusted.keyID) from \(loose.path)/keys/key0.asc): add the signing key to the plugin's keys/ (\(loose.path)/keys), or pass --nogpgcheck\n"
        )
        #expect(listing(looseOut) == [])
        let unchecked = try overlay(["build", "--base", base.path, "--plugin", loose.path, "--out", looseOut.path, "--nogpgcheck"])
        #expect(unchecked.status == 0, "\(unchecked.stderr)")

        // keys/ also counts for a .repo repo with gpgcheck=1 and no gpgkey=.
        let repo = try repo("extra", [Self.agent], signedBy: trusted)
        let shipped = try plugin("shipped", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\n", keys: [trusted.publicKey])
        let shippedOut = work.appendingPathComponent("shipped-out")
        let viaKeys = try overlay(["build", "--base", base.path, "--plugin", shipped.path, "--enablerepo", "extra", "--out", shippedOut.path])
        #expect(viaKeys.status == 0, "\(viaKeys.stderr)")
    }

    @Test func aPackageChangedAfterSigningIsRefused() throws {
        defer { finish() }
        let repo = try repo("extra", [Self.agent], signedBy: trusted)
        let rpm = repo.appendingPathComponent("agent-1.0-1.noarch.rpm")
        var bytes = try Data(contentsOf: rpm)
        bytes[bytes.count - 40] ^= 0xFF
        try bytes.write(to: rpm)
        // The repo metadata is made again, so only the signature check can tell.
        try RPMFixture.run(["createrepo_c", "--quiet", "--no-database", repo.path])
        let dir = try plugin("tampered", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\ngpgkey=file://\(trusted.publicKey.path)\n")
        let out = work.appendingPathComponent("out")
        let refused = try overlay(["build", "--base", base.path, "--plugin", dir.path, "--enablerepo", "extra", "--out", out.path])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.hasPrefix(
                "plugin \"tampered\": agent-1.0-1.noarch (\(rpm.path)) from repo \"extra\" does not verify against the keys tried (\(trusted.keyID) from file://\(trusted.publicKey.path)); rpm says: "
            ), "\(refused.stderr)")
        #expect(refused.stderr.contains("Payload SHA256 digest: BAD"))
        #expect(refused.stderr.hasSuffix("; the file was changed or damaged after it was signed: get an intact copy from where the repo publishes it\n"))
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(listing(out) == [])
    }

    @Test func keysOverHTTPAndCachedPackagesAreCheckedOnEveryUse() throws {
        defer { finish() }
        let served = work.appendingPathComponent("served")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: trusted.publicKey, to: served.appendingPathComponent("RPM-GPG-KEY-trusted"))
        let signedRepo = try repo("served/signed", [Self.agent], signedBy: trusted)
        _ = try repo("served/unsigned", [Self.agent], signedBy: nil)
        let server = try LocalHTTPServer(directory: served)
        defer { server.stop() }
        let root = "http://127.0.0.1:\(server.port)"

        let web = try plugin("web", repoFile: "[web]\nname=Web\nbaseurl=\(root)/signed/\ngpgcheck=1\ngpgkey=\(root)/RPM-GPG-KEY-trusted\n")
        let out = work.appendingPathComponent("out")
        let built = try overlay(["build", "--base", base.path, "--plugin", web.path, "--enablerepo", "web", "--out", out.path])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(FileManager.default.fileExists(atPath: cache.appendingPathComponent("packages/web/agent-1.0-1.noarch.rpm").path))
        #expect(FileManager.default.fileExists(atPath: signedRepo.path))

        let missing = try plugin("missing", repoFile: "[web]\nname=Web\nbaseurl=\(root)/signed/\ngpgcheck=1\ngpgkey=\(root)/RPM-GPG-KEY-missing\n")
        let expected =
            "plugin \"missing\": \(missing.path)/repos/missing.repo:5: gpgkey \(root)/RPM-GPG-KEY-missing cannot be fetched (the server answered HTTP 404): fix the URL, or pass --nogpgcheck\n"
        let missingOut = work.appendingPathComponent("missing-out")
        let failed = try overlay(["build", "--base", base.path, "--plugin", missing.path, "--enablerepo", "web", "--out", missingOut.path])
        #expect(failed.status == 1)
        #expect(failed.stderr == expected)
        #expect(listing(missingOut) == [])
        let planned = try overlay(["plan", "--base", base.path, "--plugin", missing.path, "--enablerepo", "web"])
        #expect(planned.status == 1)
        #expect(planned.stderr == expected)
        #expect(try overlay(["plan", "--base", base.path, "--plugin", missing.path, "--enablerepo", "web", "--nogpgcheck"]).status == 0)

        // An unsigned package fetched once with --nogpgcheck sits in the cache; a checked build refuses it there.
        let loose = try plugin("loose", repoFile: "[loose]\nname=Loose\nbaseurl=\(root)/unsigned/\ngpgcheck=1\ngpgkey=\(root)/RPM-GPG-KEY-trusted\n")
        let looseOut = work.appendingPathComponent("loose-out")
        let fetched = try overlay(["build", "--base", base.path, "--plugin", loose.path, "--enablerepo", "loose", "--out", looseOut.path, "--nogpgcheck"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let cached = cache.appendingPathComponent("packages/loose/agent-1.0-1.noarch.rpm").path
        #expect(FileManager.default.fileExists(atPath: cached))
        let checkedOut = work.appendingPathComponent("checked-out")
        let refused = try overlay(["build", "--base", base.path, "--plugin", loose.path, "--enablerepo", "loose", "--out", checkedOut.path])
        #expect(refused.status == 1)
        #expect(
            refused.stderr
                == "plugin \"loose\": agent-1.0-1.noarch (\(cached)) from repo \"loose\" is not signed, but that repo requires signed packages (keys tried: \(trusted.keyID) from \(root)/RPM-GPG-KEY-trusted): add the signing key to the plugin's keys/ or the repo's gpgkey= (\(loose.path)/repos/loose.repo:1), or pass --nogpgcheck\n"
        )
        #expect(listing(checkedOut) == [])
    }

    @Test func unusableKeysAreOneLineErrorsNamingWhereTheyAre() throws {
        defer { finish() }
        let repo = try repo("extra", [Self.agent], signedBy: trusted)
        let bogus = work.appendingPathComponent("RPM-GPG-KEY-bogus")
        try "not a key\n".write(to: bogus, atomically: true, encoding: .utf8)

        let badURL = try plugin("badurl", repoFile: "# a comment\n[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\ngpgkey=file://\(bogus.path)\n")
        let expected =
            "plugin \"badurl\": \(badURL.path)/repos/badurl.repo:6: gpgkey file://\(bogus.path) cannot be used to check package signatures (it holds no ASCII-armored public key block): give the ASCII-armored OpenPGP public key the packages are signed with (gpg --armor --export KEYID)\n"
        let plan = try overlay(["plan", "--base", base.path, "--plugin", badURL.path, "--enablerepo", "extra"])
        #expect(plan.status == 1)
        #expect(plan.stderr == expected)
        let out = work.appendingPathComponent("out")
        let build = try overlay(["build", "--base", base.path, "--plugin", badURL.path, "--enablerepo", "extra", "--out", out.path])
        #expect(build.status == 1)
        #expect(build.stderr == expected)
        #expect(listing(out) == [])

        let absent = work.appendingPathComponent("no-such-key.asc").path
        let gone = try plugin("gone", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\ngpgkey=file://\(absent)\n")
        let goneResult = try overlay(["plan", "--base", base.path, "--plugin", gone.path, "--enablerepo", "extra"])
        #expect(goneResult.status == 1)
        #expect(goneResult.stderr.hasPrefix("plugin \"gone\": \(gone.path)/repos/gone.repo:5: gpgkey file://\(absent) cannot be fetched ("))
        #expect(goneResult.stderr.hasSuffix("): fix the URL, or pass --nogpgcheck\n"))

        let badFile = try bundledPlugin("badfile", signedBy: trusted, keys: [bogus])
        let fileResult = try overlay(["build", "--base", base.path, "--plugin", badFile.path, "--out", out.path])
        #expect(fileResult.status == 1)
        #expect(
            fileResult.stderr
                == "plugin \"badfile\": \(badFile.path)/keys/key0.asc cannot be used to check package signatures (it holds no ASCII-armored public key block): give the ASCII-armored OpenPGP public key the packages are signed with (gpg --armor --export KEYID)\n"
        )

        let keyless = try plugin("keyless", repoFile: "[extra]\nname=Extra\nbaseurl=file://\(repo.path)\ngpgcheck=1\n")
        let keylessResult = try overlay(["build", "--base", base.path, "--plugin", keyless.path, "--enablerepo", "extra", "--out", out.path])
        #expect(keylessResult.status == 1)
        #expect(
            keylessResult.stderr
                == "plugin \"keyless\": \(keyless.path)/repos/keyless.repo:1: repo \"extra\" has gpgcheck on but no gpgkey=, and plugin \"keyless\" has no keys/: add gpgkey= with the URL of the repo's public key, put the key in the plugin's keys/, or pass --nogpgcheck\n"
        )
        #expect(listing(out) == [])
        #expect(try overlay(["build", "--base", base.path, "--plugin", keyless.path, "--enablerepo", "extra", "--out", out.path, "--nogpgcheck"]).status == 0)
    }

    @Test func gpgkeyAndGpgcheckAreReadAsDnfReadsThem() throws {
        defer { finish() }
        let text = """
            [a]
            baseurl=file:///repo
            gpgkey=file:///k1.asc, https://example.invalid/$basearch/k2.asc
              file:///k3.asc
            [b]
            baseurl=file:///repo
            gpgcheck=yes
            [c]
            baseurl=file:///repo

            """
        let repos = try RepoDefinition.parse(text, file: "x.repo", arch: "x86_64")
        #expect(repos.map(\.gpgcheck) == [true, true, false])
        #expect(repos[0].gpgKeys == ["file:///k1.asc", "https://example.invalid/x86_64/k2.asc", "file:///k3.asc"])
        #expect(repos[0].gpgKeyOrigin == "x.repo:3")

        let bare = try #require(throws: PluginError.self) {
            try RepoDefinition.parse("[a]\nbaseurl=file:///repo\ngpgkey=/etc/pki/rpm-gpg/KEY\n", file: "x.repo", arch: "x86_64")
        }
        #expect(
            bare.description
                == "x.repo:3: repo \"a\" gpgkey \"/etc/pki/rpm-gpg/KEY\" is not a file://, http:// or https:// URL; write an absolute URL such as file:///srv/repo or https://host/path"
        )
        let release = try #require(throws: PluginError.self) {
            try RepoDefinition.parse("[a]\nbaseurl=file:///repo\ngpgkey=file:///RPM-GPG-KEY-$releasever\n", file: "x.repo", arch: "x86_64")
        }
        #expect(release.description == "x.repo:3: repo \"a\" gpgkey uses $releasever, which overlay does not expand; write the value out")
        let maybe = try #require(throws: PluginError.self) {
            try RepoDefinition.parse("[a]\nbaseurl=file:///repo\ngpgcheck=maybe\n", file: "x.repo", arch: "x86_64")
        }
        #expect(maybe.description == "x.repo:3: repo \"a\" gpgcheck=maybe is not a yes/no value; write gpgcheck=1 or gpgcheck=0")
    }
}
