import Foundation
import SystemPackage

/// A plugin read from disk: its manifest, its repo definitions and its bundled repo.
public struct Plugin: Sendable {
    public let manifest: PluginManifest
    /// The directory holding plugin.toml (for a bundle, inside its private extraction directory).
    public let directory: FilePath
    /// What the user named: a directory or a bundle file.
    public let origin: String
    /// Repos defined by `repos/*.repo`, in file and section order.
    public let repos: [RepoDefinition]
    /// `rpms/` when the plugin bundles an offline repo.
    public let bundledRepo: FilePath?
    /// `keys/` when the plugin ships the public keys its packages are signed with; then its bundled repo is
    /// signature-checked too.
    public let keysDirectory: FilePath?
    /// The files in `keys/` (hidden ones skipped), sorted by name: each holds ASCII-armored OpenPGP public keys.
    public let keyFiles: [FilePath]

    public var name: String { manifest.name }

    /// The id the bundled repo goes by in plans and errors.
    public var bundledRepoID: String { "\(manifest.name)-bundled" }

    /// Reads the plugin directory at `directory`; `origin` is what to call it in messages.
    public init(directory: FilePath, origin: String? = nil, arch: String) throws(PluginError) {
        self.directory = directory
        self.origin = origin ?? directory.string
        let manifestPath = directory.appending(PluginManifest.fileName)
        guard FileManager.default.fileExists(atPath: manifestPath.string) else {
            throw .missingManifest(path: self.origin)
        }
        let text: String
        do {
            text = try String(contentsOfFile: manifestPath.string, encoding: .utf8)
        } catch {
            throw .unreadable(path: manifestPath.string, reason: "not readable UTF-8 text")
        }
        manifest = try PluginManifest(parsing: text, file: manifestPath.string)

        var repos: [RepoDefinition] = []
        let repoDirectory = directory.appending("repos")
        if let names = try? FileManager.default.contentsOfDirectory(atPath: repoDirectory.string) {
            for name in names.sorted() where name.hasSuffix(".repo") {
                let file = repoDirectory.appending(name)
                guard let text = try? String(contentsOfFile: file.string, encoding: .utf8) else {
                    throw .unreadable(path: file.string, reason: "not readable UTF-8 text")
                }
                for repo in try RepoDefinition.parse(text, file: file.string, arch: arch) {
                    if let other = repos.first(where: { $0.id == repo.id }) {
                        throw .invalidRepoFile("\(repo.origin): repo id \"\(repo.id)\" is already defined at \(other.origin)")
                    }
                    repos.append(repo)
                }
            }
        }
        self.repos = repos

        let rpms = directory.appending("rpms")
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: rpms.string, isDirectory: &isDirectory), isDirectory.boolValue {
            guard FileManager.default.fileExists(atPath: rpms.appending("repodata/repomd.xml").string) else {
                throw .unreadable(path: rpms.string, reason: "the bundled repo has no repodata/repomd.xml; run createrepo_c \(rpms.string)")
            }
            bundledRepo = rpms
        } else {
            bundledRepo = nil
        }

        let keys = directory.appending("keys")
        if FileManager.default.fileExists(atPath: keys.string, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, let names = try? FileManager.default.contentsOfDirectory(atPath: keys.string) else {
                throw .unreadable(path: keys.string, reason: "keys/ must be a directory of public key files")
            }
            var files: [FilePath] = []
            for name in names.sorted() where !name.hasPrefix(".") {
                let file = keys.appending(name)
                var isSubdirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: file.string, isDirectory: &isSubdirectory), isSubdirectory.boolValue {
                    throw .unreadable(path: file.string, reason: "keys/ holds only public key files, not directories")
                }
                files.append(file)
            }
            guard !files.isEmpty else {
                throw .unreadable(path: keys.string, reason: "keys/ holds no key files; put the ASCII-armored public keys the packages are signed with there, or remove it")
            }
            keysDirectory = keys
            keyFiles = files
        } else {
            keysDirectory = nil
            keyFiles = []
        }
    }

    /// The repos a solve uses: the bundled one always, the defined ones only when `enabled` names them
    /// (or holds "*"), whatever their files say.
    public func repoSources(enabled: Set<String>) -> (enabled: [RepoSource], disabled: [RepoDefinition]) {
        var sources: [RepoSource] = []
        if let bundledRepo { sources.append(RepoSource(id: bundledRepoID, directory: bundledRepo)) }
        var disabled: [RepoDefinition] = []
        for repo in repos {
            if enabled.contains("*") || enabled.contains(repo.id) {
                sources.append(RepoSource(repo))
            } else {
                disabled.append(repo)
            }
        }
        return (sources, disabled)
    }
}
