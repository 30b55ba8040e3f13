import Foundation
import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// What an install into a fresh root did.
public struct InstallReport: Sendable {
    /// NEVRAs of the packages installed, in rpm's order.
    public let installed: [String]
    /// Failed non-critical scriptlets (`%post` and later), each one of rpm's sentences with the scriptlet's
    /// output; only filled when the caller allowed them.
    public let scriptletFailures: [String]
}

/// Installs RPM files with librpm: into a fresh root for a new base image, or on top of a base image into a
/// delta root for a plugin.
public enum PackageInstaller {
    /// Where `installBase` puts the new root's rpmdb: `/var/lib/rpm`, where RHEL 9 and CentOS Stream 9
    /// images keep it (`/usr/lib/sysimage/rpm` is Fedora's newer place; readers look in both).
    public static let baseDatabasePath = "/var/lib/rpm"

    /// Installs `packages` (local .rpm files, already fetched and verified) into `root`, a new, empty or
    /// nonexistent directory, with a fresh sqlite rpmdb at `/var/lib/rpm` (`baseDatabasePath`). Used by
    /// `overlay base create`.
    ///
    /// Dependencies are checked among the packages (`rpmtsCheck`) and rpm orders them, so a package providing
    /// `/bin/sh` goes in before the packages whose scriptlets need it. Scriptlets run chrooted in `root`, with a
    /// private `/dev` (null, zero, full, random, urandom, tty) and `/proc` mounted for them (see `ScriptletMounts`). A
    /// failing scriptlet is an error unless `allowScriptletFailures` is set, in which case it is listed in the
    /// report. Header and payload digests are always verified; signatures only for the packages `signatures`
    /// lists, each against its own keys (see `checkSignatures`), before anything is installed. Other packages
    /// count as verified by the caller (checksums from the repository metadata) and unsigned local builds install.
    /// On error the directory is left as it was found (removed, or emptied). Blocks until rpm is done; `progress`
    /// is called on the install thread.
    public static func installBase(
        packages: [FilePath], root: FilePath, signatures: [SignatureRequirement] = [], allowScriptletFailures: Bool = false,
        progress: (@Sendable (InstallProgress) -> Void)? = nil
    ) throws -> InstallReport {
        let root = FileTree.absolute(root)
        guard try FileTree.isAbsentOrEmptyDirectory(root) else { throw InstallError.directoryNotEmpty(root) }
        let createdRoot = FileTree.status(root) == nil
        var succeeded = false
        defer {
            // A failed install leaves the directory as it found it, ready for another try.
            if !succeeded {
                if createdRoot {
                    try? FileTree.remove(root)
                } else {
                    for name in (try? FileTree.entries(root)) ?? [] { try? FileTree.remove(root.appending(name)) }
                }
            }
        }
        if createdRoot {
            try wrapSystemErrors { () throws(SystemCallError) in try FileTree.makeDirectories(root) }
        }
        let scriptOutput = FilePath(FileManager.default.temporaryDirectory.path).appending("overlay-scriptlets-\(UUID().uuidString).log")
        defer { try? FileTree.remove(scriptOutput) }
        let packages = packages.map(FileTree.absolute)

        try makeTemporaryDirectory(in: root)
        let outcome = try RPMLibrary.session(macros: [("_dbpath", baseDatabasePath), ("_db_backend", "sqlite")]) { log in
            try checkSignatures(signatures, log: log)
            return try PrivateNamespaceThread.run {
                // /dev and /proc stay in the new root (empty) even when no package owns them: every root needs them.
                let mounts = try ScriptletMounts(root: root)
                defer { mounts.unmount() }
                let transaction = try RPMTransaction(root: root, scriptOutputFile: scriptOutput, log: log, progress: progress)
                try transaction.initDatabase()
                for package in packages { try transaction.addInstall(package) }
                let problems = transaction.check()
                if !problems.isEmpty { throw InstallError.transactionProblems(problems) }
                let listed = mounts.listedMetadata(in: transaction)
                let outcome = try transaction.run()
                mounts.unmount()
                mounts.restore(listed)
                if let failure = outcome.scriptletFailures.first, !allowScriptletFailures {
                    throw InstallError.scriptletFailed(
                        package: failure.package, scriptlet: failure.scriptlet, rpmMessage: transaction.message(for: failure), output: failure.output)
                }
                return (outcome, outcome.scriptletFailures.map { transaction.message(for: $0) + ($0.output.isEmpty ? "" : ": \($0.output)") })
            }
        }
        succeeded = true
        return InstallReport(installed: outcome.0.installed, scriptletFailures: outcome.1)
    }

