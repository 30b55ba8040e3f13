import Foundation
import Posix
import SystemPackage

/// Reads overlays back: the list of objects and the plugin registry entries. The format is recognized from
/// the file's content, not its name. cpio (bare, gzip, zstd) is read with libarchive; squashfs, which
/// libarchive cannot read, with `unsquashfs -lln` and `unsquashfs -cat`; erofs by extracting it with
/// `fsck.erofs --extract` (which also checks every block) into a private temporary directory.
public enum OverlayReader {
    /// Registry entries are small text files; anything bigger is not one.
    static let registryLimit = 64 * 1024

    /// Reads the overlay at `path`. Throws `PackError` (`notAnOverlay`, `corrupt`, `noRegistryEntry`,
    /// `badRegistryEntry`) with a one-sentence description naming the file. `requireRegistry: false` reads a
    /// base image, which has no registry entry.
    /// `digests: true` also gives each file its data's SHA-256 (`Entry.sha256`), reading every byte.
    public static func read(_ path: FilePath, requireRegistry: Bool = true, digests: Bool = false) throws -> OverlayContents {
        let detected: OverlayFormat?
        do {
            detected = try OverlayFormat.detect(file: path)
        } catch let error as Errno {
            throw PackError.unreadable(path: path, reason: error.posixDescription)
        }
        guard let format = detected else { throw PackError.notAnOverlay(path: path) }
        let contents: OverlayContents =
            switch format {
            case .squashfs: digests ? try withDigests(try readSquashfs(path), of: path) : try readSquashfs(path)
            case .erofs: try readErofs(path, digests: digests)
            case .cpio, .cpioGzip, .cpioZstd: try readCpio(path, digests: digests)
            }
        guard !contents.registry.isEmpty || !requireRegistry else { throw PackError.noRegistryEntry(path: path) }
        do {
            _ = try contents.registryEntries()
        } catch let error as RegistryEntryError {
            throw PackError.badRegistryEntry(path: path, message: error.description)
        }
        return contents
    }

    /// The name of the registry entry a path is, if it is one: `etc/ovirt.plugins.d/<name>`.
    static func registryName(_ path: String) -> String? {
        let prefix = RegistryEntry.directory + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let name = path.dropFirst(prefix.count)
        return name.isEmpty || name.contains("/") ? nil : String(name)
    }

    /// Strips "./" and "/" prefixes and trailing slashes, the ways other cpio writers spell the same path.
    static func normalized(_ path: String) -> String {
        var p = Substring(path)
        while true {
            if p.hasPrefix("./") { p = p.dropFirst(2) } else if p.hasPrefix("/") { p = p.dropFirst() } else { break }
        }
        while p.hasSuffix("/") { p = p.dropLast() }
        return p == "." ? "" : String(p)
    }

    private static func readCpio(_ path: FilePath, digests: Bool) throws -> OverlayContents {
        let reader: ArchiveReader
        do {
            reader = try ArchiveReader(path: path, formats: .cpio)
        } catch let failure as ArchiveReader.Failure {
            throw failure.unrecognized ? PackError.notAnOverlay(path: path) : PackError.corrupt(path: path, message: failure.message)
        }
        var entries: [OverlayContents.Entry] = []
        var registry: [String: [String: String]] = [:]
        do {
            while let header = try reader.next() {
                let name = normalized(header.pathname)
                if name.isEmpty {
                    try reader.skipData()
                    continue
                }
                let kind: OverlayContents.Entry.Kind
                var target = header.symlink
                switch header.kind {
                case .file: kind = .file
                case .hardlink: kind = .hardlink
                case .directory: kind = .directory
                case .symlink: kind = .symlink
                case .characterDevice, .blockDevice, .fifo, .socket, .unknown: kind = .special
                }
                if kind == .hardlink { target = header.hardlink.map(normalized) }
                var entry = OverlayContents.Entry(
                    path: name, kind: kind, mode: header.permissions, uid: header.uid, gid: header.gid,
                    size: kind == .directory || kind == .special ? 0 : header.size, linkTarget: target)
                if kind == .file || kind == .hardlink, header.size > 0, let plugin = registryName(name) {
                    guard let bytes = try reader.data(limit: registryLimit) else {
                        throw PackError.badRegistryEntry(path: path, message: "\(name) is larger than \(registryLimit) bytes.")
                    }
                    if digests { entry.sha256 = SHA256Digest.bytes(bytes) }
                    do {
                        registry[plugin] = try RegistryEntry.fields(String(decoding: bytes, as: UTF8.self), source: name)
                    } catch let error as RegistryEntryError {
                        throw PackError.badRegistryEntry(path: path, message: error.description)
                    }
                } else if digests && (kind == .file || kind == .hardlink) && header.size > 0 {
                    var digest = SHA256Digest()
                    var next: Int64 = 0
                    try reader.forEachDataBlock(fallback: "cannot read the data of \(name)") { block, offset in
                        if offset > next { digest.update([UInt8](repeating: 0, count: Int(offset - next))) }  // a hole
                        digest.update(block)
                        next = offset + Int64(block.count)
                    }
                    if header.size > next { digest.update([UInt8](repeating: 0, count: Int(header.size - next))) }
                    entry.sha256 = digest.finalize()
                } else {
                    try reader.skipData()
                }
                entries.append(entry)
            }
        } catch let failure as ArchiveReader.Failure {
            throw failure.unrecognized && entries.isEmpty
                ? PackError.notAnOverlay(path: path) : PackError.corrupt(path: path, message: failure.message)
        }
        if entries.isEmpty && !reader.isCpio { throw PackError.notAnOverlay(path: path) }
        let format: OverlayFormat
        switch reader.compression {
        case .none: format = .cpio
        case .gzip: format = .cpioGzip
        case .zstd: format = .cpioZstd
        case .other: throw PackError.notAnOverlay(path: path)
        }
        return OverlayContents(entries: entries, registry: registry, format: format)
    }

