import Foundation
import Glibc
import Serve
import SystemPackage
import Testing

/// A temporary directory tree for one test, removed at the end.
final class Scratch {
    let url: URL
    var path: String { url.path }

    init() throws {
        var template = Array("/tmp/serve-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        url = URL(fileURLWithPath: String(cString: made))
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `count` pseudo-random bytes (seeded, so failures reproduce) and returns them.
    @discardableResult
    func randomFile(_ relative: String, count: Int, seed: UInt64 = 42) throws -> Data {
        var state = seed &+ UInt64(count)
        var bytes = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var word = state
            for _ in 0..<8 where i < count {
                bytes[i] = UInt8(truncatingIfNeeded: word >> 33)
                word = word &* 2_862_933_555_777_941_757 &+ 3_037_000_493
                i += 1
            }
        }
        let data = Data(bytes)
        try write(relative, data)
        return data
    }

    func write(_ relative: String, _ data: Data) throws {
        let target = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: target)
    }

    func write(_ relative: String, _ text: String) throws { try write(relative, Data(text.utf8)) }

    /// Makes the directory `root` beside a private sibling `root-private/secret`, with two symlinks in the root
    /// that point out of it (`escape` to the secret, `up` to the parent); returns the root's path.
    func rootWithEscapes() throws -> String {
        let root = path + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try write("root-private/secret", "secret outside the root\n")
        try FileManager.default.createSymbolicLink(atPath: root + "/escape", withDestinationPath: path + "/root-private/secret")
        try FileManager.default.createSymbolicLink(atPath: root + "/up", withDestinationPath: "..")
        return root
    }
}

/// The output of a finished subprocess.
struct Finished {
    var status: Int32
    var stdout: Data
    var stderr: String
    var text: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a real client program and waits for it (killed after `timeout` seconds).
@discardableResult
func run(_ program: String, _ arguments: [String], in directory: String? = nil, timeout: Double = 120) throws -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
    let errors = DataBox()
    let group = DispatchGroup()
    group.enter()
    let errorHandle = err.fileHandleForReading
    Thread.detachNewThread {
        errors.data = errorHandle.readDataToEndOfFile()
        group.leave()
    }
    let collected = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    timer.cancel()
    return Finished(status: process.terminationStatus, stdout: collected, stderr: String(decoding: errors.data, as: UTF8.self))
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// Runs `count` bodies on their own threads (not the shared pool: each blocks on a subprocess) and waits.
func inParallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            body(index)
            group.leave()
        }
    }
    group.wait()
}

/// sha256 of a file, by coreutils' sha256sum.
func sha256(file: String) throws -> String {
    let result = try run("/usr/bin/sha256sum", [file])
    return String(result.text.prefix(64))
}

func sha256(_ data: Data) throws -> String {
    let scratch = try Scratch()
    try scratch.write("blob", data)
    return try sha256(file: scratch.path + "/blob")
}

/// A catalog that generates per-MAC pxelinux configs and one boot script, and knows one file's digest.
struct FleetCatalog: ServeCatalog {
    var digests: [String: String] = [:]

    func generatedDocument(path: String) -> GeneratedDocument? {
        if path == "boot.ipxe" {
            return GeneratedDocument(body: Array("#!ipxe\nchain ipxe/${net0/mac:hexhyp}\n".utf8), contentType: "text/plain; charset=utf-8")
        }
        let prefix = "pxelinux.cfg/01-"
        if path.hasPrefix(prefix) {
            let mac = path.dropFirst(prefix.count)
            return GeneratedDocument(
                body: Array("DEFAULT node\nLABEL node\n  KERNEL vmlinuz\n  APPEND initrd=initrd.img mac=\(mac)\n".utf8), contentType: "text/plain")
        }
        return nil
    }

    func knownDigest(path: String) -> String? { digests[path] }
}

/// An access log in a temporary file, read back by the tests.
final class LogFile {
    let path: String
    let fd: FileDescriptor

    init(_ scratch: Scratch) throws {
        path = scratch.path + "-access.log"
        fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate, .append], permissions: [.ownerReadWrite])
    }

    deinit {
        try? fd.close()
        unlink(path)
    }

    /// The first line that satisfies `match`, waiting up to `timeout` seconds for the server to write it
    /// (a transfer is logged after its last ACK, which may come after the client has finished).
    func line(within timeout: Double = 3, where match: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let found = lines.first(where: match) { return found }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    var lines: [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}
