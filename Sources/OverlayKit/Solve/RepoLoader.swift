internal import CSolv
import Foundation
import SystemPackage

/// A repo loaded into a pool: which base URL answered, for fetching its packages later.
struct LoadedRepo {
    var source: RepoSource
    var baseURL: String
    var repo: UnsafeMutablePointer<Repo>
    var packageCount: Int
    var fromCache: Bool
}

/// Loads repos into a pool: from the `.solv` cache when repomd.xml is unchanged, else from the XML metadata
/// (`repo_add_rpmmd` for primary and filelists), writing the cache for next time.
struct RepoLoader {
    var cache: MetadataCache?
    /// Where downloaded metadata goes when there is no usable cache.
    var scratch: FilePath

    func load(_ source: RepoSource, into pool: SolvPool) throws(RepoError) -> LoadedRepo {
        var lastError: RepoError?
        for baseURL in source.baseURLs {
            do {
                return try load(source, baseURL: baseURL, into: pool)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? .missingMetadata(repo: source.id, path: "(no baseurl)")
    }

    private func load(_ source: RepoSource, baseURL: String, into pool: SolvPool) throws(RepoError) -> LoadedRepo {
        let repomdURL = baseURL + "/repodata/repomd.xml"
        let repomd: Data
        do {
            repomd = try Fetcher.data(from: repomdURL)
        } catch {
            if let path = Fetcher.localPath(repomdURL) {
                throw .missingMetadata(repo: source.id, path: path)
            }
            throw error
        }
        let digest = sha256Hex(repomd)
        let index = try RepoIndex(parsing: repomd, origin: repomdURL)

        if let solv = cache?.solvFile(repomdDigest: digest), let repo = loadSolv(solv, name: source.id, pool: pool) {
            return LoadedRepo(source: source, baseURL: baseURL, repo: repo, packageCount: Int(repo.pointee.nsolvables), fromCache: true)
        }

        let primary = try localFile(for: index.primary!, baseURL: baseURL, digest: digest)
        let filelists = try index.filelists.map { entry throws(RepoError) in try localFile(for: entry, baseURL: baseURL, digest: digest) }
        var failure: RepoError?
        let repo = pool.addRepo(named: source.id) { repo in
            if let error = addRPMMD(repo, file: primary, language: nil, flags: 0) {
                failure = .corruptMetadata(origin: baseURL + "/" + index.primary!.href, reason: error)
                return
            }
            if let filelists, let error = addRPMMD(repo, file: filelists, language: "FL", flags: Int32(REPO_EXTEND_SOLVABLES)) {
                failure = .corruptMetadata(origin: baseURL + "/" + (index.filelists?.href ?? "filelists"), reason: error)
                return
            }
            repo_internalize(repo)
        }
        if let failure {
            repo_free(repo, 1)
            throw failure
        }
        if let solv = cache?.solvFile(repomdDigest: digest) {
            writeSolv(repo, to: solv)
        }
        return LoadedRepo(source: source, baseURL: baseURL, repo: repo, packageCount: Int(repo.pointee.nsolvables), fromCache: false)
    }

    /// A local path for a metadata file: itself for file:// repos, else a download kept in the cache.
    private func localFile(for entry: RepoIndex.Entry, baseURL: String, digest: String) throws(RepoError) -> FilePath {
        let url = baseURL + "/" + entry.href
        if let path = Fetcher.localPath(url) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw .corruptMetadata(origin: baseURL + "/repodata/repomd.xml", reason: "it lists \(entry.href), which does not exist")
            }
            return FilePath(path)
        }
        let directory = cache?.subdirectory("metadata/\(digest)") ?? scratch
        let name = entry.href.split(separator: "/").last.map(String.init) ?? "metadata"
        let target = directory.appending(name)
        if FileManager.default.fileExists(atPath: target.string) { return target }
        let data = try Fetcher.data(from: url)
        if let expected = entry.checksum, entry.checksumType == "sha256" {
            let actual = sha256Hex(data)
            guard actual == expected else { throw .checksumMismatch(what: url, expected: expected, actual: actual) }
        }
        do {
            try AtomicFile.write(data, to: target)
        } catch {
            throw .download(url: url, reason: "cannot store it at \(target): \(error)")
        }
        return target
    }

    /// `repo_add_rpmmd` on a (possibly compressed) XML file; returns libsolv's error text on failure.
    private func addRPMMD(_ repo: UnsafeMutablePointer<Repo>, file: FilePath, language: String?, flags: Int32) -> String? {
        guard let fp = solv_xfopen(file.string, "r") else {
            return "cannot open \(file): \(String(cString: strerror(errno)))"
        }
        defer { fclose(fp) }
        let result = repo_add_rpmmd(repo, fp, language, flags)
        if result != 0 {
            return String(cString: pool_errstr(repo.pointee.pool))
        }
        return nil
    }

    private func loadSolv(_ path: FilePath, name: String, pool: SolvPool) -> UnsafeMutablePointer<Repo>? {
        guard let fp = fopen(path.string, "r") else { return nil }
        defer { fclose(fp) }
        var loaded = true
        let repo = pool.addRepo(named: name) { repo in
            loaded = repo_add_solv(repo, fp, 0) == 0
        }
        if !loaded {
            repo_free(repo, 1)
            return nil
        }
        return repo
    }

    /// Writes a `.solv` file atomically; a cache that cannot be written is skipped, not an error.
    private func writeSolv(_ repo: UnsafeMutablePointer<Repo>, to path: FilePath) {
        try? AtomicFile.write(to: path) { fd in
            guard let fp = fdopen(dup(fd.rawValue), "w") else { throw Errno(rawValue: errno) }
            let result = repo_write(repo, fp)
            let flushed = fflush(fp)
            fclose(fp)
            if result != 0 || flushed != 0 { throw Errno.ioError }
        }
    }
}
