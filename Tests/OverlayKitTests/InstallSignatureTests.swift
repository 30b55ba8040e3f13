import Foundation
import SystemPackage
import Testing

@testable import OverlayKit

/// Signature checks against a requirement's keys, with RPMs signed by rpmsign using throwaway GnuPG keys.
@Suite(.serialized) struct InstallSignatureTests {
    static func requirement(_ key: SigningKey, packages: [URL]) throws -> SignatureRequirement {
        SignatureRequirement(
            source: "repo \"test\"", keys: [try ArmoredKey.read(FilePath(key.publicKey.path))],
            packages: packages.map { FilePath($0.path) }, remedy: "add the key")
    }

    @Test func withKeysOnlyPackagesSignedByThemInstall() throws {
        let scratch = try InstallDeltaTests.Scratch()
        defer { scratch.cleanup() }
        let trusted = try SigningKey(email: "trusted@example.invalid", home: scratch.directory.appendingPathComponent("gpg-trusted"))
        defer { trusted.close() }
        let stranger = try SigningKey(email: "stranger@example.invalid", home: scratch.directory.appendingPathComponent("gpg-stranger"))
        defer { stranger.close() }

        let signed = try RPMFixture.build([SpecPackage(name: "signed", files: ["/usr/share/signed/data": "x\n"])], into: scratch.rpms)
        try trusted.sign(signed)
        let delta = try PackageInstaller.installDelta(
            packages: signed.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work,
            signatures: [Self.requirement(trusted, packages: signed)])
        #expect(delta.installed == ["signed-1.0-1.noarch"])
        try delta.remove()
        try FileManager.default.removeItem(atPath: scratch.work.string)

        let unsigned = try RPMFixture.build([SpecPackage(name: "unsigned", files: ["/usr/share/unsigned/data": "x\n"])], into: scratch.rpms)
        let unsignedError = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: unsigned.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work,
                signatures: [Self.requirement(trusted, packages: unsigned)])
        }
        #expect(
            String(describing: unsignedError)
                == "unsigned-1.0-1.noarch (\(unsigned[0].path)) from repo \"test\" is not signed, but that repo requires signed packages (keys tried: \(trusted.keyID) from \(trusted.publicKey.path)): add the key"
        )

        let foreign = try RPMFixture.build([SpecPackage(name: "foreign", files: ["/usr/share/foreign/data": "x\n"])], into: scratch.rpms)
        try stranger.sign(foreign)
        let foreignError = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: foreign.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work,
                signatures: [Self.requirement(trusted, packages: foreign)])
        }
        #expect(
            String(describing: foreignError)
                == "foreign-1.0-1.noarch (\(foreign[0].path)) from repo \"test\" is signed with key \(stranger.keyID), which is not one of the keys tried (\(trusted.keyID) from \(trusted.publicKey.path)): add the key"
        )
        #expect(!mountsMention(scratch.directory.path))
        #expect(!FileManager.default.fileExists(atPath: scratch.work.string))

        // Packages no requirement lists are not checked: the stranger's package installs.
        let open = try PackageInstaller.installDelta(
            packages: foreign.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work,
            signatures: [Self.requirement(trusted, packages: [])])
        #expect(open.installed == ["foreign-1.0-1.noarch"])
    }

    @Test func aKeyFileWithoutAKeyIsAnErrorNamingIt() throws {
        let scratch = try RPMFixture.temporaryDirectory("install-keys")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bogus = scratch.appendingPathComponent("RPM-GPG-KEY-bogus")
        try "not a key\n".write(to: bogus, atomically: true, encoding: .utf8)
        let rpms = try RPMFixture.build([SpecPackage(name: "any", files: ["/usr/share/any/data": "x\n"])], into: scratch.appendingPathComponent("rpms"))
        let error = try #require(throws: InstallError.self) {
            try PackageInstaller.installBase(
                packages: rpms.map { FilePath($0.path) }, root: FilePath(scratch.appendingPathComponent("root").path),
                signatures: [
                    SignatureRequirement(
                        source: "repo \"test\"", keys: [try ArmoredKey.read(FilePath(bogus.path))],
                        packages: rpms.map { FilePath($0.path) }, remedy: "add the key")
                ])
        }
        #expect(
            String(describing: error)
                == "\(bogus.path) cannot be used to check package signatures (it holds no ASCII-armored public key block): give the ASCII-armored OpenPGP public key the packages are signed with (gpg --armor --export KEYID)"
        )
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("root").path))
    }
}
