import Foundation
import Posix
import SystemPackage

/// A plugin shipped as one file: a tar archive (bare, gzip or zstd — recognized from the content) of the
/// plugin's directory.
public enum PluginBundle {
    /// Extracts `bundle` into `directory` and returns the plugin's directory: the one top-level directory
    /// holding `plugin.toml`, or `directory` itself. A plugin that is already a directory is returned as is.
    ///
    /// `directory` is created with mode 0700 and must not exist or be empty. Every entry is checked before
    /// anything is written (`PluginBundleCheck`), then libarchive extracts with
    /// `ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS`
    /// on a thread whose working directory is `directory`. Owners are not restored; setuid, setgid, sticky and
    /// group/other write bits are dropped.
    public static func extract(_ bundle: FilePath, into directory: FilePath) throws -> FilePath {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: bundle.string, isDirectory: &isDirectory) else {
            throw PluginBundleError.unreadable(bundle: bundle, reason: "No such file or directory")
        }
        if isDirectory.boolValue { return bundle }
        if let size = try? FileManager.default.attributesOfItem(atPath: bundle.string)[.size] as? NSNumber, size.intValue == 0 {
            throw PluginBundleError.damaged(bundle: bundle, message: "it is empty, 0 bytes")
        }
        try prepare(directory)
        // The second pass runs on a thread whose working directory is `directory`, where a relative path would
        // name a file inside it: open the bundle by its absolute path there (messages keep the path as given).
        let source = bundle.isAbsolute ? bundle : FilePath(FileManager.default.currentDirectoryPath).pushing(bundle)

        // First pass: check every header, extract nothing.
        var check = PluginBundleCheck()
        try read(bundle, opening: source) { reader, header in
            _ = try refusing(bundle, header.pathname) { () throws(PluginBundleCheck.Refusal) in try check.check(header) }
            try reader.skipData()
        }
        do {
            try check.checkSymlinkPrefixes()
        } catch {
            throw PluginBundleError.unsafeEntry(bundle: bundle, entry: error.entry ?? "", reason: error.reason)
        }
        let planned = check.entries

