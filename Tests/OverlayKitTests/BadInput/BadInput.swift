import Foundation
import SystemPackage
import Testing

/// One bad input: how to make it, the command a user runs on it, and exactly what that user must see.
///
/// Each case runs in a directory of its own, which is the command's working directory, so arguments and messages
/// use short relative paths (`plugin/plugin.toml`). In `arguments` and `stderr`, `{case}` is that directory and
/// `{base}` the shared base image; in `arguments`, `{ro}` is a directory on a read-only filesystem (a tmpfs
/// mounted read-only in a mount namespace of the command's own); in `stderr`, `{sha256}` and `{sha1}` stand for
/// any such digest. `stderr` is the whole of standard error, one line, without its newline.
struct BadInput: Sendable, CustomTestStringConvertible {
    var name: String
    /// Makes the bad input in the case's directory.
    var setup: @Sendable (BadInputScene) throws -> Void
    var arguments: [String]
    var status: Int32
    var stderr: String

    var testDescription: String { name }
}

/// The case's directory and the shared fixture, for `BadInput.setup`.
struct BadInputScene {
    let directory: URL
    let fixture: BadInputFixture

    /// Runs a shell script in the case's directory, with the fixture's paths in `$BASE`, `$REPO`, `$ARMREPO`,
    /// `$BDB`, `$SRV` and its scripts in `$TAR`, `$RECHECKSUM` and `$FLIP` (see `BadInputFixture`).
    func sh(_ script: String) throws {
        try RPMFixture.run(["sh", "-ec", script], in: directory, environment: fixture.environment)
    }

    /// Writes `text` (UTF-8) to a path relative to the case's directory, creating the directories on the way.
    func write(_ text: String, to relative: String) throws {
        let url = directory.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// `plugin/`: plugin.toml with `toml`, the fixture's good repo as `rpms/` when `rpms`, and `repos/*.repo` files;
    /// then the shell script `then`, when given.
    func plugin(_ toml: String = BadInput.goodToml, rpms: Bool = false, repos: [String: String] = [:], then script: String? = nil) throws {
        try write(toml, to: "plugin/plugin.toml")
        if rpms { try sh("cp -r \"$REPO\" plugin/rpms") }
        for (name, text) in repos { try write(text, to: "plugin/repos/\(name)") }
        if let script { try sh(script) }
    }
}

extension BadInput {
    static let goodToml = "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\n"

    /// `overlay build` of `plugin` against the shared base into `out`, with a cache of the case's own.
    static func build(_ plugin: String = "plugin", base: String = "{base}", _ extra: [String] = []) -> [String] {
        ["build", "--base", base, "--plugin", plugin, "--out", "out", "--cachedir", "cache"] + extra
    }

    /// `overlay boot-config` of `fleet.toml` over the served directory `srv` into `boot`.
    static let bootConfig = ["boot-config", "--dir", "srv", "--fleet", "fleet.toml", "--out", "boot"]

    /// A plugin.toml case: `toml` is the whole file, written to plugin/plugin.toml.
    static func toml(_ name: String, _ toml: String, _ stderr: String) -> BadInput {
        BadInput(name: "plugin.toml: \(name)", setup: { try $0.plugin(toml) }, arguments: build(), status: 1, stderr: stderr)
    }

    /// A .repo case: the plugin bundles the good repo and has `repos/x.repo` with `text`.
    static func repo(_ name: String, _ text: String, _ stderr: String, arguments: [String] = build()) -> BadInput {
        BadInput(name: ".repo: \(name)", setup: { try $0.plugin(rpms: true, repos: ["x.repo": text]) }, arguments: arguments, status: 1, stderr: stderr)
    }

    /// A bundle case: `make` is a shell script that writes the bundle `file` in the case's directory.
    static func bundle(_ name: String, _ file: String, _ make: String, _ stderr: String) -> BadInput {
        BadInput(name: "bundle: \(name)", setup: { try $0.sh(make) }, arguments: build(file), status: 1, stderr: stderr)
    }

    /// A case about the plugin's bundled repo: the plugin bundles the good repo, then `damage` runs in the case's
    /// directory.
    static func packages(_ name: String, _ damage: String, _ stderr: String, status: Int32 = 1, toml: String = goodToml) -> BadInput {
        BadInput(name: name, setup: { try $0.plugin(toml, rpms: true, then: damage) }, arguments: build(), status: status, stderr: stderr)
    }

    /// A base image case: `make` builds the base root `base` in the case's directory.
    static func base(_ name: String, _ make: String, _ stderr: String, command: String = "build") -> BadInput {
        let arguments = command == "plan" ? ["plan", "--base", "base", "--plugin", "plugin", "--cachedir", "cache"] : build(base: "base")
        return BadInput(name: "base: \(name)", setup: { try $0.plugin(rpms: true, then: make) }, arguments: arguments, status: 1, stderr: stderr)
    }

    /// A fleet case: the fixture's served directory as `srv`, `fleet` as fleet.toml, then `more` (a shell script).
    static func fleet(_ name: String, _ fleet: String, _ stderr: String, more: String = "", arguments: [String] = bootConfig) -> BadInput {
        BadInput(
            name: "fleet: \(name)",
            setup: {
                try $0.sh("cp -r \"$SRV\" srv")
                try $0.write(fleet, to: "fleet.toml")
                if !more.isEmpty { try $0.sh(more) }
            }, arguments: arguments, status: 1, stderr: stderr)
    }

    /// The start of a fleet that boots the served directory's base.
    static let fleetBase = "[base]\nkernel = \"vmlinuz\"\ninitrd = [\"base.cpio.zst\"]\n"
}
