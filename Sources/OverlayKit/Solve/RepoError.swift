/// Why a repo's metadata or packages could not be had.
public enum RepoError: Error, CustomStringConvertible, Sendable {
    case missingMetadata(repo: String, path: String)
    case corruptMetadata(origin: String, reason: String)
    case download(url: String, reason: String)
    case checksumMismatch(what: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case .missingMetadata(_, let path):
            "there is no repo metadata at \(path); run createrepo_c on the repo directory, or fix the repo's baseurl"
        case .corruptMetadata(let origin, let reason):
            "cannot read repo metadata \(Fetcher.localPath(origin) ?? origin): \(reason); regenerate it with createrepo_c"
        case .download(let url, let reason):
            Fetcher.localPath(url).map { "cannot read \($0): \(reason)" } ?? "cannot download \(url): \(reason)"
        case .checksumMismatch(let what, let expected, let actual):
            "\(what) has checksum \(actual), but the repo metadata says \(expected); the repo changed or the file is corrupt: refresh the repo"
        }
    }
}