        // Second pass: extract what was checked, on a thread of its own whose cwd is the directory.
        try PosixThread.run(name: "plugin extract") { try extractAll(bundle, opening: source, into: directory, expecting: planned) }
        return pluginDirectory(in: directory)
    }

    /// Creates the private extraction directory, or accepts an existing empty one.
    private static func prepare(_ directory: FilePath) throws {
        do {
            _ = try directory.withPlatformString { p in try systemCall("mkdir", directory.string) { mkdir(p, 0o700) } }
        } catch let error as SystemCallError where error.errno == .fileExists {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory.string)) ?? ["?"]
            guard contents.isEmpty else { throw PluginBundleError.directoryNotEmpty(directory: directory) }
        } catch let error as SystemCallError {
            throw PluginBundleError.cannotCreate(directory: directory, reason: error.errno.posixDescription)
        }
    }

    /// Opens the bundle at `source` as tar and calls `body` with each header; errors name it `bundle`.
    private static func read(_ bundle: FilePath, opening source: FilePath, _ body: (ArchiveReader, ArchiveEntry) throws -> Void) throws {
        let reader: ArchiveReader
        do {
            reader = try ArchiveReader(path: source, formats: .tar)
        } catch let failure as ArchiveReader.Failure {
            throw failure.unrecognized ? PluginBundleError.notABundle(bundle: bundle) : PluginBundleError.damaged(bundle: bundle, message: failure.message)
        }
        var first = true
        do {
            while let header = try reader.next() {
                first = false
                try body(reader, header)
            }
        } catch let failure as ArchiveReader.Failure {
            throw first && failure.unrecognized
                ? PluginBundleError.notABundle(bundle: bundle) : PluginBundleError.damaged(bundle: bundle, message: failure.message)
        }
        if first { throw PluginBundleError.damaged(bundle: bundle, message: "it holds no entries") }
    }

    private static func refusing<T>(_ bundle: FilePath, _ entry: String, _ body: () throws(PluginBundleCheck.Refusal) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw PluginBundleError.unsafeEntry(bundle: bundle, entry: error.entry ?? entry, reason: error.reason)
        }
    }

    /// Runs on its own thread: unshares the working directory, enters `directory`, extracts.
    private static func extractAll(
        _ bundle: FilePath, opening source: FilePath, into directory: FilePath, expecting planned: [PluginBundleCheck.Checked]
    ) throws {
        try ArchiveDiskWriter.enterPrivately(directory)
        let writer = try ArchiveDiskWriter(bundle: bundle)
        var check = PluginBundleCheck()
        var index = 0
        try read(bundle, opening: source) { reader, header in
            guard let checked = try refusing(bundle, header.pathname, { () throws(PluginBundleCheck.Refusal) in try check.check(header) }) else {
                try reader.skipData()
                return
            }
            guard index < planned.count, planned[index] == checked else {
                throw PluginBundleError.damaged(bundle: bundle, message: "it changed while it was being extracted")
            }
            index += 1
            var entry = header
            entry.path = Array(checked.path.utf8)
            if checked.kind == .hardlink, let target = checked.target { entry.hardlinkTarget = Array(target.utf8) }
            let permissions = entry.permissions & 0o755
            entry.permissions = checked.kind == .directory ? permissions | 0o700 : permissions | 0o600
            try writer.write(entry, from: reader, path: checked.path)
        }
        guard index == planned.count else {
            throw PluginBundleError.damaged(bundle: bundle, message: "it changed while it was being extracted")
        }
        try writer.close()
    }

    /// The plugin inside an extracted bundle: the extraction directory when it holds plugin.toml, else its
    /// only top-level directory when that holds plugin.toml, else the extraction directory.
    private static func pluginDirectory(in directory: FilePath) -> FilePath {
        let manager = FileManager.default
        if manager.fileExists(atPath: directory.appending("plugin.toml").string) { return directory }
        let top = (try? manager.contentsOfDirectory(atPath: directory.string)) ?? []
        if top.count == 1, let only = top.first {
            let candidate = directory.appending(only)
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: candidate.string, isDirectory: &isDirectory), isDirectory.boolValue,
                manager.fileExists(atPath: candidate.appending("plugin.toml").string)
            {
                return candidate
            }
        }
        return directory
    }
}

/// Why a plugin bundle could not be extracted. Each description is one sentence naming the bundle.
public enum PluginBundleError: UserError, Sendable {
    case unreadable(bundle: FilePath, reason: String)
    case notABundle(bundle: FilePath)
    case damaged(bundle: FilePath, message: String)
    case unsafeEntry(bundle: FilePath, entry: String, reason: String)
    case extraction(bundle: FilePath, entry: String, message: String)
    case directoryNotEmpty(directory: FilePath)
    case cannotCreate(directory: FilePath, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let bundle, let reason):
            return "cannot read the plugin bundle \(bundle): \(reason)"
        case .notABundle(let bundle):
            return "\(bundle) is not a plugin bundle: expected a plugin directory or a .tar, .tar.gz or .tar.zst of one"
        case .damaged(let bundle, let message):
            return "the plugin bundle \(bundle) is damaged (\(message)): rebuild or download it again"
        case .unsafeEntry(let bundle, let entry, let reason):
            return "the plugin bundle \(bundle) was refused: entry \"\(entry)\" \(reason); nothing was extracted"
        case .extraction(let bundle, let entry, let message):
            return "extracting \"\(entry)\" from the plugin bundle \(bundle) failed: \(message)"
        case .cannotCreate(let directory, let reason):
            return "cannot create the directory \(directory) to extract a plugin bundle into: \(reason)"
        case .directoryNotEmpty(let directory):
            return "cannot extract a plugin bundle into \(directory): the directory is not empty; use a new one"
        }
    }
}
