import Foundation
import SystemPackage
@testable import OverlayKit

/// Plugin directories for tests: plugin.toml, an optional bundled repo of real RPMs, optional .repo files.
enum PluginFixture {
    @discardableResult
    static func make(
        at directory: URL, name: String, version: String = "1.0", packages: [String], bundled: [SpecPackage] = [],
        requires: [String] = [], blacklist: [String] = [], modules: [String] = [], repoFiles: [String: String] = [:]
    ) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func list(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        var toml = """
            name = "\(name)"
            version = "\(version)"
            summary = "The \(name) plugin"
            packages = \(list(packages))

            """
        if !requires.isEmpty { toml += "requires = \(list(requires))\n" }
        if !blacklist.isEmpty { toml += "blacklist = \(list(blacklist))\n" }
        if !modules.isEmpty { toml += "modules = \(list(modules))\n" }
        try toml.write(to: directory.appendingPathComponent("plugin.toml"), atomically: true, encoding: .utf8)
        if !bundled.isEmpty {
            try RPMFixture.repo(bundled, at: directory.appendingPathComponent("rpms"))
        }
        if !repoFiles.isEmpty {
            let repos = directory.appendingPathComponent("repos")
            try FileManager.default.createDirectory(at: repos, withIntermediateDirectories: true)
            for (file, text) in repoFiles {
                try text.write(to: repos.appendingPathComponent(file), atomically: true, encoding: .utf8)
            }
        }
        return directory
    }
}

/// A small base image used across solver and build tests: a kernel, a release package providing
/// `ovirt-node = 3.0`, a core library, and a /bin/sh.
enum BaseFixture {
    static let packages: [SpecPackage] = [
        SpecPackage(name: "kernel", version: "3.1", files: ["/boot/vmlinuz-3.1": "not really a kernel\n"]),
        SpecPackage(name: "ovirt-node-release", version: "3.0", provides: ["ovirt-node = 3.0"], files: ["/etc/os-release": "NAME=\"Test Node\"\n"]),
        SpecPackage(name: "corelib", version: "1.0", files: ["/usr/lib/corelib.so.1": "core\n", "/usr/share/corelib/": ""]),
    ]

    static func make(at root: URL) throws -> BaseImage {
        _ = try RPMFixture.base(packages, at: root)
        return try BaseImage(root: FilePath(root.path))
    }
}
