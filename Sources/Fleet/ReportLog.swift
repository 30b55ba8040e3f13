import Foundation
import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The reports a server accepted, kept across restarts in one append-only file of JSON lines in the state
/// directory, `DIR/reports.jsonl`: one `ReceivedReport` a line.
///
/// - Each line goes out in one `write(2)` on a descriptor opened `O_APPEND`, and is fsynced before the node is
///   answered: a crash loses at most the line being written. A line torn by a crash is cut off when the file is next
///   opened, so the next line starts clean.
/// - Once the file passes `rotateBytes`, it is renamed to `reports.jsonl.1` (replacing the one before) and a new
///   file begun: a rename, so each file is whole at every moment. Both are read back at start.
/// - Every file is opened beneath DIR (`openat2`, no symbolic links) and renamed within it: nothing is written
///   outside DIR. DIR is locked (`flock`) while the server runs, so two servers never write one file.
public final class ReportLog: Sendable {
    public static let fileName = "reports.jsonl"
    public static let rotatedName = "reports.jsonl.1"
    /// 16 MiB, some 40,000 reports.
    public static let defaultRotateBytes = 16 << 20

    /// What the files held when the log was opened.
    public struct Contents: Sendable {
        /// Oldest first: `reports.jsonl.1`'s, then `reports.jsonl`'s.
        public var reports: [ReceivedReport] = []
        /// Whole lines that did not read as a report (edited by hand, written by another program).
        public var unreadable = 0
        /// The bytes of a last line a crash tore, cut off.
        public var tornBytes = 0
    }

    public let directory: FilePath
    public let rotateBytes: Int
    /// What was there at start.
    public let contents: Contents
    /// The open directory: every file is opened beneath it, and it holds the lock.
    private let directoryHandle: OwnedFileDescriptor
    private let current: Locked<Current>

    private struct Current: ~Copyable {
        var file: OwnedFileDescriptor
        var size: Int
    }

    /// Creates DIR when it is missing, locks it, reads back what it holds and opens `reports.jsonl` for appending.
    public init(directory: FilePath, rotateBytes: Int = ReportLog.defaultRotateBytes) throws(ReportLogError) {
        self.directory = directory
        self.rotateBytes = max(1, rotateBytes)
        do {
            try Fleet.makeDirectory(directory)
        } catch let error as SystemCallError {
            throw .unusable(directory: directory, reason: "cannot create it (\(error.errno.posixDescription))")
        } catch let error as NotADirectory {
            throw .unusable(
                directory: directory, reason: error.path == directory ? "it is a file, not a directory" : "\(error.path) is a file, not a directory")
        } catch {
            throw .unusable(directory: directory, reason: ErrorText.reason(error))
        }
        do {
            directoryHandle = try OwnedFileDescriptor.open(directory, .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw .unusable(directory: directory, reason: "cannot open it (\(ErrorText.reason(error)))")
        }
        if flock(directoryHandle.rawValue, LOCK_EX | LOCK_NB) != 0 {
            throw .taken(directory: directory)
        }
        var contents = Contents()
        for name in [Self.rotatedName, Self.fileName] {
            guard let bytes = try Self.read(name, beneath: directoryHandle.descriptor, directory: directory) else { continue }
            let (reports, unreadable, torn) = Self.decode(bytes)
            contents.reports += reports
            contents.unreadable += unreadable
            if name == Self.fileName { contents.tornBytes = torn }
        }
        let file: OwnedFileDescriptor
        do throws(SystemCallError) {
            file = try openBeneath(
                directoryHandle.descriptor, Array(Self.fileName.utf8), flags: O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, mode: 0o644)
        } catch {
            throw .unusable(directory: directory, reason: "cannot write \(Self.fileName) in it (\(error.errno.posixDescription))")
        }
        var size = Int(lseek(file.rawValue, 0, SEEK_END))
        if contents.tornBytes > 0 {
            size -= contents.tornBytes
            guard ftruncate(file.rawValue, off_t(size)) == 0, fsync(file.rawValue) == 0 else {
                throw .unusable(directory: directory, reason: "cannot cut the torn last line off \(Self.fileName) (\(Errno(rawValue: errno).posixDescription))")
            }
        }
        self.contents = contents
        current = Locked(Current(file: file, size: size))
    }

    /// Appends one report as a line, fsynced; rotates the file once it has passed `rotateBytes`.
    public func append(_ report: ReceivedReport) throws(ReportLogError) {
        var line: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            line = Array(try encoder.encode(report))
        } catch {
            throw .writeFailed(file: directory.appending(Self.fileName), reason: ErrorText.reason(error))
        }
        line.append(UInt8(ascii: "\n"))
        let path = directory.appending(Self.fileName)
        let directoryFD = directoryHandle.rawValue
        try current.withLock { (current: inout Current) throws(ReportLogError) in
            do throws(SystemCallError) {
                let written = try line.withUnsafeBytes { buffer in
                    Result { () throws(SystemCallError) in
                        try systemCall("write", path.string) { write(current.file.rawValue, buffer.baseAddress, buffer.count) }
                    }
                }.get()
                // One write of a few hundred bytes to a regular file is whole unless the disk filled up.
                guard written == line.count else {
                    current.size += written
                    throw SystemCallError(call: "write", subject: path.string, errno: .noSpace)
                }
                try systemCall("fsync", path.string) { fsync(current.file.rawValue) }
            } catch {
                throw .writeFailed(file: path, reason: error.errno.posixDescription)
            }
            current.size += line.count
            guard current.size >= rotateBytes else { return }
            do throws(SystemCallError) {
                try systemCall("renameat", "\(path) to \(Self.rotatedName)") {
                    renameat(directoryFD, Self.fileName, directoryFD, Self.rotatedName)
                }
                current.file = try openBeneath(
                    FileDescriptor(rawValue: directoryFD), Array(Self.fileName.utf8), flags: O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, mode: 0o644
                )
                current.size = 0
                _ = fsync(directoryFD)
            } catch {
                throw .writeFailed(file: path, reason: "rotating it to \(Self.rotatedName) failed (\(error.errno.posixDescription))")
            }
        }
    }

