import Foundation
import Formats
import SystemPackage

/// One initrd a role boots, as `overlay check` reads it: a base initrd, an overlay or the role's rpmdb.
public struct RoleInitrd: Sendable {
    /// For an overlay, its plugin's name; nil for the base's initrds and the role's rpmdb.
    public var plugin: String?
    /// How messages name it: `vdsm-1.0` for an overlay, the file's served path otherwise.
    public var label: String
    public var path: FilePath
    /// A squashfs or erofs layer: mounted by the node's init, stacked over the root after every cpio is unpacked.
    public var isLayer: Bool

    public init(plugin: String?, label: String, path: FilePath, isLayer: Bool) {
        self.plugin = plugin
        self.label = label
        self.path = path
        self.isLayer = isLayer
    }
}

/// One thing wrong with a role, as one sentence that says what to do.
public struct RoleProblem: Codable, Sendable, Equatable {
    /// The path inside the root, for collisions and base type clashes.
    public var path: String?
    public var message: String

    public init(path: String? = nil, message: String) {
        self.path = path
        self.message = message
    }
}

/// The checks of a role's overlays that need only the overlays (and, for `baseTypes`, the base's root filesystem):
/// files two overlays ship differently, paths whose type differs from the base's, and the size of what a node loads.
public enum RoleCheck {
    /// The firmware and boot loader limit: BIOS (and many UEFI) loaders put every initrd below 4 GiB, and the kernel
    /// cannot take a larger initramfs.
    public static let firmwareLimit: Int64 = 4 << 30

    /// Paths that two overlays of the role ship with different content, type, mode, owner or link target. The
    /// kernel unpacks a role's cpio initrds in order, each over the last, and the node's init stacks layers on top:
    /// the last one silently wins. A collision is allowed when `wins` (the role's `wins`, first one first) names
    /// one of the plugins and that plugin's overlay is the one that comes last; when it is not, the message says to
    /// reorder. `overlays` are in the role's order, each with its contents read with `digests: true`.
    public static func collisions(_ overlays: [(RoleInitrd, OverlayContents)], wins: [String], role: String) -> [RoleProblem] {
        // The order things land in the node's root: cpio archives in order, then layers in order.
        let ranked = overlays.enumerated().sorted { a, b in
            (a.element.0.isLayer ? 1 : 0, a.offset) < (b.element.0.isLayer ? 1 : 0, b.offset)
        }.map(\.element)
        var shipped: [String: [(initrd: RoleInitrd, entry: OverlayContents.Entry)]] = [:]
        var order: [String] = []
        for (initrd, contents) in ranked {
            // Every name of a hardlink set as the file it is, as `overlay diff` compares them.
            let files = OverlayDiff.filesByPath(contents.entries)
            for entry in contents.entries.compactMap({ files[$0.path] }) {
                if shipped[entry.path] == nil { order.append(entry.path) }
                shipped[entry.path, default: []].append((initrd, entry))
            }
        }
        var problems: [RoleProblem] = []
        for path in order {
            guard let all = shipped[path], all.count > 1 else { continue }
            let last = all[all.count - 1]
            // Only what differs from the copy that ends up in the root matters.
            let losers = all.dropLast().filter { difference($0.entry, last.entry) != nil }
            guard let loser = losers.last, let why = difference(loser.entry, last.entry) else { continue }
            let involved = (losers.map(\.initrd) + [last.initrd]).compactMap(\.plugin)
            let names = (losers.map(\.initrd) + [last.initrd]).map { "\($0.label)" }
            if let winner = wins.first(where: involved.contains) {
                if winner == last.initrd.plugin { continue }
                problems.append(
                    RoleProblem(
                        path: "/" + path,
                        message:
                            "/\(path): role \"\(role)\" says plugin \"\(winner)\" wins, but \(last.initrd.label) comes later and the node keeps its copy (\(why)); list \"\(winner)\" after \"\(last.initrd.plugin ?? last.initrd.label)\" in the role's plugins"
                    ))
                continue
            }
            problems.append(
                RoleProblem(
                    path: "/" + path,
                    message:
                        "/\(path) is in \(names.joined(separator: " and ")) with \(why), and the node silently keeps \(last.initrd.label)'s; make the plugins ship the same file, or say which wins with wins = [\"\(last.initrd.plugin ?? last.initrd.label)\"] under [roles.\(role)]"
                ))
        }
        return problems
    }

