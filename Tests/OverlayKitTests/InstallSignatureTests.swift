import Foundation
import SystemPackage
import Testing

@testable import OverlayKit

/// Signature checks against trusted keys, with RPMs signed by rpmsign using throwaway GnuPG keys.
@Suite(.serialized) struct InstallSignatureTests {
    @Test func withTrustedKeysOnlyPackagesSignedByThemInstall() throws {
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
            trustedKeys: [FilePath(trusted.publicKey.path)])
        #expect(delta.installed == ["signed-1.0-1.noarch"])
        try delta.remove()
        try FileManager.default.removeItem(atPath: scratch.work.string)

        let unsigned = try RPMFixture.build([SpecPackage(name: "unsigned", files: ["/usr/share/unsigned/data": "x\n"])], into: scratch.rpms)
        let unsignedError = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: unsigned.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work,
                trustedKeys: [FilePath(trusted.publicKey.path)])
        }
        #expect(String(describing: unsignedError).contains(unsigned[0].path), "\(unsignedError)")
        #expect(String(describing: unsignedError).contains("not signed by a trusted key"), "\(unsignedError)")

        let foreign = try RPMFixture.build([SpecPackage(name: "foreign", files: ["/usr/share/foreign/data": "x\n"])], into: scratch.rpms)
        try stranger.sign(foreign)
        let foreignError = try #require(throws: InstallError.self) {
            try PackageInstaller.installDelta(
                packages: foreign.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work,
                trustedKeys: [FilePath(trusted.publicKey.path)])
        }
        #expect(String(describing: foreignError).contains(foreign[0].path), "\(foreignError)")
        #expect(String(describing: foreignError).contains("not signed by a trusted key"), "\(foreignError)")
        #expect(!mountsMention(scratch.directory.path))

        // Without trusted keys signatures are not checked: the stranger's package installs.
        let open = try PackageInstaller.installDelta(
            packages: foreign.map { FilePath($0.path) }, base: scratch.base, baseDBPath: "/var/lib/rpm", workDirectory: scratch.work)
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
                trustedKeys: [FilePath(bogus.path)])
        }
        #expect(String(describing: error).contains("The key file \(bogus.path) cannot be used"), "\(error)")
    }
}
