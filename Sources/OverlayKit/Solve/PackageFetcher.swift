import Foundation
import SystemPackage

/// Brings a plan's packages to local files: `file://` packages are used where they are, `http(s)://` ones are
/// downloaded into the cache (or a scratch directory). Every file is checked against the checksum the repo
/// metadata gives, so a changed or corrupt package is caught before rpm sees it.
public struct PackageFetcher: Sendable {
    public var cache: MetadataCache?
    public var scratch: FilePath

    public init(cache: MetadataCache?, scratch: FilePath) {
        self.cache = cache
        self.scratch = scratch
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
            return cached
        }
        let data = try Fetcher.data(from: package.url)
        try verify(data, package: package)
        return try MetadataCache.keep(data, named: name, from: package.url, in: cache, subdirectory: subdirectory, else: scratch)
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

    private func verify(_ data: Data, package: PlannedPackage) throws(RepoError) {
        guard let expected = expectedSHA256(package) else { return }
        try check(SHA256Digest.bytes(data), expected, package: package, what: package.url)
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
