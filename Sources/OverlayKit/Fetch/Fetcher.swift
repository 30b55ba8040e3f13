import Foundation
import Posix
import SystemPackage

/// Reads what a repo URL points at: `file://` from disk, `http(s)://` over the network (`HTTPDownload`, libcurl).
enum Fetcher {
    /// The bytes at `url`. A remote transfer is given up after `timeout` seconds without a byte from the server.
    static func data(from url: String, timeout: Int) throws(RepoError) -> Data {
        if let path = localPath(url) {
            do {
                return try readFile(FilePath(path))
            } catch {
                throw .download(url: url, reason: error.description)
            }
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw .download(url: url, reason: "not a file://, http:// or https:// URL")
        }
        return try HTTPDownload.get(url, silence: timeout)
    }

    /// The local path of a `file://` URL (percent-decoded), or nil for other schemes.
    static func localPath(_ url: String) -> String? {
        guard url.hasPrefix("file://") else { return nil }
        let rest = String(url.dropFirst("file://".count))
        return rest.removingPercentEncoding ?? rest
    }

    /// Opens `path` for reading; a failure names the path.
    private static func open(_ path: FilePath) throws(SystemCallError) -> OwnedFileDescriptor {
        do {
            return try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch {
            throw SystemCallError(call: "open", subject: path.string, errno: error as? Errno ?? .ioError)
        }
    }

    /// A whole file, read with `read(2)`; errors name the call, the path and errno's words.
    private static func readFile(_ path: FilePath) throws(SystemCallError) -> Data {
        let fd = try open(path)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try fd.descriptor.read(into: $0, retryOnInterrupt: true) }
            } catch {
                throw SystemCallError(call: "read", subject: path.string, errno: error as? Errno ?? .ioError)
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }
}
