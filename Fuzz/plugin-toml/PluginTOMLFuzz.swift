import Foundation
import OverlayKit

/// plugin.toml as `Plugin(directory:)` reads it (UTF-8 text, else refused before parsing), parsed by
/// `PluginManifest(parsing:file:)`; what a build then does with a manifest that parses is done too: its blacklist
/// globs are matched against paths, and its registry entry is written and read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPluginTOML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, let text = String(data: Data(bytes: data, count: size), encoding: .utf8) else { return 0 }
    let manifest: PluginManifest
    do {
        manifest = try PluginManifest(parsing: text, file: "plugin.toml")
    } catch {
        precondition(!error.description.isEmpty)
        return 0
    }
    precondition(!manifest.name.isEmpty && !manifest.version.isEmpty && !manifest.packages.isEmpty)
    precondition(manifest.blacklist.allSatisfy { $0.hasPrefix("/") })

    let blacklist = Blacklist(manifest.blacklist)
    for path in probePaths { _ = blacklist.matches(path) }

    let entry = RegistryEntry(
        name: manifest.name, version: manifest.version, summary: manifest.summary, packages: ["vdsm-4.50.3-1.noarch"], base: "sha256:0e34")
    let rendered = entry.rendered()
    checkShellSafe(rendered)
    do {
        let read = try RegistryEntry.parse(rendered, source: "etc/ovirt.plugins.d/\(manifest.name)")
        precondition(read.name == entry.name && read.version == entry.version && read.packages == entry.packages && read.base == entry.base)
        precondition(read.summary == oneLine(entry.summary), "the summary \(entry.summary.debugDescription) came back as \(read.summary.debugDescription)")
    } catch {
        preconditionFailure("the registry entry for \(manifest.name) does not read back: \(error)")
    }
    return 0
}

/// Paths a delta holds, deep ones included: a glob must answer for each in reasonable time.
private let probePaths = [
    "/usr/share/doc/vdsm/README", "/usr/share/man/man8/vdsm-tool.8.gz", "/usr/bin/vdsm-tool", "/etc/ovirt.plugins.d/vdsm",
    "/usr/lib/python3.9/site-packages/vdsm/storage/sdm/api/__pycache__/amend_volume.cpython-39.pyc",
    "/" + Array(repeating: "a", count: 40).joined(separator: "/"), "/",
]

/// A summary as the registry keeps it: one line, each line break a space.
private func oneLine(_ text: String) -> String {
    String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
}

/// The registry entry is os-release style, sourced by shells on the nodes: in each `KEY="value"` line the only
/// bytes `"`, `$` and `` ` `` not escaped by a backslash are the two quotes around the value.
private func checkShellSafe(_ rendered: String) {
    for line in rendered.utf8.split(separator: 0x0a) {
        guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { preconditionFailure("a registry line without =") }
        let value = Array(line[line.index(after: equals)...])
        precondition(value.count >= 2 && value.first == UInt8(ascii: "\"") && value.last == UInt8(ascii: "\""))
        var index = 1
        while index < value.count - 1 {
            switch value[index] {
            case UInt8(ascii: "\\"):
                index += 2
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "$"), UInt8(ascii: "`"):
                preconditionFailure("unescaped \(UnicodeScalar(value[index])) in the registry line \(String(decoding: line, as: UTF8.self).debugDescription)")
            default:
                index += 1
            }
        }
        precondition(index == value.count - 1, "the closing quote of \(String(decoding: line, as: UTF8.self).debugDescription) is escaped")
    }
}
