import Foundation
import SystemPackage

/// The OpenPGP public keys a plugin's packages must be signed with, repo by repo, as dnf's `gpgcheck` and
/// `gpgkey=` and the plugin's `keys/` say:
///
/// - a `.repo` repo with `gpgcheck=1` (or with `gpgkey=` and no `gpgcheck` line) is checked against its
///   `gpgkey=` keys (`file://`, `http://`, `https://`) and the plugin's `keys/`;
/// - the bundled `rpms/` repo is checked against `keys/` when the plugin has that directory;
/// - other repos are not checked (their packages are still checked against the repo metadata's sha256 and
///   rpm's digests).
public struct SigningKeys: Sendable {
    struct RepoKeys: Sendable {
        var source: String
        var keys: [ArmoredKey]
        var remedy: String
    }

    /// By repo id; a repo whose packages are not signature-checked is absent.
    let repos: [String: RepoKeys]

    /// No package is checked (`--nogpgcheck`).
    public static let none = SigningKeys(repos: [:])

    /// Whether packages of `repo` are checked.
    public func checks(_ repo: String) -> Bool { repos[repo] != nil }

    /// Reads, fetches and checks with rpm the keys of the repos in `repoIDs` (the repos a plan draws packages
    /// from): a key file rpm cannot read, a `gpgkey=` that cannot be fetched or a checked repo without any
    /// key is an error naming the `.repo` file and line, or the key file. A remote key server may stay silent for
    /// `timeout` seconds.
    public static func load(for plugin: Plugin, repos repoIDs: Set<String>, timeout: Int = PlanOptions.defaultNetworkTimeout) throws -> SigningKeys {
        let bundled = try plugin.keyFiles.map { file throws(InstallError) in try ArmoredKey.read(file) }
        var repos: [String: RepoKeys] = [:]
        if plugin.bundledRepo != nil, let directory = plugin.keysDirectory, repoIDs.contains(plugin.bundledRepoID) {
            repos[plugin.bundledRepoID] = RepoKeys(
                source: "repo \"\(plugin.bundledRepoID)\"", keys: bundled,
                remedy: "add the signing key to the plugin's keys/ (\(directory)), or pass --nogpgcheck")
        }
        for repo in plugin.repos where repo.gpgcheck && repoIDs.contains(repo.id) {
            var keys: [ArmoredKey] = []
            for url in repo.gpgKeys {
                keys.append(try fetchKey(url, namedAt: repo.gpgKeyOrigin ?? repo.origin, timeout: timeout))
            }
            if keys.isEmpty && bundled.isEmpty {
                throw RepoError.noSigningKeys(origin: repo.origin, repo: repo.id, plugin: plugin.name)
            }
            repos[repo.id] = RepoKeys(
                source: "repo \"\(repo.id)\"", keys: keys + bundled,
                remedy: "add the signing key to the plugin's keys/ or the repo's gpgkey= (\(repo.origin)), or pass --nogpgcheck")
        }
        // rpm reads every key now, so a bad one is reported before any package is fetched.
        for repo in repos.values {
            try PackageInstaller.checkKeys(repo.keys)
        }
        return SigningKeys(repos: repos)
    }

    /// What `PackageInstaller` checks: the files of `packages` (fetched as `files`, in the same order) that
    /// come from checked repos, grouped by repo.
    public func requirements(for packages: [PlannedPackage], files: [FilePath]) -> [SignatureRequirement] {
        var byRepo: [String: [FilePath]] = [:]
        for (package, file) in zip(packages, files) where repos[package.repo] != nil {
            byRepo[package.repo, default: []].append(file)
        }
        return byRepo.keys.sorted().compactMap { id in
            guard let repo = repos[id], let files = byRepo[id] else { return nil }
            return SignatureRequirement(source: repo.source, keys: repo.keys, packages: files, remedy: repo.remedy)
        }
    }

    /// The key at a `gpgkey=` URL.
    private static func fetchKey(_ url: String, namedAt: String, timeout: Int) throws(RepoError) -> ArmoredKey {
        do {
            let data = try Fetcher.data(from: url, timeout: timeout)
            return ArmoredKey(text: String(decoding: data, as: UTF8.self), location: url, namedAt: namedAt)
        } catch {
            switch error {
            case .download(_, let reason):
                throw .keyUnavailable(namedAt: namedAt, url: url, reason: reason)
            case .noAnswer(_, let seconds):
                throw .keyUnavailable(namedAt: namedAt, url: url, reason: "no answer within \(seconds) s; raise --timeout if the server is slow")
            default:
                throw error
            }
        }
    }
}
