import Foundation
import SystemPackage

/// Scratch directories and shell commands for the packing, reading and bundle tests.
enum PackFixture {
    struct CommandFailed: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let stderr: String
        var description: String { "`\(command)` exited \(status): \(stderr)" }
    }

    /// A fresh directory under the system's temporary directory, removed by `remove`.
    static func scratch(_ label: String) throws -> FilePath {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pack-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return FilePath(url.path)
    }

    static func remove(_ path: FilePath) {
        try? FileManager.default.removeItem(atPath: path.string)
    }

    /// Runs `command` with /bin/sh and returns its standard output; throws when it exits non-zero.
    @discardableResult
    static func sh(_ command: String) throws -> String {
        let result = try run(command)
        guard result.status == 0 else { throw CommandFailed(command: command, status: result.status, stderr: result.stderr) }
        return String(decoding: result.stdout, as: UTF8.self)
    }

    /// Runs `command` with /bin/sh and returns its status and output, whatever the status.
    static func run(_ command: String) throws -> (status: Int32, stdout: Data, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe()
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("pack-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: err) }
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        return (process.terminationStatus, stdout, stderr)
    }

    /// Quotes a path for /bin/sh.
    static func q(_ path: FilePath) -> String { "'" + path.string.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// A small delta root like one a plugin install leaves: nested directories, files with different
    /// modes and owners, a symlink, a hardlink pair, an empty directory and a registry entry.
    static func makeTree(at root: FilePath, reversed: Bool = false, mtime: String = "2020-01-02 03:04:05") throws {
        let r = q(root)
        var steps = [
            "mkdir -p \(r)/usr/bin \(r)/usr/lib/vdsm/sub \(r)/etc/ovirt.plugins.d \(r)/var/empty",
            "printf 'hello\\n' > \(r)/usr/bin/hello && chmod 0755 \(r)/usr/bin/hello",
            "printf 'secret' > \(r)/usr/lib/vdsm/key && chmod 0600 \(r)/usr/lib/vdsm/key && chown 107:36 \(r)/usr/lib/vdsm/key",
            "head -c 300000 /dev/urandom > \(r)/usr/lib/vdsm/sub/blob && chmod 0640 \(r)/usr/lib/vdsm/sub/blob",
            "printf 'shared data\\n' > \(r)/usr/lib/vdsm/a-link && ln \(r)/usr/lib/vdsm/a-link \(r)/usr/lib/vdsm/sub/z-link",
            "ln -s ../lib/vdsm/key \(r)/usr/bin/key-link",
            "chmod 0700 \(r)/var/empty && chown 5:6 \(r)/var/empty",
            "printf 'NAME=\"vdsm\"\\nVERSION=\"1.0\"\\nSUMMARY=\"Virtual Desktop Server Manager\"\\nPACKAGES=\"vdsm-1.0-1.noarch python3-libvirt-9.0-1.x86_64\"\\nBASE=\"sha256:abc\"\\n' > \(r)/etc/ovirt.plugins.d/vdsm",
        ]
        if reversed {
            steps.reverse()
            steps.insert("mkdir -p \(r)/usr/bin \(r)/usr/lib/vdsm/sub \(r)/etc/ovirt.plugins.d \(r)/var/empty", at: 0)
        }
        steps.append("find \(r) -exec touch -h -d '\(mtime)' {} +")
        try sh("set -e; " + steps.joined(separator: "; "))
    }
}
