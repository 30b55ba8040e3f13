import Foundation
import SystemPackage
import Posix

/// A repo loaded into a pool: which base URL answered, for fetching its packages later.
struct LoadedRepo {
    var source: RepoSource
    var baseURL: String
    /// The repo in the pool it was loaded into.
    var repo: SolvRepoID
}

/// A repo's repomd.xml as fetched from one of its base URLs: read once per solve, it keys the caches and says
/// where the metadata is.
struct FetchedIndex {
    var source: RepoSource
    var baseURL: String
    /// sha256 of repomd.xml.
    var digest: String
    var index: RepoIndex
}

/// Loads repos into a pool: from the `.solv` cache when repomd.xml is unchanged, else from the XML metadata
/// (`repo_add_rpmmd` for primary and filelists), writing the cache for next time.
struct RepoLoader {
    var cache: MetadataCache?
    /// Where downloaded metadata goes when there is no usable cache.
    var scratch: FilePath
    /// Seconds a remote mirror may stay silent before the next one is tried.
    var timeout: Int

    /// Fetches a repo's repomd.xml from the first base URL that answers.
    func fetchIndex(_ source: RepoSource) throws(RepoError) -> FetchedIndex {
        try fetchIndex(source, from: source.baseURLs[...])
    }

    private func fetchIndex(_ source: RepoSource, from baseURLs: ArraySlice<String>) throws(RepoError) -> FetchedIndex {
        var lastError: RepoError?
        for baseURL in baseURLs {
            let repomdURL = baseURL + "/repodata/repomd.xml"
            let repomd: Data
            do {
                repomd = try Fetcher.data(from: repomdURL, timeout: timeout)
            } catch {
                lastError = Fetcher.localPath(repomdURL).map { .missingMetadata(repo: source.id, path: $0) } ?? error
                continue
            }
            do {
                return FetchedIndex(
                    source: source, baseURL: baseURL, digest: SHA256Digest.bytes(repomd),
                    index: try RepoIndex(parsing: repomd, origin: repomdURL))
            } catch {
                lastError = error
            }
        }
        throw lastError ?? .missingMetadata(repo: source.id, path: "(no baseurl)")
    }

    /// Loads a repo whose repomd.xml was fetched; when its metadata cannot be had from that base URL, the
    /// repo's later base URLs (mirrors) are tried in turn.
    func load(_ fetched: FetchedIndex, into pool: SolvPool) throws(RepoError) -> LoadedRepo {
        var current = fetched
        while true {
            do {
                return try loadMetadata(current, into: pool)
            } catch {
                let urls = current.source.baseURLs
                guard let used = urls.firstIndex(of: current.baseURL), used + 1 < urls.count else { throw error }
                current = try fetchIndex(current.source, from: urls[(used + 1)...])
            }
        }
    }

    /// Fills the `.solv` and module caches for the local repos that lack them, parsing their XML metadata and
    /// modules.yaml in parallel, each repo into a pool of its own (a pool is not thread-safe; separate pools
    /// share nothing). The `load` calls that follow read the cache, so cold metadata of several repos costs
    /// about as long as the largest one rather than the sum. Without a cache, or with fewer than two files to
    /// parse, it does nothing; a repo that fails here is left for `load` to report.
    func fillCache(for repos: [FetchedIndex], arch: String) {
        guard let cache else { return }
        var cold: [(repo: FetchedIndex, modules: Bool)] = []
        var seen = Set<String>()  // two ids for one repo would write the same file
        for repo in repos where repo.source.isLocal {
            if let solv = cache.solvFile(repomdDigest: repo.digest), !FileManager.default.fileExists(atPath: solv.string),
                seen.insert(solv.string).inserted
            {
                cold.append((repo, false))
            }
            if repo.index.modules != nil, let modules = cache.modulesFile(repomdDigest: repo.digest),
                !FileManager.default.fileExists(atPath: modules.string), seen.insert(modules.string).inserted
            {
                cold.append((repo, true))
            }
        }
        guard cold.count > 1 else { return }
        let work = cold
        let loader = self
        DispatchQueue.concurrentPerform(iterations: work.count) { index in
            if work[index].modules {
                _ = try? loader.loadModules(work[index].repo)
            } else {
                _ = try? loader.loadMetadata(work[index].repo, into: SolvPool(arch: arch))
            }
        }
    }

