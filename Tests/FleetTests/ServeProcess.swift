import Foundation
import TestSupport

/// `overlay serve` run as a user runs it (the binary `OverlayCommand` names: the release build under `make test`),
/// on loopback ports the system chose, read back from its start-up line; curl is the client.
final class ServeProcess {
    struct Failure: Error, CustomStringConvertible { let description: String }

    let process: OverlayProcess
    let http: UInt16
    let tftp: UInt16?

    /// Starts `overlay serve ARGUMENTS --http 127.0.0.1:0 [--tftp 127.0.0.1:0]` and waits for its start-up line.
    init(_ arguments: [String], tftp withTFTP: Bool = false, in directory: URL) throws {
        process = try OverlayProcess(
            ["serve"] + arguments + ["--http", "127.0.0.1:0"] + (withTFTP ? ["--tftp", "127.0.0.1:0"] : []), in: directory)
        let banner = try process.waitForEvent("overlay serve: serving ")
        guard let http = Self.port(after: "HTTP on 127.0.0.1:", in: banner) else {
            throw Failure(description: "no HTTP port in \"\(banner)\"")
        }
        self.http = http
        tftp = withTFTP ? Self.port(after: "TFTP on 127.0.0.1:", in: banner) : nil
    }

    var base: String { "http://127.0.0.1:\(http)" }

    /// The status code and body of a request made with curl `options`.
    func request(_ path: String, _ options: [String] = []) throws -> (status: Int, body: String) {
        let marker = "\n--status--"
        let output = try curl(base + path, options: options + ["--write-out", "\(marker)%{http_code}"])
        guard let range = output.range(of: marker, options: .backwards), let status = Int(output[range.upperBound...]) else {
            throw Failure(description: "curl gave no status for \(path): \(output)")
        }
        return (status, String(output[..<range.lowerBound]))
    }

    /// POSTs `body` to /report.
    func post(_ body: String, _ options: [String] = []) throws -> (status: Int, body: String) {
        try request("/report", ["--data-binary", body] + options)
    }

    @discardableResult
    func terminate() -> Int32 { process.terminate() }

    static func port(after marker: String, in line: String) -> UInt16? {
        guard let range = line.range(of: marker) else { return nil }
        return UInt16(line[range.upperBound...].prefix(while: \.isNumber))
    }
}

/// What iPXE fetches for `mac` from the server at `base`: the node's script, then each file the script names.
func fetchAsIPXE(_ mac: String, from base: String) throws {
    let script = try curl("\(base)/ipxe/\(mac.replacingOccurrences(of: ":", with: "-"))")
    for line in script.split(separator: "\n") where line.hasPrefix("kernel ") || line.hasPrefix("initrd ") {
        guard let path = line.split(separator: " ").first(where: { $0.hasPrefix("../") }) else { continue }
        _ = try curl("\(base)/\(path.dropFirst(3))")
    }
}
