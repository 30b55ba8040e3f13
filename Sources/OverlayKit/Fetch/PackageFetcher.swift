import Foundation
import SystemPackage
import Posix

/// Brings a plan's packages to local files: `file://` packages are used where they are, `http(s)://` ones are
/// downloaded into the cache (or a scratch directory). Every file is checked against the checksum the repo
/// metadata gives, so a changed or corrupt package is caught before rpm sees it. A download that fails (a mirror
/// gone silent, an HTTP error, a wrong checksum) is tried again from the repo's other base URLs, in order.
public struct PackageFetcher: Sendable {
    public var cache: MetadataCache?
    public var scratch: FilePath
    /// Seconds a remote repo may stay silent before a download is given up.
    public var timeout: Int
    /// The repos the packages come from, for their other base URLs (mirrors).
    public var repos: [RepoSource]

    public init(cache: MetadataCache?, scratch: FilePath, timeout: Int = PlanOptions.defaultNetworkTimeout, repos: [RepoSource] = []) {
        self.cache = cache
        self.scratch = scratch
        self.timeout = timeout
        self.repos = repos
    }

    public func fetch(_ packages: [PlannedPackage]) throws(RepoError) -> [FilePath] {
        var files: [FilePath] = []
        for package in packages {
            files.append(try fetch(package))
        }
        return files
    }

    public func fetch(_ package: PlannedPackage) throws(RepoError) -> FilePath {
        if let path = Fetcher.localPath(package.url) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw .download(url: package.url, reason: "the repo metadata lists it, but the file does not exist; regenerate the repo with createrepo_c")
            }
            try verify(FilePath(path), package: package)
            return FilePath(path)
        }
        let subdirectory = "packages/\(package.repo)"
        let name = package.url.split(separator: "/").last.map(String.init) ?? "\(package.nevra).rpm"
        if let cached = cache.map({ $0.directory.appending(subdirectory).appending(name) }),
            FileManager.default.fileExists(atPath: cached.string), (try? verify(cached, package: package)) != nil
        {
            cache?.markUsed(cached)
            return cached
        }
        var failure: RepoError?
        for url in mirrorURLs(of: package) {
            let data: Data
            do {
                data = try Fetcher.data(from: url, timeout: timeout)
                try verify(data, package: package, url: url)
            } catch {
                failure = error
                continue
            }
            return try MetadataCache.keep(data, named: name, from: url, in: cache, subdirectory: subdirectory, else: scratch)
        }
        throw failure ?? .download(url: package.url, reason: "no base URL to download it from")
    }

    /// The package's URL, then the same path under each other base URL of its repo.
    private func mirrorURLs(of package: PlannedPackage) -> [String] {
        guard let repo = repos.first(where: { $0.id == package.repo }),
            let used = repo.baseURLs.first(where: { package.url.hasPrefix($0 + "/") })
        else { return [package.url] }
        let location = package.url.dropFirst(used.count)
        return [package.url] + repo.baseURLs.filter { $0 != used }.map { $0 + location }
    }

    private func verify(_ path: FilePath, package: PlannedPackage) throws(RepoError) {
        guard let expected = expectedSHA256(package) else { return }
        let actual: String
        do {
            actual = try SHA256Digest.file(path)
        } catch {
            throw .download(url: package.url, reason: "cannot read \(path): \(ErrorText.reason(error))")
        }
        try check(actual, expected, package: package, what: path.string)
    }

    private func verify(_ data: Data, package: PlannedPackage, url: String) throws(RepoError) {
        guard let expected = expectedSHA256(package) else { return }
        try check(SHA256Digest.bytes(data), expected, package: package, what: url)
    }

    /// The sha256 the repo metadata gives, when it gives one (other checksum types are left to rpm's digests).
    private func expectedSHA256(_ package: PlannedPackage) -> String? {
        guard let checksum = package.checksum, checksum.hasPrefix("sha256:") else { return nil }
        return String(checksum.dropFirst("sha256:".count))
    }

    private func check(_ actual: String, _ expected: String, package: PlannedPackage, what: String) throws(RepoError) {
        if actual != expected {
            throw .checksumMismatch(what: "\(package.nevra) (\(what))", expected: expected, actual: actual)
        }
    }
}
