import Posix
/// Why a plugin could not be read.
public enum PluginError: UserError, Sendable {
    /// plugin.toml is malformed; the text names file, line and what to fix.
    case invalidManifest(String)
    /// A `.repo` file is malformed; the text names file and line.
    case invalidRepoFile(String)
    case notFound(path: String)
    case missingManifest(path: String)
    case unreadable(path: String, reason: String)
    /// An `--enablerepo` or `--disablerepo` id or glob that matches no repo any plugin defines.
    case unknownRepo(option: String, pattern: String, glob: Bool, known: [String])

    public var description: String {
        switch self {
        case .invalidManifest(let text), .invalidRepoFile(let text):
            text
        case .notFound(let path):
            "plugin \(path) does not exist; give a plugin directory or a .tar, .tar.gz or .tar.zst bundle of one"
        case .missingManifest(let path):
            "\(path) has no plugin.toml; a plugin directory holds plugin.toml, and optionally repos/*.repo, rpms/ and keys/"
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .unknownRepo(let option, let pattern, let glob, let known):
            "\(option) \(glob ? "'\(pattern)'" : pattern): no plugin defines a repo \(glob ? "whose id matches it" : "with that id")"
                + (known.isEmpty ? " (the plugins have no repos/*.repo files)" : "; defined repos: \(known.joined(separator: ", "))")
        }
    }
}
