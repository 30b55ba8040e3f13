import Foundation
import SystemPackage
import Posix

/// Reads the plugins a command names: directories as they are, bundles extracted into a private temporary
/// directory that `cleanUp()` removes.
public struct PluginLoader: Sendable {
    public let plugins: [Plugin]
    let scratch: FilePath?

    public static func load(_ paths: [String], arch: String) throws -> PluginLoader {
        var plugins: [Plugin] = []
        var scratch: FilePath?
        do {
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw PluginError.notFound(path: path)
                }
                let plugin: Plugin
                if isDirectory.boolValue {
                    plugin = try Plugin(directory: FilePath(path), arch: arch)
                } else {
                    if scratch == nil {
                        let dir = FilePath(NSTemporaryDirectory()).appending("overlay-plugins-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                        try Interruption.creating(dir) {  // removed on SIGINT and SIGTERM too
                            try FileManager.default.createDirectory(
                                atPath: dir.string, withIntermediateDirectories: true,
                                attributes: [.posixPermissions: 0o700])
                        }
                        scratch = dir
                    }
                    let target = scratch!.appending("\(plugins.count)")
                    try FileManager.default.createDirectory(atPath: target.string, withIntermediateDirectories: true)
                    let directory = try PluginBundle.extract(FilePath(path), into: target)
                    plugin = try Plugin(directory: directory, origin: path, arch: arch)
                }
                if let other = plugins.first(where: { $0.name == plugin.name }) {
                    throw PluginError.invalidManifest(
                        "\(plugin.origin): plugin name \"\(plugin.name)\" is already used by \(other.origin); plugin names must be unique")
                }
                plugins.append(plugin)
            }
        } catch {
            if let scratch { Self.remove(scratch) }
            throw error
        }
        return PluginLoader(plugins: plugins, scratch: scratch)
    }

    public func cleanUp() {
        if let scratch { Self.remove(scratch) }
    }

    private static func remove(_ scratch: FilePath) {
        try? FileManager.default.removeItem(atPath: scratch.string)
        Interruption.finished(scratch)
    }
}
