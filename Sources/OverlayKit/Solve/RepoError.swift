/// Why a repo's metadata or packages could not be had.
public enum RepoError: Error, CustomStringConvertible, Sendable {
    case missingMetadata(repo: String, path: String)
    case corruptMetadata(origin: String, reason: String)
    case download(url: String, reason: String)
    case checksumMismatch(what: String, expected: String, actual: String)
    /// A download could not be stored: the filesystem is full.
    case noSpace(url: String, path: String)

    public var description: String {
        switch self {
        case .missingMetadata(let repo, let path):
            "repo \(repo) has no metadata at \(path); run createrepo_c on the repo directory"
        case .corruptMetadata(let origin, let reason):
            "cannot read repo metadata \(origin): \(reason); regenerate it with createrepo_c"
        case .download(let url, let reason):
            "cannot download \(url): \(reason)"
        case .checksumMismatch(let what, let expected, let actual):
            "\(what) has checksum \(actual), but the repo metadata says \(expected); the repo changed or the file is corrupt: refresh the repo"
        case .noSpace(let url, let path):
            "cannot store \(url) at \(path): no space left on device"
        }
    }
}
