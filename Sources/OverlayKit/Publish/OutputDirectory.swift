import Foundation
import Posix
import SystemPackage

/// The directory `build` and `base create` write to, held by one of them at a time.
///
/// Opening it takes an exclusive `flock(2)` on the directory itself (a second build into the same directory
/// waits for the first; no lock file is left beside the outputs), then clears what builds killed before could
/// not (SIGKILL, a crash, a power cut): a publish they had begun is completed from its journal, and their work
/// directories (`.overlay-work-*`) and stray temporaries (`.*.partial-<pid>` of a process that no longer runs)
/// are removed. Only names of that shape are touched; the lock keeps a running build's work directory safe.
public final class OutputDirectory: Sendable {
    public let path: FilePath
    /// What opening the directory cleared.
    public let leftovers: Leftovers
    /// The open directory, which holds the lock until it is closed.
    private let handle: OwnedFileDescriptor

    /// What killed builds left behind.
    public struct Leftovers: Sendable {
        /// The names removed from the directory.
        public var removed: [String] = []
        /// Their size on disk, in bytes.
        public var bytes: Int64 = 0
        /// Outputs whose publish a killed build had begun, now in place.
        public var completed: [String] = []
    }

    /// Creates the directory if needed, takes its lock and clears leftovers. When another process holds the
    /// lock, `waiting` is called with its pid (from `/proc/locks`, when found) and the call blocks until the
    /// lock is released.
    public init(_ path: FilePath, waiting: (Int32?) -> Void = { _ in }) throws {
        self.path = path
        try WorkDirectory.prepareOutput(path)
        // A read-only filesystem is said once, here, rather than by every plugin's build.
        if access(path.string, W_OK) != 0 {
            throw OutputDirectoryError(directory: path, reason: Errno(rawValue: errno).posixDescription)
        }
        do {
            handle = try OwnedFileDescriptor.open(path, .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw OutputDirectoryError(directory: path, reason: ErrorText.reason(error))
        }
        // From here on a failure closes `handle` as the half-made object goes.
        let fd = handle.descriptor
        if flock(fd.rawValue, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                let error = Errno(rawValue: errno)
                throw OutputDirectoryError(directory: path, reason: "cannot lock it against other builds (\(error.posixDescription))")
            }
            waiting(Self.holder(of: fd))
            do {
                try systemCall("flock", path.string) { flock(fd.rawValue, LOCK_EX) }
            } catch {
                throw OutputDirectoryError(directory: path, reason: "cannot lock it against other builds (\(error.errno.posixDescription))")
            }
        }
        leftovers = Self.clearLeftovers(in: path)
    }

    /// The pid holding a flock on the directory, from `/proc/locks` ("1: FLOCK ADVISORY WRITE <pid>
    /// <major>:<minor>:<inode> 0 EOF", device numbers in hex, split from `st_dev` as glibc's `major`/`minor` do).
    private static func holder(of fd: FileDescriptor) -> Int32? {
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE" else { continue }
            let id = fields[5].split(separator: ":")
            guard id.count == 3, UInt64(id[2]) == UInt64(info.st_ino), let major = UInt32(id[0], radix: 16), let minor = UInt32(id[1], radix: 16),
                UInt64(major) == (info.st_dev >> 8) & 0xfff | (info.st_dev >> 32) & ~0xfff,
                UInt64(minor) == info.st_dev & 0xff | (info.st_dev >> 12) & ~0xff
            else { continue }
            return Int32(fields[4])
        }
        return nil
    }

    // MARK: Publishing

    /// Moves staged files from a work directory into this directory as one step: first a journal naming the
    /// moves is written into the work directory, then each file is renamed into place, then `removals` are
    /// removed. A signal is handled before or after, never during; a SIGKILL half-way is completed by the next
    /// build (`clearLeftovers`). `moves` are (path relative to `work`, name in this directory), in order.
    func publish(_ moves: [(staged: String, name: String)], removing removals: [String] = [], from work: FilePath) throws {
        let journal = PublishJournal(moves: moves.map { .init(staged: $0.staged, name: $0.name) }, removals: removals)
        try Interruption.uninterrupted {
            try AtomicFile.writeJSON(journal, to: work.appending(PublishJournal.fileName))
            try journal.apply(from: work, to: path)
        }
    }

    // MARK: Leftovers

    private static func clearLeftovers(in directory: FilePath) -> Leftovers {
        var leftovers = Leftovers()
        let names = ((try? directoryNames(directory)) ?? []).map { String(decoding: $0, as: UTF8.self) }.sorted()
        for name in names where isLeftover(name) {
            let path = directory.appending(name)
            if let data = FileManager.default.contents(atPath: path.appending(PublishJournal.fileName).string),
                let journal = try? JSONDecoder().decode(PublishJournal.self, from: data)
            {
                leftovers.completed += (try? journal.apply(from: path, to: directory)) ?? []
            }
            leftovers.bytes += FileTree.size(path)
            if (try? FileManager.default.removeItem(atPath: path.string)) != nil { leftovers.removed.append(name) }
        }
        return leftovers
    }

    /// `.overlay-work-<label>-<pid>` (and `.base-work-<pid>`, which older versions made): work directories,
    /// only ever in use by the lock's holder. `.<name>.partial-<pid>`: a temporary of `AtomicFile` or
    /// mksquashfs, left only when that process is gone (other commands, such as `boot-config`, write such
    /// temporaries without the lock).
    static func isLeftover(_ name: String) -> Bool {
        if name.hasPrefix(WorkDirectory.prefix) || name.hasPrefix(".base-work-") { return true }
        guard name.hasPrefix("."), let range = name.range(of: ".partial-", options: .backwards),
            let pid = Int32(name[range.upperBound...]), pid > 0
        else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

}