    /// A file's bytes, or nil when it does not exist.
    private static func read(_ name: String, beneath directory: FileDescriptor, directory path: FilePath) throws(ReportLogError) -> [UInt8]? {
        do throws(SystemCallError) {
            let file = try openBeneath(directory, Array(name.utf8), flags: O_RDONLY | O_CLOEXEC | O_NOCTTY)
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = try chunk.withUnsafeMutableBytes { buffer in
                    Result { () throws(SystemCallError) in try systemCall("read", name) { Glibc.read(file.rawValue, buffer.baseAddress, buffer.count) } }
                }.get()
                if count == 0 { return bytes }
                bytes += chunk[0..<count]
            }
        } catch {
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw .unusable(directory: path, reason: "cannot read \(name) in it (\(error.errno.posixDescription))")
        }
    }

    /// The reports of a file's whole lines, how many whole lines did not read as one, and the length of a last line
    /// without its line feed (torn).
    static func decode(_ bytes: [UInt8]) -> (reports: [ReceivedReport], unreadable: Int, torn: Int) {
        let decoder = JSONDecoder()
        var reports: [ReceivedReport] = []
        var unreadable = 0
        let end = (bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
        for line in bytes[0..<end].split(separator: UInt8(ascii: "\n")) {
            if let report = try? decoder.decode(ReceivedReport.self, from: Data(line)) {
                reports.append(report)
            } else {
                unreadable += 1
            }
        }
        return (reports, unreadable, bytes.count - end)
    }
}

/// A state directory the server cannot keep reports in.
public enum ReportLogError: UserError, Equatable {
    case unusable(directory: FilePath, reason: String)
    /// Another server holds the directory's lock.
    case taken(directory: FilePath)
    case writeFailed(file: FilePath, reason: String)

    public var description: String {
        switch self {
        case .unusable(let directory, let reason):
            "--state \(directory): \(reason); give a directory this server can write its reports to"
        case .taken(let directory):
            "--state \(directory): another overlay serve keeps its reports there; give each server its own --state directory"
        case .writeFailed(let file, let reason):
            "cannot keep a node's report in \(file): \(reason)"
        }
    }
}