    /// Installs `packages` on top of the base image unpacked at `base` and returns a `DeltaRoot`: a directory
    /// holding exactly the files the packages and their scriptlets add or change. The base is never modified.
    ///
    /// The base is mounted as the lower layer of an overlayfs whose upper layer becomes the delta; librpm
    /// installs into the merged tree with the base's rpmdb at `baseDBPath` (found by the caller, e.g.
    /// `/var/lib/rpm`), so rpm sees the base's packages (a file conflicting with a base package's file is an
    /// error in rpm's words) and scriptlets run chrooted in the base's tree (its `/bin/sh`, with a private `/dev`
    /// and `/proc` mounted for them, which never reach the delta). Dependencies are
    /// not checked: the plan solved them against the base. The mount lives in a private mount namespace of the
    /// install thread, so it is never visible elsewhere and ends with the call; scriptlets run in a PID namespace
    /// that ends with it too, taking along anything a scriptlet left running (`PrivateNamespaceThread`). See `DeltaCleaner` for
    /// what is dropped from the upper layer. Any failing scriptlet is an error naming the package. Digests and
    /// signatures are checked as for `installBase`, signatures against each requirement's keys.
    ///
    /// `workDirectory` (new or empty) must be on a filesystem that can hold an overlayfs upper layer (ext4,
    /// xfs, btrfs, tmpfs; not overlayfs itself, as `/tmp` is in some containers). The delta ends up in
    /// `workDirectory/delta`; on error nothing is left in `workDirectory`. Blocks until rpm is done; `progress` is
    /// called on the install thread. Installs in one process run one at a time (librpm keeps global state).
    public static func installDelta(
        packages: [FilePath], base: FilePath, baseDBPath: String, workDirectory: FilePath, signatures: [SignatureRequirement] = [],
        progress: (@Sendable (InstallProgress) -> Void)? = nil
    ) throws -> DeltaRoot {
        let base = FileTree.absolute(base)
        let work = FileTree.absolute(workDirectory)
        guard let baseInfo = FileTree.status(base), FileTree.isDirectory(baseInfo) else { throw InstallError.missingBase(base) }
        for path in [base, work] where path.string.contains(where: { $0 == "," || $0 == ":" || $0 == "\\" }) {
            throw InstallError.pathUnusableForOverlay(path)
        }
        try checkBaseDatabase(base: base, dbPath: baseDBPath)
        guard try FileTree.isAbsentOrEmptyDirectory(work) else { throw InstallError.directoryNotEmpty(work) }
        let createdWork = FileTree.status(work) == nil
        if createdWork {
            try wrapSystemErrors { () throws(SystemCallError) in try FileTree.makeDirectories(work) }
        }
        let upper = work.appending("upper")
        let overlayWork = work.appending("work")
        let merged = work.appending("merged")
        let delta = work.appending("delta")
        let scriptOutput = work.appending("scriptlets.log")
        var succeeded = false
        defer {
            for path in [overlayWork, merged, scriptOutput] { try? FileTree.remove(path) }
            if !succeeded {
                for path in [upper, delta] { try? FileTree.remove(path) }
                if createdWork { try? FileTree.remove(work) }
            }
        }
        try checkUpperFilesystem(work)
        for directory in [upper, overlayWork, merged] { try wrapSystemErrors { () throws(SystemCallError) in try FileTree.makeDirectory(directory) } }
        let packages = packages.map(FileTree.absolute)

        let outcome = try RPMLibrary.session(macros: [("_dbpath", baseDBPath)]) { log in
            try checkSignatures(signatures, log: log)
            return try PrivateNamespaceThread.run {
                try installOnOverlay(
                    packages, base: base, upper: upper, overlayWork: overlayWork, merged: merged, scriptOutput: scriptOutput, log: log,
                    progress: progress)
            }
        }
        outcome.1.removeCreatedDirectories(from: upper)
        try DeltaCleaner.clean(upper: upper, base: base, databasePaths: [baseDBPath])
        try systemCall("rename", "\(upper) to \(delta)") { rename(upper.string, delta.string) }
        succeeded = true
        var root = DeltaRoot(path: delta, installed: outcome.0.installed)
        root.packageFiles = packages
        return root
    }

