import Foundation
import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// `/dev` and `/proc` inside a root while rpm runs scriptlets there, as image builders (mock, osbuild) give
/// them: scriptlets redirect to `/dev/null` and read `/proc/self`, and an unpacked image has neither filled
/// in. They are mounted in the install thread's private namespace only: a fresh tmpfs with the usual
/// character devices at `/dev` (so nothing a scriptlet writes there reaches the root or the delta) and a
/// procfs at `/proc`.
struct ScriptletMounts {
    /// Directories that had to be made for the mounts (relative to the root), to drop from a delta.
    let createdDirectories: [String]
    private let root: FilePath

    /// Mounts both in `root`; throws with the mount that failed.
    init(root: FilePath) throws {
        self.root = root
        var created: [String] = []
        for name in ["dev", "proc"] {
            let path = root.appending(name)
            if FileTree.status(path) == nil {
                try FileTree.makeDirectory(path)
                created.append(name)
            }
        }
        createdDirectories = created
        do {
            try Self.mountBoth(in: root)
        } catch {
            unmount()
            throw error
        }
    }

    private static func mountBoth(in root: FilePath) throws {
        let dev = root.appending("dev")
        try systemCall("mount", "tmpfs on \(dev)") { mount("tmpfs", dev.string, "tmpfs", UInt(MS_NOSUID) | UInt(MS_NOEXEC), "mode=0755,size=1m") }
        for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)] {
            let node = dev.appending(name)
            let device = dev_t(major << 8 | minor)
            try systemCall("mknod", node.string) { mknod(node.string, S_IFCHR | 0o666, device) }
            try systemCall("chmod", node.string) { chmod(node.string, 0o666) }
        }
        for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            let link = dev.appending(name)
            try systemCall("symlink", link.string) { symlink(target, link.string) }
        }
        let proc = root.appending("proc")
        try systemCall("mount", "proc on \(proc)") {
            mount("proc", proc.string, "proc", UInt(MS_NOSUID) | UInt(MS_NOEXEC) | UInt(MS_NODEV), nil)
        }
    }

    /// Detaches both mounts (safe to call when a mount is already gone).
    func unmount() {
        for name in ["proc", "dev"] { _ = umount2(root.appending(name).string, Int32(MNT_DETACH)) }
    }

    /// The mode, owner and time the transaction's packages list for the mount points. Read before `rpmtsRun`:
    /// rpm sets them on the mounted tmpfs and procfs, never on the directories beneath.
    func listedMetadata(in transaction: RPMTransaction) -> [String: RPMTransaction.DirectoryMetadata] {
        var listed: [String: RPMTransaction.DirectoryMetadata] = [:]
        for name in ["dev", "proc"] { listed[name] = transaction.directoryMetadata("/" + name) }
        return listed
    }

    /// After `unmount`: gives the mount points what the packages list for them.
    func restore(_ listed: [String: RPMTransaction.DirectoryMetadata]) {
        for (name, metadata) in listed {
            let path = root.appending(name)
            _ = chmod(path.string, mode_t(metadata.mode) & 0o7777)
            if metadata.rootOwned { _ = lchown(path.string, 0, 0) }
            var times = [timespec(tv_sec: time_t(metadata.mtime), tv_nsec: 0), timespec(tv_sec: time_t(metadata.mtime), tv_nsec: 0)]
            _ = utimensat(AT_FDCWD, path.string, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// After `unmount`: removes the directories made for the mounts from `tree` (a delta's upper layer) when
    /// nothing was put in them. (A plugin package owning `/dev` or `/proc` over a base without them would lose
    /// that empty directory; real bases have both.)
    func removeCreatedDirectories(from tree: FilePath) {
        for name in createdDirectories {
            let path = tree.appending(name)
            if (try? FileTree.entries(path).isEmpty) == true { _ = rmdir(path.string) }
        }
    }
}
