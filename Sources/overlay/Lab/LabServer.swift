import Foundation
import Posix

/// `overlay serve` as the lab runs it for its nodes: this same binary, HTTP and TFTP on loopback ports the system
/// picks, the access log as JSON lines in a file, stopped with SIGTERM.
final class LabServer {
    let httpPort: Int
    let tftpPort: Int
    private let process: Process
    private let logPath: String

    /// One access log line (see `AccessLog`'s JSON format).
    struct Fetch: Decodable {
        var proto: String
        var path: String
        var status: String
        var bytes: Int
    }

    /// Starts serving `directory` with `fleet`; returns once both ports are known.
    init(directory: String, fleet: String, scratch: String) throws(LabError) {
        logPath = scratch + "/access.jsonl"
        let errorPath = scratch + "/serve.log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ownExecutable)
        process.arguments = [
            "serve", "--dir", directory, "--fleet", fleet, "--http", "127.0.0.1:0", "--tftp", "127.0.0.1:0", "--json-log", "--no-check",
        ]
        guard FileManager.default.createFile(atPath: logPath, contents: nil), FileManager.default.createFile(atPath: errorPath, contents: nil),
            let log = FileHandle(forWritingAtPath: logPath), let errors = FileHandle(forWritingAtPath: errorPath)
        else { throw .cannotStart("overlay serve", "cannot create its log files in \(scratch)") }
        process.standardOutput = log
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .cannotStart("overlay serve", ErrorText.describe(error)) }
        self.process = process

        // The start-up line names the ports: "overlay serve: serving DIR over HTTP on 127.0.0.1:P and TFTP on 127.0.0.1:Q; …".
        let deadline = ContinuousClock.now + .seconds(20)
        var said = ""
        while ContinuousClock.now < deadline {
            said = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            if let line = said.split(separator: "\n").first(where: { $0.hasPrefix("overlay serve: serving ") }),
                let http = Self.port(after: "HTTP on 127.0.0.1:", in: line), let tftp = Self.port(after: "TFTP on 127.0.0.1:", in: line)
            {
                httpPort = http
                tftpPort = tftp
                return
            }
            if !process.isRunning { break }
            usleep(50_000)
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let reason = said.split(separator: "\n").last.map(String.init) ?? "it said nothing"
        throw .cannotStart("overlay serve", reason)
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// What was served so far, in order.
    func fetches() -> [Fetch] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Fetch.self, from: Data($0.utf8)) }
    }

    /// This program, to run its own `serve`.
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private static func port(after marker: String, in line: Substring) -> Int? {
        guard let range = line.range(of: marker) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}
