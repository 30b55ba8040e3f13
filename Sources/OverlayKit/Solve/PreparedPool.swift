import Foundation

/// A pool holding the base and a set of repos, prepared for solving, with what loading the repos gave: their
/// base URLs and their module streams. Plugins that use the same repos are solved in the same pool one after
/// the other, so a run with many plugins parses and indexes the metadata once.
struct PreparedPool {
    var pool: SolvPool
    var loaded: [String: LoadedRepo]
    var streams: ModuleStreams

    /// What the pool's contents depend on: the architecture and each repo's id, base URL and repomd.xml digest
    /// (the base is the planner's own).
    static func key(_ indexes: [FetchedIndex], arch: String) -> String {
        ([arch] + indexes.map { "\($0.source.id) \($0.baseURL) \($0.digest)" }).joined(separator: "\n")
    }
}

/// Keeps the last prepared pool for the next solve. A pool is used by one solve at a time: `take` hands it out
/// and `put` gives it back; a solve that finds none (or another's) prepares its own.
final class PreparedPoolCache: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: (key: String, pool: PreparedPool)?

    func take(_ key: String) -> PreparedPool? {
        lock.lock()
        defer { lock.unlock() }
        guard let kept, kept.key == key else { return nil }
        self.kept = nil
        return kept.pool
    }

    func put(_ pool: PreparedPool, key: String) {
        lock.lock()
        defer { lock.unlock() }
        kept = (key, pool)
    }
}
