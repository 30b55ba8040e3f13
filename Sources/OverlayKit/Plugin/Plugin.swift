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
        var manifestIsDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: manifestPath.string, isDirectory: &manifestIsDirectory) else {
            throw .missingManifest(path: self.origin)
        }
        if manifestIsDirectory.boolValue {
            throw .invalidManifest("\(manifestPath) is a directory; plugin.toml must be a TOML file naming the plugin and its packages")
        }
        let text = try Self.readText(manifestPath, invalid: PluginError.invalidManifest)
        manifest = try PluginManifest(parsing: text, file: manifestPath.string)

        var repos: [RepoDefinition] = []
        let repoDirectory = directory.appending("repos")
        if let names = try? FileManager.default.contentsOfDirectory(atPath: repoDirectory.string) {
            for name in names.sorted() where name.hasSuffix(".repo") {
                let file = repoDirectory.appending(name)
                let text = try Self.readText(file, invalid: PluginError.invalidRepoFile)
                for repo in try RepoDefinition.parse(text, file: file.string, arch: arch) {
                    if let other = repos.first(where: { $0.id == repo.id }) {
                        throw .invalidRepoFile("\(repo.origin): repo id \"\(repo.id)\" is already defined at \(other.origin); give each repo an id of its own")
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
                throw .unreadable(
                    path: keys.string, reason: "keys/ holds no key files; put the ASCII-armored public keys the packages are signed with there, or remove it")
            }
            keysDirectory = keys
            keyFiles = files
        } else {
            keysDirectory = nil
            keyFiles = []
        }
    }

    /// A plugin's text file (plugin.toml, a .repo file) as UTF-8; a byte that is not is an error naming its line and
    /// column, made by `invalid`.
    private static func readText(_ path: FilePath, invalid: (String) -> PluginError) throws(PluginError) -> String {
        guard let data = FileManager.default.contents(atPath: path.string) else {
            throw .unreadable(path: path.string, reason: "it cannot be read; check that it is a file")
        }
        if let text = String(validating: data, as: UTF8.self) { return text }
        var decoder = UTF8()
        var bytes = data.makeIterator()
        var valid = 0
        decoding: while true {
            switch decoder.decode(&bytes) {
            case .scalarValue(let scalar): valid += UTF8.width(scalar)
            case .emptyInput, .error: break decoding
            }
        }
        let lines = String(decoding: data.prefix(valid), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let column = (lines.last?.count ?? 0) + 1
        let byte = String(format: "0x%02X", data[data.startIndex + min(valid, data.count - 1)])
        throw invalid("\(path):\(lines.count):\(column): the byte \(byte) is not UTF-8 text; save the file as UTF-8")
    }

    /// The repos a solve uses: the bundled one always, the defined ones only when `enabled` selects them,
    /// whatever their files say.
    public func repoSources(enabled: RepoSelection) -> (enabled: [RepoSource], disabled: [RepoDefinition]) {
        var sources: [RepoSource] = []
        if let bundledRepo { sources.append(RepoSource(id: bundledRepoID, directory: bundledRepo)) }
        var disabled: [RepoDefinition] = []
        for repo in repos {
            if enabled.isEnabled(repo.id) {
                sources.append(RepoSource(repo))
            } else {
                disabled.append(repo)
            }
        }
        return (sources, disabled)
    }
}
