import Foundation
import SystemPackage
import Formats
import Posix

/// Remembers solved plans. A plan is a function of the base's package set and module state, the enabled repos'
/// metadata (module metadata included), what the plugin asks for (packages, requires, module streams) and the
/// architecture; the key is a digest of all of them (each repo by the sha256 of
/// its repomd.xml), so any change to any of them misses the cache. Only plans that succeeded are kept.
struct PlanCache {
    let cache: MetadataCache

    /// The key for a plugin's plan against these repos (their repomd.xml as fetched for this solve).
    func key(plugin: Plugin, repos: [FetchedIndex], baseIdentity: String, baseModules: BaseModuleState, arch: String) -> String {
        var text = "overlay-plan \(Self.formatVersion)\nplugin \(plugin.name)\narch \(arch)\nbase \(baseIdentity)\n"
        for line in baseModules.keyLines { text += "\(line)\n" }
        for request in plugin.manifest.packages { text += "package \(request)\n" }
        for requirement in plugin.manifest.requires { text += "requires \(requirement)\n" }
        for module in plugin.manifest.modules { text += "module \(module)\n" }
        for repo in repos { text += "repo \(repo.source.id) \(repo.baseURL) \(repo.digest)\n" }
        return SHA256Digest.bytes(text.utf8)
    }

    func load(key: String) -> PluginPlan? {
        guard let path = file(key), let data = FileManager.default.contents(atPath: path.string),
            let plan = try? JSONDecoder().decode(PluginPlan.self, from: data)
        else { return nil }
        cache.markUsed(path)
        return plan
    }

    /// Stores a plan; a cache that cannot be written is skipped.
    func store(_ plan: PluginPlan, key: String) {
        guard let path = file(key), let data = try? JSONEncoder().encode(plan) else { return }
        cache.store(path) { try AtomicFile.write(data, to: path) }
    }

    private func file(_ key: String) -> FilePath? {
        cache.subdirectory("plans").map { $0.appending("\(key).json") }
    }

    /// Bumped when what a plan holds, or how it is solved, changes.
    static let formatVersion = "v2"
}
