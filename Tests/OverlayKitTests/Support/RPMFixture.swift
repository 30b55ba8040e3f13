import Foundation
import TestSupport

/// A package described the way a spec file would, built into a real RPM by `rpmbuild`.
struct SpecPackage {
    var name: String
    var version = "1.0"
    var release = "1"
    var epoch: Int? = nil
    var arch = "noarch"
    var summary: String? = nil
    var requires: [String] = []
    var provides: [String] = []
    var conflicts: [String] = []
    var obsoletes: [String] = []
    /// Absolute path → content. Paths ending in "/" are directories; content "->target" makes a symlink.
    var files: [String: String] = [:]
    /// Absolute path in the package → a file on this machine copied into it as is (mode kept), e.g. the
    /// host's static `/bin/busybox`.
    var hostFiles: [String: String] = [:]
    var post: String? = nil
    /// Mode and owner overrides, `%attr(MODE,USER,GROUP)`, by path.
    var attributes: [String: String] = [:]

    var nevra: String { "\(name)-\(epoch.map { "\($0):" } ?? "")\(version)-\(release).\(arch)" }

    func specText(sourceDir: String) -> String {
        var spec = """
            %define _build_id_links none
            %define debug_package %{nil}
            %global __os_install_post %{nil}
            %define _source_payload w9.gzdio
            %define _binary_payload w9.gzdio
            Name: \(name)
            Version: \(version)
            Release: \(release)
            Summary: \(summary ?? "\(name) test package")
            License: MIT

            """
        if arch == "noarch" { spec += "BuildArch: noarch\n" }  // other archs: rpmbuild --target
        if let epoch { spec += "Epoch: \(epoch)\n" }
        for r in requires { spec += "Requires: \(r)\n" }
        for p in provides { spec += "Provides: \(p)\n" }
        for c in conflicts { spec += "Conflicts: \(c)\n" }
        for o in obsoletes { spec += "Obsoletes: \(o)\n" }
        spec += "AutoReqProv: no\n\n%description\n\(name) is built from a spec file for overlay's tests.\n\n%install\n"
        let allPaths = Set(files.keys).union(hostFiles.keys).sorted()
        for path in allPaths {
            let content = files[path] ?? ""
            if hostFiles[path] != nil {
                let source = "\(sourceDir)/\(name)\(path.replacingOccurrences(of: "/", with: "_"))"
                spec += "mkdir -p %{buildroot}\((path as NSString).deletingLastPathComponent)\n"
                spec += "cp -p \(source) %{buildroot}\(path)\n"
            } else if path.hasSuffix("/") {
                spec += "mkdir -p %{buildroot}\(path)\n"
            } else if content.hasPrefix("->") {
                spec += "mkdir -p %{buildroot}\((path as NSString).deletingLastPathComponent)\n"
                spec += "ln -s \(String(content.dropFirst(2))) %{buildroot}\(path)\n"
            } else {
                let source = "\(sourceDir)/\(name)\(path.replacingOccurrences(of: "/", with: "_"))"
                spec += "mkdir -p %{buildroot}\((path as NSString).deletingLastPathComponent)\n"
                spec += "cp \(source) %{buildroot}\(path)\n"
            }
        }
        if let post { spec += "\n%post\n\(post)\n" }
        spec += "\n%files\n"
        for path in allPaths {
            let listed = path.hasSuffix("/") ? "%dir \(String(path.dropLast()))" : path
            spec += (attributes[path].map { "%attr(\($0)) " } ?? "") + listed + "\n"
        }
        return spec
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case command(String, Int32, String)
    var description: String {
        switch self {
        case .command(let cmd, let code, let output): "\(cmd) exited \(code): \(output)"
        }
    }
}

/// Real RPMs, repos and rpmdbs for tests, made with rpmbuild, createrepo_c and rpm.
enum RPMFixture {
    /// Runs a command found on PATH, returning what it printed (standard output and error); throws with that
    /// output when it fails.
    @discardableResult
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> String {
        let output = try Command.capture(
            URL(fileURLWithPath: "/usr/bin/env"), arguments, environment: environment, in: directory,
            mergingErrors: true)
        guard output.status == 0 else {
            throw FixtureError.command(arguments.joined(separator: " "), output.status, output.stdout)
        }
        return output.stdout
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("overlay-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Builds each package with rpmbuild into `directory` and returns the RPM files.
    @discardableResult
    static func build(_ packages: [SpecPackage], into directory: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let top = try temporaryDirectory("rpmbuild")
        defer { try? FileManager.default.removeItem(at: top) }
        let sources = top.appendingPathComponent("SOURCES")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        var built: [URL] = []
        for package in packages {
            for (path, content) in package.files where !path.hasSuffix("/") && !content.hasPrefix("->") {
                let source = sources.appendingPathComponent("\(package.name)\(path.replacingOccurrences(of: "/", with: "_"))")
                try content.write(to: source, atomically: true, encoding: .utf8)
            }
            for (path, host) in package.hostFiles {
                let source = sources.appendingPathComponent("\(package.name)\(path.replacingOccurrences(of: "/", with: "_"))")
                try? FileManager.default.removeItem(at: source)
                try FileManager.default.copyItem(at: URL(fileURLWithPath: host), to: source)
            }
            let spec = top.appendingPathComponent("\(package.name).spec")
            try package.specText(sourceDir: sources.path).write(to: spec, atomically: true, encoding: .utf8)
            try run(
                [
                    "rpmbuild", "--quiet", "--nodeps", "--define", "_topdir \(top.path)", "--define", "_rpmdir \(directory.path)",
                    "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", "-bb", spec.path,
                ]
                    + (package.arch == "noarch" ? [] : ["--target", package.arch]),
                environment: ["SOURCE_DATE_EPOCH": "1700000000"])
            built.append(directory.appendingPathComponent("\(package.name)-\(package.version)-\(package.release).\(package.arch).rpm"))
        }
        return built
    }

    /// Builds the packages and turns the directory into an rpm-md repo with createrepo_c.
    @discardableResult
    static func repo(_ packages: [SpecPackage], at directory: URL) throws -> URL {
        try build(packages, into: directory)
        try run(["createrepo_c", "--quiet", "--no-database", directory.path])
        return directory
    }

    /// A base image root with a real rpmdb at `usr/lib/sysimage/rpm` or `var/lib/rpm` (sqlite), made by
    /// installing the packages with the rpm command, as a distribution's image builder would.
    static func base(_ packages: [SpecPackage], at root: URL, dbpath: String = "/var/lib/rpm") throws -> URL {
        let rpms = try temporaryDirectory("base-rpms")
        defer { try? FileManager.default.removeItem(at: rpms) }
        let files = try build(packages, into: rpms)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try run(["rpm", "--root", root.path, "--dbpath", dbpath, "--define", "_db_backend sqlite", "--initdb"])
        if !files.isEmpty {
            try run(
                [
                    "rpm", "--root", root.path, "--dbpath", dbpath, "--define", "_db_backend sqlite", "-i", "--nodeps", "--noscripts",
                    "--ignorearch",
                ] + files.map(\.path))
        }
        return root
    }
}

/// A throwaway OpenPGP signing key in its own GnuPG home, for signing fixture RPMs with rpmsign.
struct SigningKey {
    let home: URL
    let email: String
    /// The ASCII-armored public key, as a repository publishes it for `gpgkey=`.
    let publicKey: URL
    /// The key ID as rpm prints it ("key ID 84939930"): the last 8 hex digits, lowercase, as gpg lists it.
    let keyID: String

    /// Generates an RSA key (no passphrase) for `email` in `home`.
    init(email: String, home: URL) throws {
        self.home = home
        self.email = email
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let env = ["GNUPGHOME": home.path]
        try RPMFixture.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Fixture <\(email)>", "rsa2048", "sign", "never"], environment: env)
        let armored = try RPMFixture.run(["gpg", "--batch", "--armor", "--export", email], environment: env)
        publicKey = home.appendingPathComponent("public.asc")
        try armored.write(to: publicKey, atomically: true, encoding: .utf8)
        let listing = try RPMFixture.run(["gpg", "--batch", "--with-colons", "--list-keys", email], environment: env)
        let pub = listing.split(separator: "\n").first { $0.hasPrefix("pub:") }?.split(separator: ":", omittingEmptySubsequences: false)
        keyID = String((pub.map { String($0[4]) } ?? "").suffix(8)).lowercased()
    }

    /// Signs the RPMs in place with rpmsign.
    func sign(_ rpms: [URL]) throws {
        try RPMFixture.run(
            ["rpmsign", "--addsign", "--define", "__gpg /usr/bin/gpg", "--define", "_gpg_name \(email)", "--define", "_gpg_path \(home.path)"]
                + rpms.map(\.path), environment: ["GNUPGHOME": home.path])
    }

    /// Stops the gpg-agent gpg started for this home.
    func close() {
        _ = try? RPMFixture.run(["gpgconf", "--kill", "gpg-agent"], environment: ["GNUPGHOME": home.path])
    }
}

/// Module metadata for fixture repos: modulemd v2 stream documents and modulemd-defaults documents, added to a
/// createrepo_c repo with modifyrepo_c as a distribution's compose does.
struct ModuleFixture {
    struct Stream {
        var name: String
        var stream: String
        var version = 1
        var context = "c0ffee42"
        /// NEVRAs as modulemd writes them: `name-epoch:version-release.arch`.
        var artifacts: [String]
        /// `platform: [el9]`-style run-time requirements.
        var requires: [String: [String]] = [:]
    }
    var streams: [Stream]
    /// Module → default stream.
    var defaults: [String: String] = [:]

    var yaml: String {
        var text = ""
        for stream in streams {
            text += """
                ---
                document: modulemd
                version: 2
                data:
                  name: \(stream.name)
                  stream: "\(stream.stream)"
                  version: \(stream.version)
                  context: \(stream.context)
                  arch: noarch
                  summary: \(stream.name) \(stream.stream)
                  description: The \(stream.name) module, stream \(stream.stream).
                  license:
                    module: [MIT]

                """
            if !stream.requires.isEmpty {
                text += "  dependencies:\n  - requires:\n"
                for (module, streams) in stream.requires.sorted(by: { $0.key < $1.key }) {
                    text += "      \(module): [\(streams.joined(separator: ", "))]\n"
                }
            }
            text += "  artifacts:\n    rpms:\n" + stream.artifacts.map { "    - \($0)\n" }.joined() + "...\n"
        }
        for (module, stream) in defaults.sorted(by: { $0.key < $1.key }) {
            text += "---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: \(module)\n  stream: \"\(stream)\"\n...\n"
        }
        return text
    }

    /// Writes modules.yaml into the repo's metadata (modifyrepo_c compresses it and lists it in repomd.xml).
    func add(to repo: URL) throws {
        let file = repo.appendingPathComponent("modules.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try RPMFixture.run(["modifyrepo_c", "--mdtype=modules", file.path, repo.appendingPathComponent("repodata").path])
    }
}
