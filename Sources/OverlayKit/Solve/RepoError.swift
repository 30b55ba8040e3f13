import Posix
/// Why a repo's metadata or packages could not be had.
public enum RepoError: UserError, Sendable {
    case missingMetadata(repo: String, path: String)
    case corruptMetadata(origin: String, reason: String)
    case download(url: String, reason: String)
    /// Nothing came from the server for `seconds` seconds: while connecting, before the answer or mid-body.
    case noAnswer(url: String, seconds: Int)
    case checksumMismatch(what: String, expected: String, actual: String)
    /// A download could not be stored: the filesystem is full.
    case noSpace(url: String, path: String)
    /// A `gpgkey=` URL (named at `file:line`) that cannot be fetched.
    case keyUnavailable(namedAt: String, url: String, reason: String)
    /// A repo (defined at `file:line`) with gpgcheck on, no `gpgkey=` and a plugin without `keys/`.
    case noSigningKeys(origin: String, repo: String, plugin: String)

    public var description: String {
        switch self {
        case .missingMetadata(_, let path):
            "there is no repo metadata at \(path); run createrepo_c on the repo directory, or fix the repo's baseurl"
        case .corruptMetadata(let origin, let reason):
            "cannot read repo metadata \(Fetcher.localPath(origin) ?? origin): \(reason); regenerate it with createrepo_c"
        case .download(let url, let reason):
            Fetcher.localPath(url).map { "cannot read \($0): \(reason)" } ?? "cannot download \(url): \(reason)"
        case .noAnswer(let url, let seconds):
            "\(url) did not answer within \(seconds) s; check the mirror or raise --timeout"
        case .checksumMismatch(let what, let expected, let actual):
            "\(what) has checksum \(actual), but the repo metadata says \(expected); the repo changed or the file is corrupt: refresh the repo"
        case .noSpace(let url, let path):
            "cannot store \(url) at \(path): no space left on device"
        case .keyUnavailable(let namedAt, let url, let reason):
            "\(namedAt): gpgkey \(url) cannot be fetched (\(reason)): fix the URL, or pass --nogpgcheck"
        case .noSigningKeys(let origin, let repo, let plugin):
            "\(origin): repo \"\(repo)\" has gpgcheck on but no gpgkey=, and plugin \"\(plugin)\" has no keys/: add gpgkey= with the URL of the repo's public key, put the key in the plugin's keys/, or pass --nogpgcheck"
        }
    }
}
