import Foundation
import SystemPackage

/// Remembers solved plans. A plan is a function of the base's package set, the enabled repos' metadata, what
/// the plugin asks for and the architecture; the key is a digest of all of them (each repo by the sha256 of
/// its repomd.xml), so any change to any of them misses the cache. Only plans that succeeded are kept.
struct PlanCache {
    let cache: MetadataCache

    /// The key for a plugin's plan, or nil when a repo's repomd.xml cannot be read (the solve then says why).
    func key(plugin: Plugin, sources: [RepoSource], baseIdentity: String, arch: String) -> String? {
        var text = "overlay-plan \(Self.formatVersion)\nplugin \(plugin.name)\narch \(arch)\nbase \(baseIdentity)\n"
        for request in plugin.manifest.packages { text += "package \(request)\n" }
        for requirement in plugin.manifest.requires { text += "requires \(requirement)\n" }
        for source in sources {
            guard let (url, repomd) = firstAnswer(source) else { return nil }
            text += "repo \(source.id) \(url) \(sha256Hex(repomd))\n"
        }
        return sha256Hex(Data(text.utf8))
    }

    func load(key: String) -> PluginPlan? {
        guard let path = file(key), let data = FileManager.default.contents(atPath: path.string) else { return nil }
        return try? JSONDecoder().decode(PluginPlan.self, from: data)
    }

    /// Stores a plan; a cache that cannot be written is skipped.
    func store(_ plan: PluginPlan, key: String) {
        guard let path = file(key), let data = try? JSONEncoder().encode(plan) else { return }
        try? AtomicFile.write(data, to: path)
    }

    private func file(_ key: String) -> FilePath? {
        cache.subdirectory("plans").map { $0.appending("\(key).json") }
    }

    private func firstAnswer(_ source: RepoSource) -> (String, Data)? {
        for url in source.baseURLs {
            if let data = try? Fetcher.data(from: url + "/repodata/repomd.xml") { return (url, data) }
        }
        return nil
    }

    /// Bumped when what a plan holds, or how it is solved, changes.
    static let formatVersion = "v1"
}