    /// On the install thread, in its private namespaces: mounts the overlayfs (base below, `upper` above) at
    /// `merged`, gives scriptlets `/dev` and `/proc` there, and installs `packages` into it. Any failing scriptlet is
    /// an error. Returns rpm's outcome and the scriptlet mounts, whose directories the delta must drop.
    private static func installOnOverlay(
        _ packages: [FilePath], base: FilePath, upper: FilePath, overlayWork: FilePath, merged: FilePath, scriptOutput: FilePath, log: RPMLog,
        progress: (@Sendable (InstallProgress) -> Void)?
    ) throws -> (TransactionOutcome, ScriptletMounts) {
        let options = "lowerdir=\(base),upperdir=\(upper),workdir=\(overlayWork),redirect_dir=off,metacopy=off,index=off"
        do {
            try systemCall("mount", "overlay on \(merged)") { mount("overlay", merged.string, "overlay", 0, options) }
        } catch {
            throw InstallError.overlayMountFailed(error)
        }
        defer {
            if umount2(merged.string, 0) != 0 { umount2(merged.string, Int32(MNT_DETACH)) }
        }
        try makeTemporaryDirectory(in: merged)
        let mounts = try ScriptletMounts(root: merged)
        defer { mounts.unmount() }
        // The transaction (and with it the rpmdb) is closed before the overlay is unmounted.
        let outcome: TransactionOutcome = try {
            let transaction = try RPMTransaction(root: merged, scriptOutputFile: scriptOutput, log: log, progress: progress)
            for package in packages { try transaction.addInstall(package) }
            let outcome = try transaction.run()
            if let failure = outcome.scriptletFailures.first {
                throw InstallError.scriptletFailed(
                    package: failure.package, scriptlet: failure.scriptlet, rpmMessage: transaction.message(for: failure), output: failure.output)
            }
            return outcome
        }()
        return (outcome, mounts)
    }

    /// Verifies every package a requirement lists against that requirement's keys, with librpm
    /// (`PackageSignatureVerifier`: an in-memory keyring, header and payload, a signature required), before
    /// rpm installs anything; the first that fails is thrown. Keys are never imported into any rpmdb.
    static func checkSignatures(_ requirements: [SignatureRequirement], log: RPMLog) throws(InstallError) {
        for requirement in requirements where !requirement.packages.isEmpty {
            var absolute = requirement
            absolute.packages = requirement.packages.map(FileTree.absolute)
            try PackageSignatureVerifier.check(absolute, log: log)
        }
    }

    /// Reads `keys` into an rpm keyring and drops it: a key rpm cannot read is an error naming it.
    static func checkKeys(_ keys: [ArmoredKey]) throws {
        try RPMLibrary.session(macros: []) { _ in _ = try RPMKeyring(keys: keys) }
    }

    /// rpm writes each scriptlet to a file in `%_tmppath` (`/var/tmp`) inside the root, but creates that
    /// directory only once per process (`rpmMkTempFile`): in a second root without it every scriptlet fails
    /// ("Couldn't create temporary file"). So it is made (mode 1777) when the root has none; in a delta an
    /// empty one is dropped again.
    private static func makeTemporaryDirectory(in root: FilePath) throws {
        let tmp = root.appending("var/tmp")
        guard FileTree.status(tmp) == nil else { return }
        try wrapSystemErrors { () throws(SystemCallError) in
            try FileTree.makeDirectories(tmp)
            try systemCall("chmod", tmp.string) { chmod(tmp.string, 0o1777) }
        }
    }

    /// Makes sure rpm will find and update the base's rpmdb at `dbPath`: given a wrong path, rpm would quietly
    /// create an empty rpmdb there and check nothing against the base's packages. Debian's rpm reads but cannot
    /// write Berkeley DB rpmdbs (RHEL 8 and older) and does not know openSUSE's ndb.
    private static func checkBaseDatabase(base: FilePath, dbPath: String) throws {
        let relative = dbPath.split(separator: "/").joined(separator: "/")
        let directory = relative.isEmpty ? base : base.appending(relative)
        let reason: String
        if FileTree.status(directory.appending("rpmdb.sqlite")) != nil {
            return
        } else if FileTree.status(directory.appending("Packages")) != nil {
            reason = "it is a Berkeley DB rpmdb, which this rpm can read but not update"
        } else if FileTree.status(directory.appending("Packages.db")) != nil {
            reason = "it is an ndb rpmdb, which this rpm cannot open"
        } else {
            reason = "there is no rpmdb.sqlite"
        }
        throw InstallError.unusableBaseDatabase(base: base, dbPath: dbPath, reason: reason)
    }

    /// Refuses a work directory on overlayfs (it cannot be an upper layer) before mount gives a bare EINVAL.
    private static func checkUpperFilesystem(_ path: FilePath) throws(InstallError) {
        let type: FileSystemType
        do { type = try FileSystemType.of(path) } catch { throw .system(error) }
        if type == .overlayfs { throw .unsupportedFilesystem(path, "overlayfs") }
    }

    private static func wrapSystemErrors<R>(_ body: () throws(SystemCallError) -> R) throws(InstallError) -> R {
        do { return try body() } catch { throw .system(error) }
    }
}