    private static func readSquashfs(_ path: FilePath) throws -> OverlayContents {
        let listing = try ExternalTool(name: "unsquashfs", arguments: ["-lln", path.string]).run(subject: path)
        guard listing.status == 0 else { throw squashfsFailure(path, listing) }
        var entries: [OverlayContents.Entry] = []
        for line in String(decoding: listing.stdout, as: UTF8.self).split(separator: "\n") {
            if let entry = squashfsEntry(line) { entries.append(entry) }
        }
        guard !entries.isEmpty else { throw PackError.corrupt(path: path, message: "unsquashfs listed nothing") }
        var registry: [String: [String: String]] = [:]
        for entry in entries where entry.kind == .file {
            guard let plugin = registryName(entry.path) else { continue }
            guard entry.size <= registryLimit else {
                throw PackError.badRegistryEntry(path: path, message: "\(entry.path) is larger than \(registryLimit) bytes.")
            }
            let cat = try ExternalTool(name: "unsquashfs", arguments: ["-cat", path.string, entry.path]).run(subject: path)
            guard cat.status == 0 else { throw squashfsFailure(path, cat) }
            do {
                registry[plugin] = try RegistryEntry.fields(String(decoding: cat.stdout, as: UTF8.self), source: entry.path)
            } catch let error as RegistryEntryError {
                throw PackError.badRegistryEntry(path: path, message: error.description)
            }
        }
        return OverlayContents(entries: entries, registry: registry, format: .squashfs)
    }

    private static func readErofs(_ path: FilePath, digests: Bool) throws -> OverlayContents {
        try withScratch("overlay-erofs") { extracted in try readErofs(path, extractedInto: extracted, digests: digests) }
    }

    private static func readErofs(_ path: FilePath, extractedInto extracted: FilePath, digests: Bool) throws -> OverlayContents {
        let extract = try ExternalTool(name: "fsck.erofs", arguments: ["--extract=\(extracted.string)", "--preserve", path.string]).run(subject: path)
        guard extract.status == 0 else {
            let last = extract.stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? "fsck.erofs exit status \(extract.status)"
            throw PackError.corrupt(path: path, message: last.trimmingCharacters(in: .whitespaces))
        }
        let tree = try DeltaTree(root: extracted)
        var entries: [OverlayContents.Entry] = []
        var registry: [String: [String: String]] = [:]
        for item in tree.entries {
            let kind: OverlayContents.Entry.Kind =
                switch item.kind {
                case .file: .file
                case .directory: .directory
                case .symlink: .symlink
                }
            let name = item.relativeString
            var entry = OverlayContents.Entry(
                path: name, kind: kind, mode: item.mode & 0o7777, uid: Int64(item.uid), gid: Int64(item.gid),
                size: kind == .directory ? 0 : item.size, linkTarget: item.linkTarget.map { String(decoding: $0, as: UTF8.self) })
            if digests && kind == .file { entry.sha256 = try SHA256Digest.file(tree.path(of: item)) }
            entries.append(entry)
            guard kind == .file, let plugin = registryName(name) else { continue }
            guard item.size <= registryLimit else {
                throw PackError.badRegistryEntry(path: path, message: "\(name) is larger than \(registryLimit) bytes.")
            }
            let text = try String(contentsOfFile: tree.path(of: item).string, encoding: .utf8)
            do {
                registry[plugin] = try RegistryEntry.fields(text, source: name)
            } catch let error as RegistryEntryError {
                throw PackError.badRegistryEntry(path: path, message: error.description)
            }
        }
        return OverlayContents(entries: entries, registry: registry, format: .erofs)
    }