    /// The repo's module streams and defaults, or nil when its repomd.xml lists no module metadata: from the
    /// cache when repomd.xml is unchanged, else parsed from modules.yaml with libmodulemd and cached.
    func loadModules(_ fetched: FetchedIndex) throws(RepoError) -> RepoModules? {
        guard let entry = fetched.index.modules else { return nil }
        let cached = cache?.modulesFile(repomdDigest: fetched.digest)
        if let cached, let data = FileManager.default.contents(atPath: cached.string),
            let modules = try? JSONDecoder().decode(RepoModules.self, from: data)
        {
            cache?.markUsed(cached)
            return modules
        }
        let origin = fetched.baseURL + "/" + entry.href
        let file = try localFile(for: entry, baseURL: fetched.baseURL, digest: fetched.digest)
        let yaml = try Self.decompressedText(file, origin: origin)
        let modules = try ModuleIndex(yaml: yaml, origin: origin).contents
        if let cached, let data = try? JSONEncoder().encode(modules) {
            try? AtomicFile.write(data, to: cached)  // a cache that cannot be written is skipped
        }
        return modules
    }

    /// The text of a metadata file, decompressed (gz, xz, bz2, zstd) by libsolv's `solv_xfopen`.
    private static func decompressedText(_ file: FilePath, origin: String) throws(RepoError) -> String {
        do {
            return String(decoding: try SolvFile.decompressing(file).readAll(), as: UTF8.self)
        } catch {
            throw .corruptMetadata(origin: origin, reason: error.message)
        }
    }

    private func loadMetadata(_ fetched: FetchedIndex, into pool: SolvPool) throws(RepoError) -> LoadedRepo {
        let (source, baseURL, digest, index) = (fetched.source, fetched.baseURL, fetched.digest, fetched.index)
        if let solv = cache?.solvFile(repomdDigest: digest), let repo = pool.addRepo(named: source.id, solvFile: solv) {
            cache?.markUsed(solv)
            return LoadedRepo(source: source, baseURL: baseURL, repo: repo)
        }

        guard let primaryEntry = index.primary else {
            throw .corruptMetadata(origin: baseURL + "/repodata/repomd.xml", reason: "repomd.xml lists no primary metadata")
        }
        let primary = try localFile(for: primaryEntry, baseURL: baseURL, digest: digest)
        let filelists = try index.filelists.map { entry throws(RepoError) in try localFile(for: entry, baseURL: baseURL, digest: digest) }
        let repo: SolvRepoID
        do {
            repo = try pool.addRepo(named: source.id, primary: primary, filelists: filelists)
        } catch {
            let inFilelists = filelists != nil && error.file == filelists?.string
            let href = inFilelists ? (index.filelists?.href ?? "filelists") : primaryEntry.href
            throw .corruptMetadata(origin: baseURL + "/" + href, reason: error.message)
        }
        if let cache, let solv = cache.solvFile(repomdDigest: digest) {
            writeSolv(repo, of: pool, to: solv, in: cache)
        }
        return LoadedRepo(source: source, baseURL: baseURL, repo: repo)
    }

    /// A local path for a metadata file: itself for file:// repos, else a download kept in the cache.
    private func localFile(for entry: RepoIndex.Entry, baseURL: String, digest: String) throws(RepoError) -> FilePath {
        let url = baseURL + "/" + entry.href
        if let path = Fetcher.localPath(url) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw .corruptMetadata(origin: baseURL + "/repodata/repomd.xml", reason: "it lists \(entry.href), which does not exist")
            }
            // A local file is only read when the .solv cache misses: checking it then costs one pass over it.
            if let expected = entry.checksum, entry.checksumType == "sha256", let actual = try? SHA256Digest.file(FilePath(path)), actual != expected {
                throw .checksumMismatch(what: path, expected: expected, actual: actual)
            }
            return FilePath(path)
        }
        let subdirectory = "metadata/\(digest)"
        let name = entry.href.split(separator: "/").last.map(String.init) ?? "metadata"
        if let cached = cache.map({ $0.directory.appending(subdirectory).appending(name) }),
            FileManager.default.fileExists(atPath: cached.string)
        {
            cache?.markUsed(cached)
            return cached
        }
        let data = try Fetcher.data(from: url, timeout: timeout)
        if let expected = entry.checksum, entry.checksumType == "sha256" {
            let actual = SHA256Digest.bytes(data)
            guard actual == expected else { throw .checksumMismatch(what: url, expected: expected, actual: actual) }
        }
        return try MetadataCache.keep(data, named: name, from: url, in: cache, subdirectory: subdirectory, else: scratch)
    }

    /// Writes a `.solv` file atomically; a cache that cannot be written is skipped, not an error.
    private func writeSolv(_ repo: SolvRepoID, of pool: SolvPool, to path: FilePath, in cache: MetadataCache) {
        cache.store(path) {
            try AtomicFile.write(to: path) { fd in try pool.writeSolv(repo, to: fd) }
        }
    }
}
