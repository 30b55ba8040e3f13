import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SystemPackage

/// Reads what a repo URL points at: `file://` from disk, `http(s)://` over the network.
enum Fetcher {
    /// The bytes at `url`.
    static func data(from url: String) throws(RepoError) -> Data {
        if let path = localPath(url) {
            do {
                return try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw .download(url: url, reason: (error as NSError).localizedFailureReason ?? "the file cannot be read")
            }
        }
        guard let remote = URL(string: url), remote.scheme == "http" || remote.scheme == "https" else {
            throw .download(url: url, reason: "not a file://, http:// or https:// URL")
        }
        let box = ResultBox()
        let semaphore = DispatchSemaphore(value: 0)
        var request = URLRequest(url: remote)
        request.timeoutInterval = 60
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(.download(url: url, reason: error.localizedDescription))
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                box.result = .failure(.download(url: url, reason: "the server answered HTTP \(http.statusCode)"))
            } else {
                box.result = .success(data ?? Data())
            }
            semaphore.signal()
        }
        task.resume()
        semaphore.wait()
        switch box.result {
        case .success(let data): return data
        case .failure(let error): throw error
        case nil: throw .download(url: url, reason: "no answer")
        }
    }

    /// The local path of a `file://` URL (percent-decoded), or nil for other schemes.
    static func localPath(_ url: String) -> String? {
        guard url.hasPrefix("file://") else { return nil }
        let rest = String(url.dropFirst("file://".count))
        return rest.removingPercentEncoding ?? rest
    }

    private final class ResultBox: @unchecked Sendable {
        var result: Result<Data, RepoError>?
    }
}