    /// `contents` (read from the squashfs at `path`) with each file's SHA-256, from the image unpacked once with
    /// `unsquashfs -d` into a private temporary directory.
    private static func withDigests(_ contents: OverlayContents, of path: FilePath) throws -> OverlayContents {
        try withScratch("overlay-squashfs") { extracted in try withDigests(contents, of: path, extractedInto: extracted) }
    }

    private static func withDigests(_ contents: OverlayContents, of path: FilePath, extractedInto extracted: FilePath) throws -> OverlayContents {
        let unpacked = try ExternalTool(name: "unsquashfs", arguments: ["-no-xattrs", "-quiet", "-no-progress", "-d", extracted.string, path.string])
            .run(subject: path)
        guard unpacked.status == 0 else { throw squashfsFailure(path, unpacked) }
        let entries = try contents.entries.map { entry in
            var entry = entry
            if entry.kind == .file { entry.sha256 = try SHA256Digest.file(extracted.appending(entry.path)) }
            return entry
        }
        return OverlayContents(entries: entries, registry: contents.registry, format: contents.format)
    }

    /// Runs `body` with `root` (not yet created) inside a new private temporary directory, removed afterwards and
    /// on SIGINT or SIGTERM.
    private static func withScratch<T>(_ prefix: String, _ body: (_ root: FilePath) throws -> T) throws -> T {
        let scratch = FilePath(NSTemporaryDirectory()).appending("\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: scratch.string, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        Interruption.creating(scratch) {}
        defer {
            try? FileManager.default.removeItem(atPath: scratch.string)
            Interruption.finished(scratch)
        }
        return try body(scratch.appending("root"))
    }

    private static func squashfsFailure(_ path: FilePath, _ output: ExternalTool.Output) -> PackError {
        let last = output.stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? "unsquashfs exit status \(output.status)"
        return PackError.corrupt(path: path, message: last.trimmingCharacters(in: .whitespaces))
    }

    /// One line of `unsquashfs -lln`: `-rw-r--r-- 0/0  6 2023-11-14 22:13 squashfs-root/etc/x [-> target]`.
    static func squashfsEntry(_ line: Substring) -> OverlayContents.Entry? {
        var fields = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true)
        guard fields.count == 5, let type = fields[0].first else { return nil }
        if type == "c" || type == "b" {
            // Devices print "major, minor" where files print a size.
            fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { return nil }
            fields.remove(at: 3)
        }
        let owner = fields[1].split(separator: "/")
        guard owner.count == 2, let uid = Int64(owner[0]), let gid = Int64(owner[1]) else { return nil }
        // fields[4] is "HH:MM path…"
        guard let space = fields[4].firstIndex(of: " ") else { return nil }
        var rest = fields[4][fields[4].index(after: space)...]
        guard rest.hasPrefix("squashfs-root") else { return nil }
        rest = rest.dropFirst("squashfs-root".count)
        if rest.isEmpty { return nil }  // the root directory itself
        rest = rest.drop(while: { $0 == "/" })
        var path = String(rest)
        var target: String? = nil
        if type == "l", let arrow = rest.range(of: " -> ") {
            path = String(rest[..<arrow.lowerBound])
            target = String(rest[arrow.upperBound...])
        }
        let kind: OverlayContents.Entry.Kind =
            switch type {
            case "-": .file
            case "d": .directory
            case "l": .symlink
            default: .special
            }
        return OverlayContents.Entry(
            path: path, kind: kind, mode: permissionBits(fields[0]), uid: uid, gid: gid,
            size: kind == .file || kind == .symlink ? Int64(fields[2]) ?? 0 : 0, linkTarget: target)
    }

    /// `rwsr-x--T` style permissions (after the type letter) as mode bits.
    static func permissionBits(_ text: Substring) -> UInt32 {
        let chars = Array(text.dropFirst())
        guard chars.count == 9 else { return 0 }
        var mode: UInt32 = 0
        let bits: [UInt32] = [0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001]
        for (i, c) in chars.enumerated() where c != "-" {
            switch (i, c) {
            case (2, "s"): mode |= 0o4000 | 0o100
            case (2, "S"): mode |= 0o4000
            case (5, "s"): mode |= 0o2000 | 0o010
            case (5, "S"): mode |= 0o2000
            case (8, "t"): mode |= 0o1000 | 0o001
            case (8, "T"): mode |= 0o1000
            default: mode |= bits[i]
            }
        }
        return mode
    }
}