    /// How two copies of one path differ, in words (`different content (sha256 1a2b… and 3c4d…)`), or nil.
    static func difference(_ a: OverlayContents.Entry, _ b: OverlayContents.Entry) -> String? {
        func kind(_ entry: OverlayContents.Entry) -> String {
            switch entry.kind {
            case .file, .hardlink: "a file"
            case .directory: "a directory"
            case .symlink: "a symlink"
            case .special: "a special file"
            }
        }
        if kind(a) != kind(b) { return "different types (\(kind(a)) and \(kind(b)))" }
        if a.kind == .symlink, a.linkTarget != b.linkTarget {
            return "different link targets (\(a.linkTarget ?? "") and \(b.linkTarget ?? ""))"
        }
        if a.kind == .file || a.kind == .hardlink {
            if a.size != b.size { return "different content (\(a.size) and \(b.size) bytes)" }
            if let x = a.sha256, let y = b.sha256, x != y { return "different content (sha256 \(x.prefix(12))… and \(y.prefix(12))…)" }
        }
        if a.kind != .symlink, a.mode != b.mode {
            return "different modes (\(String(a.mode, radix: 8)) and \(String(b.mode, radix: 8)))"
        }
        if a.uid != b.uid || a.gid != b.gid { return "different owners (\(a.uid):\(a.gid) and \(b.uid):\(b.gid))" }
        return nil
    }

    /// Paths an overlay ships as another type than the base's root filesystem at `base` has there (a file where the
    /// base has a directory, a directory where it has a symlink such as /lib → usr/lib): unpacked over the base, the
    /// node's root would not be what either meant.
    /// `name` is what messages call the base.
    public static func baseTypes(_ overlays: [(RoleInitrd, OverlayContents)], base: FilePath, name: String) -> [RoleProblem] {
        var problems: [RoleProblem] = []
        for (initrd, contents) in overlays {
            for entry in contents.entries {
                let ours: FileAttributeType =
                    switch entry.kind {
                    case .file, .hardlink: .typeRegular
                    case .directory: .typeDirectory
                    case .symlink: .typeSymbolicLink
                    case .special: .typeUnknown
                    }
                guard ours != .typeUnknown,
                    let attributes = try? FileManager.default.attributesOfItem(atPath: base.appending(entry.path).string),
                    let theirs = attributes[.type] as? FileAttributeType, theirs != ours
                else { continue }
                problems.append(
                    RoleProblem(
                        path: "/" + entry.path,
                        message:
                            "/\(entry.path) is \(words(ours)) in \(initrd.label), but the base has \(words(theirs)) there (\(name)); ship it where the base has the same type, or build against a base that agrees"
                    ))
            }
        }
        return problems
    }

    private static func words(_ type: FileAttributeType) -> String {
        switch type {
        case .typeRegular: "a file"
        case .typeDirectory: "a directory"
        case .typeSymbolicLink: "a symlink"
        default: "a special file"
        }
    }

    /// What a role's initrds take: the files the boot loader loads (compressed), and the node's RAM once the cpio
    /// archives are unpacked (layers stay as they are: they are mounted, not unpacked).
    public struct Sizes: Codable, Sendable, Equatable {
        public var compressed: Int64
        public var unpacked: Int64

        public init(compressed: Int64, unpacked: Int64) {
            self.compressed = compressed
            self.unpacked = unpacked
        }
    }

    /// `initrds` (all of the role's: base, overlays, rpmdb), each with its file size and, for a cpio archive, its
    /// entries' total bytes.
    public static func sizes(_ initrds: [(initrd: RoleInitrd, fileSize: Int64, unpacked: Int64?)]) -> Sizes {
        Sizes(
            compressed: initrds.reduce(0) { $0 + $1.fileSize },
            unpacked: initrds.reduce(0) { $0 + ($1.initrd.isLayer ? $1.fileSize : $1.unpacked ?? $1.fileSize) })
    }

    /// The sizes against the role's limits (`maxInitrd`, `maxUnpacked`, from fleet.toml) and the firmware's.
    public static func budget(_ sizes: Sizes, maxInitrd: Int64?, maxUnpacked: Int64?, role: String) -> [RoleProblem] {
        var problems: [RoleProblem] = []
        if let limit = maxInitrd, sizes.compressed > limit {
            problems.append(
                RoleProblem(
                    message:
                        "role \"\(role)\" loads \(humanSize(sizes.compressed)) of initrds, over its max_initrd of \(humanSize(limit)) (BIOS and firmware loaders fail beyond about 4 GiB of initrds together); slim or drop an overlay, or raise max_initrd"
                ))
        } else if sizes.compressed > firmwareLimit {
            problems.append(
                RoleProblem(
                    message:
                        "role \"\(role)\" loads \(humanSize(sizes.compressed)) of initrds: BIOS and firmware loaders put every initrd below 4 GiB, and the kernel takes no larger initramfs; slim or drop an overlay, or ship big parts as a layer"
                ))
        }
        if let limit = maxUnpacked, sizes.unpacked > limit {
            problems.append(
                RoleProblem(
                    message:
                        "role \"\(role)\" unpacks to \(humanSize(sizes.unpacked)) in the node's RAM, over its max_unpacked of \(humanSize(limit)) (the unpacked cpio stays in RAM for the node's life, and the kernel decompresses at most 4 GiB); slim or drop an overlay, ship big parts as a squashfs or erofs layer, or raise max_unpacked"
                ))
        }
        return problems
    }
}
