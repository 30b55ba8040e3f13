import Foundation
import SystemPackage
import Formats
import Posix

/// A private, hidden directory inside an output directory, for what a build makes before its results are
/// moved into place: on the same filesystem as the outputs (so renames are atomic, and overlayfs gets a
/// real filesystem for its upper layer), and removed afterwards, whatever happened. Its name,
/// `.overlay-work-<label>-<pid>`, is how the next build recognises one that a killed build left behind.
enum WorkDirectory {
    static let prefix = ".overlay-work-"

    static func with<T>(in output: FilePath, named label: String, _ body: (FilePath) throws -> T) throws -> T {
        let work = output.appending("\(prefix)\(label)-\(getpid())")
        try? FileManager.default.removeItem(atPath: work.string)
        defer {
            try? FileManager.default.removeItem(atPath: work.string)
            Interruption.finished(work)
        }
        do {
            try Interruption.creating(work) {
                try FileManager.default.createDirectory(atPath: work.string, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw OutputDirectoryError(directory: output, reason: ErrorText.reason(error))
        }
        return try body(work)
    }

    /// Creates the output directory when it is missing; a file in its place, or a directory that cannot be
    /// made (read-only filesystem, a file in the path), is an `OutputDirectoryError`.
    static func prepareOutput(_ output: FilePath) throws(OutputDirectoryError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output.string, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw OutputDirectoryError(directory: output, reason: "it is a file, not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: output.string, withIntermediateDirectories: true)
        } catch {
            throw OutputDirectoryError(directory: output, reason: ErrorText.reason(error))
        }
    }
}

/// The output directory (`--out`) cannot take the results.
public struct OutputDirectoryError: Error, CustomStringConvertible, Sendable {
    public let directory: FilePath
    public let reason: String

    public var description: String {
        "cannot write to the output directory \(directory): \(reason); give --out a directory that can be written (it is created when missing)"
    }
}

extension AtomicFile {
    /// Writes a manifest as JSON (sorted keys, pretty printed, a final newline), atomically.
    static func writeJSON(_ value: some Encodable, to path: FilePath) throws {
        try write(try JSONEncoder.manifest.encode(value) + Data("\n".utf8), to: path)
    }
}
