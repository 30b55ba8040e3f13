import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A directory holding exactly what a plugin's packages (and their scriptlets) add to or change in a base
/// image: new files, files a scriptlet changed, and the directories above them. It holds no rpmdb, no
/// overlayfs whiteouts or `trusted.overlay.*` attributes, and no file identical to the base's.
public struct DeltaRoot: Sendable {
    /// The delta tree.
    public let path: FilePath
    /// NEVRAs of the packages installed into it, in rpm's order.
    public let installed: [String]
    /// The package files that were installed.
    public var packageFiles: [FilePath] = []

    /// Removes the delta tree.
    public func remove() throws { try FileTree.remove(path) }
}

/// Turns an overlayfs upper directory into a delta root, comparing against the base (the lower directory).
///
/// Choices:
/// - The rpmdb rpm updated (copied up from the base) is dropped: shipped in an overlay it would hide the
///   base's rpmdb. So are rpm's scriptlet temp files in `var/tmp`, and `var/tmp` (and `var`) when the base has
///   none and nothing else is in them.
/// - A whiteout (a 0/0 character device) means a base file was deleted: an overlay cannot express that, so it
///   is an error naming the paths. An opaque directory (`trusted.overlay.opaque`) over a non-empty base
///   directory would hide the base's files: an error too; over an empty or missing one it is a plain directory.
/// - A file or symlink identical to the base's (same type, mode, owner and bytes or target; the time is not
///   compared) was rewritten with the same content, e.g. a file shared with a base package: dropped.
/// - A directory the base also has, with the same mode and owner, left empty by the above, was only copied
///   up because rpm set its metadata: dropped. Non-empty ones stay as parents, with the mode and owner rpm
///   left them (the base's unless a package set another).
/// - Every `trusted.overlay.*` attribute left (origin, impure, ...) is removed.
enum DeltaCleaner {
    static func clean(upper: FilePath, base: FilePath, databasePaths: [String]) throws {
        for database in Set(databasePaths + ["/var/lib/rpm", "/usr/lib/sysimage/rpm"]) {
            let relative = database.split(separator: "/").joined(separator: "/")
            guard !relative.isEmpty else { continue }
            let directory = upper.appending(relative)
            if let info = FileTree.status(directory), FileTree.isDirectory(info) {
                for name in try FileTree.entries(directory) { try FileTree.remove(directory.appending(name)) }
            }
        }
        try cleanTemporaryDirectory(upper: upper, base: base)

        var deleted: [String] = []
        try walk(upper: upper, base: base, relative: "", deleted: &deleted)
        if !deleted.isEmpty { throw InstallError.deletesBaseFiles(deleted) }
    }

    private static func cleanTemporaryDirectory(upper: FilePath, base: FilePath) throws {
        let tmp = upper.appending("var/tmp")
        guard let info = FileTree.status(tmp), FileTree.isDirectory(info) else { return }
        for name in try FileTree.entries(tmp) where name.hasPrefix("rpm-tmp.") {
            try FileTree.remove(tmp.appending(name))
        }
        for relative in ["var/tmp", "var"] where FileTree.status(base.appending(relative)) == nil {
            if try FileTree.entries(upper.appending(relative)).isEmpty { try FileTree.remove(upper.appending(relative)) }
        }
    }

    /// Cleans `upper/relative` (depth first) and returns whether it is still there.
    @discardableResult
    private static func walk(upper: FilePath, base: FilePath, relative: String, deleted: inout [String]) throws -> Bool {
        let here = relative.isEmpty ? upper : upper.appending(relative)
        let there = relative.isEmpty ? base : base.appending(relative)
        let shown = "/" + relative
        guard let info = FileTree.status(here) else { return false }
        let baseInfo = FileTree.status(there)

        if FileTree.isWhiteout(info) {
            if baseInfo != nil { deleted.append(shown) }
            try FileTree.remove(here)
            return false
        }
        if FileTree.isDirectory(info) {
            if !relative.isEmpty, try FileTree.hasAttribute(here, "trusted.overlay.opaque") {
                if let baseInfo, FileTree.isDirectory(baseInfo), try !FileTree.entries(there).isEmpty {
                    throw InstallError.hidesBaseDirectory(shown)
                }
            }
            for name in try FileTree.entries(here) {
                try walk(upper: upper, base: base, relative: relative.isEmpty ? name : "\(relative)/\(name)", deleted: &deleted)
            }
            if !relative.isEmpty, let baseInfo, FileTree.isDirectory(baseInfo), sameOwnerAndMode(info, baseInfo),
                try FileTree.entries(here).isEmpty
            {
                try FileTree.remove(here)
                return false
            }
        } else if let baseInfo, identical(here, info, there, baseInfo) {
            try FileTree.remove(here)
            return false
        }
        for name in try FileTree.attributeNames(here) where name.hasPrefix("trusted.overlay.") {
            try FileTree.removeAttribute(here, name)
        }
        return true
    }

    private static func sameOwnerAndMode(_ a: stat, _ b: stat) -> Bool {
        a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid
    }

    private static func identical(_ a: FilePath, _ aInfo: stat, _ b: FilePath, _ bInfo: stat) -> Bool {
        guard sameOwnerAndMode(aInfo, bInfo) else { return false }
        if FileTree.isSymlink(aInfo) { return FileTree.linkTarget(a) == FileTree.linkTarget(b) }
        if FileTree.isRegular(aInfo) { return aInfo.st_size == bInfo.st_size && FileTree.sameContent(a, b) }
        return false
    }
}
