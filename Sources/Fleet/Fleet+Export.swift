import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

extension Fleet {
    /// The list of files the last export wrote, kept in the output directory so that the next export removes the
    /// ones that are no longer generated (a node taken out of the fleet) and nothing else.
    public static let exportRecord = ".overlay-boot-files"

    /// Writes every file of `bootDocuments()` under `directory`, each atomically, then removes the files a previous
    /// export wrote that are no longer generated. Returns the written paths, sorted.
    @discardableResult
    public func writeBootFiles(to directory: FilePath) throws(FleetError) -> [String] {
        let documents = bootDocuments()
        let paths = documents.keys.sorted()
        var status = stat()
        if directory.withPlatformString({ stat($0, &status) }) == 0, status.st_mode & S_IFMT != S_IFDIR {
            throw .exportFailed(directory: directory, reason: "it is a file, not a directory")
        }
        do {
            try Self.makeDirectory(directory)
            for path in paths {
                guard let document = documents[path] else { continue }
                let target = directory.appending(path)
                try Self.makeDirectory(target.removingLastComponent())
                try AtomicFile.write(Array(document.body.utf8), to: target)
            }
            let recordPath = directory.appending(Self.exportRecord)
            let previous = (try? Self.readText(recordPath)).map { $0.split(separator: "\n").map(String.init) } ?? []
            let current = Set(paths)
            for stale in previous where !current.contains(stale) && ServedPath.syntaxProblem(stale) == nil {
                let target = directory.appending(stale)
                do {
                    _ = try target.withPlatformString { name in try systemCall("unlink", target.string) { unlink(name) } }
                } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
                    // Already gone.
                }
            }
            try AtomicFile.write(Array((paths.joined(separator: "\n") + "\n").utf8), to: recordPath)
        } catch let error as FleetError {
            throw error
        } catch {
            throw .exportFailed(directory: directory, reason: ErrorText.describe(error))
        }
        return paths
    }

    /// Creates `path` and the directories above it that are missing (`mkdir -p`); throws `SystemCallError` when
    /// one cannot be made, or another error when a file stands where a directory belongs.
    static func makeDirectory(_ path: FilePath) throws {
        if path.isEmpty { return }
        var status = stat()
        if path.withPlatformString({ stat($0, &status) }) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else { throw NotADirectory(path: path) }
            return
        }
        try makeDirectory(path.removingLastComponent())
        do {
            _ = try path.withPlatformString { name in try systemCall("mkdir", path.string) { mkdir(name, 0o755) } }
        } catch let error as SystemCallError where error.errno == .fileExists {
            // Made by someone else meanwhile.
        }
    }
}

/// A file where the export (or the state directory) needs a directory.
struct NotADirectory: Error, CustomStringConvertible {
    let path: FilePath
    var description: String { "\(path) is a file where a directory belongs" }
}