/// The moves of a publish, written into the work directory before the first rename, so that a build killed
/// half-way through is completed by the next one rather than leaving an overlay beside another's manifest.
struct PublishJournal: Codable {
    static let fileName = "publish.json"

    struct Move: Codable {
        /// Relative to the work directory.
        var staged: String
        /// A name in the output directory.
        var name: String
    }

    var moves: [Move]
    var removals: [String]

    /// Renames each staged file still there into place, then removes `removals`; returns the names moved.
    @discardableResult
    func apply(from work: FilePath, to output: FilePath) throws -> [String] {
        var moved: [String] = []
        for move in moves {
            let staged = work.appending(move.staged)
            guard FileTree.status(staged) != nil else { continue }  // moved before the build was killed
            let target = output.appending(move.name)
            try systemCall("rename", "\(staged) to \(target)") { rename(staged.string, target.string) }
            moved.append(move.name)
        }
        AtomicFile.syncDirectory(output)
        for name in removals { try? FileManager.default.removeItem(atPath: output.appending(name).string) }
        return moved
    }
}

/// A filesystem (or quota) filled up while a build wrote to it.
public enum OutputError: UserError, Sendable {
    /// `option` is the flag that chooses another place.
    case noSpace(writing: String, option: String)

    public var description: String {
        switch self {
        case .noSpace(let writing, let option):
            "no space left on device while writing \(writing): free space or choose another \(option)"
        }
    }
}

extension OutputError {
    /// Whether `error` comes from a full filesystem or quota (ENOSPC, EDQUOT), in any of the forms the steps
    /// of a build report it: a bare `Errno`, a failed system call, Foundation's file errors, a packing or
    /// install error carrying it, or rpm's own free-space check.
    static func isNoSpace(_ error: any Error) -> Bool {
        func full(_ errno: Errno) -> Bool { errno == .noSpace || errno == .diskQuotaExceeded }
        switch error {
        case let error as Errno: return full(error)
        case let error as SystemCallError: return full(error.errno)
        case let error as PackError:
            if case .noSpace = error { return true }
            return false
        case let error as InstallError:
            switch error {
            case .noSpace: return true
            case .system(let error): return full(error.errno)
            case .transactionFailed(_, let messages): return messages.contains { $0.contains("No space left on device") }
            default: return false
            }
        case let error as RepoError:
            if case .noSpace = error { return true }
            return false
        case is OutputError:
            return true
        default:
            let error = error as NSError
            if error.domain == NSCocoaErrorDomain && error.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
            if error.domain == NSPOSIXErrorDomain && (error.code == Int(ENOSPC) || error.code == Int(EDQUOT)) { return true }
            if let underlying = error.userInfo[NSUnderlyingErrorKey] as? any Error { return isNoSpace(underlying) }
            return false
        }
    }
}
