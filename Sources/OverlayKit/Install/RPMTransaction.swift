internal import CRPM
import Foundation
import Posix
import SystemPackage

/// What `rpmtsRun` did.
struct TransactionOutcome {
    /// NEVRAs of the packages installed, in rpm's order.
    let installed: [String]
    /// NEVRAs of the packages rpm failed.
    let failed: [String]
    let scriptletFailures: [ScriptletFailure]
}

/// An rpm transaction installing package files into one root: it drives a transaction set (`RPMTransactionSet`)
/// through adding, ordering and running, with `TransactionEvents` answering rpm's callbacks. It is freed (and with
/// it the set and its rpmdb) when its owner drops it, and is used on one thread only: rpm's chroot and callbacks
/// are not shareable.
final class RPMTransaction {
    let set: RPMTransactionSet
    let events: TransactionEvents
    private let scriptOutput: OpaquePointer?
    let log: RPMLog

    /// A transaction set rooted at `root` (`rpmtsSetRootDir`), plugins off (the host's SELinux, audit or systemd
    /// plugins have no business in an image), signatures not checked but header and payload digests verified: the
    /// packages come already fetched, checked against their repo metadata's checksums and, for repos with
    /// gpgcheck, against their keys (`PackageSignatureVerifier`); unsigned local builds must install, while a
    /// corrupt file must not. Scriptlet output goes to `scriptOutputFile`, read back when a scriptlet fails.
    init(root: FilePath, scriptOutputFile: FilePath, log: RPMLog, progress: (@Sendable (InstallProgress) -> Void)?) throws {
        let set: RPMTransactionSet
        do { set = try RPMTransactionSet() } catch { throw InstallError.rpm(error) }
        guard set.setRootDirectory(root) else { throw InstallError.rpm(.unusableRoot(root, said: log.errors())) }
        set.withUnsafeHandle { _ = rpmtsSetFlags($0, rpmtransFlags(RPMTRANS_FLAG_NOPLUGINS.rawValue)) }
        set.setVerification(.digests)
        let output = Fopen(scriptOutputFile.string, "w.ufdio")
        if let output, Ferror(output) == 0 {
            set.withUnsafeHandle { rpmtsSetScriptFd($0, output) }
            scriptOutput = output
        } else {
            if let output { Fclose(output) }
            scriptOutput = nil
        }
        self.set = set
        self.log = log
        events = TransactionEvents(scriptOutputFile: scriptOutputFile, progress: progress)
        events.attach(to: set)
    }

    deinit {
        events.detach(from: set)
        set.withUnsafeHandle { rpmtsSetScriptFd($0, nil) }
        if let scriptOutput { Fclose(scriptOutput) }
        events.closeAll()
        // `set` goes next: rpmtsFree closes the root's rpmdb.
    }

    /// Reads `file` (`Fopen` + `rpmReadPackageFile`) and adds it as an install element
    /// (`rpmtsAddInstallElement`, not an upgrade: nothing of the root is replaced).
    func addInstall(_ file: FilePath) throws {
        let mark = log.mark
        guard let fd = Fopen(file.string, "r.ufdio") else {
            throw InstallError.unreadablePackage(file: file, reason: "it could not be opened: \(String(cString: strerror(errno)))")
        }
        defer { Fclose(fd) }
        if Ferror(fd) != 0 {
            let reason = Fstrerror(fd).map { String(cString: $0) } ?? "unknown error"
            throw InstallError.unreadablePackage(file: file, reason: "it could not be opened: \(reason)")
        }
        var header: Header?
        let rc = set.withUnsafeHandle { rpmReadPackageFile($0, fd, file.string, &header) }
        guard let header, rc == RPMRC_OK || rc == RPMRC_NOKEY || rc == RPMRC_NOTTRUSTED else {
            if let header { headerFree(header) }
            // rpm 4.18 logs nothing when the file is no RPM at all. Its lines start with the path, named already.
            let said = log.warnings(since: mark).map { $0.replacingOccurrences(of: "\(file.string): ", with: "") }.joined(separator: "; ")
            let reason =
                rc == RPMRC_NOTFOUND ? "it has no RPM lead and header" : "its header or signature header is damaged"
            throw InstallError.unreadablePackage(file: file, reason: said.isEmpty ? reason : "\(reason); rpm: \(said)")
        }
        defer { headerFree(header) }
        let key = events.register(file)
        guard set.withUnsafeHandle({ rpmtsAddInstallElement($0, header, key, 0, nil) }) == 0 else {
            let said = log.errors(since: mark).joined(separator: "; ")
            throw InstallError.unreadablePackage(file: file, reason: said.isEmpty ? "rpm would not add it to the transaction" : "rpm: \(said)")
        }
    }

    /// Creates an empty rpmdb in the root (`rpmtsInitDB`).
    func initDatabase() throws {
        let mark = log.mark
        guard set.withUnsafeHandle({ rpmtsInitDB($0, 0o644) }) == 0 else {
            throw InstallError.transactionFailed(packages: [], messages: ["the rpm database could not be created"] + log.errors(since: mark))
        }
    }

    /// Dependency problems of the added packages against each other and the root's rpmdb (`rpmtsCheck`).
    func check() -> [String] {
        _ = set.withUnsafeHandle { rpmtsCheck($0) }
        return problems()
    }

    /// Runs the transaction: `rpmtsOrder`, then `rpmtsRun` (ignoring only the OS and architecture checks, which
    /// judge the build host rather than the image). Problems rpm refuses the transaction for are thrown with
    /// rpm's own words; scriptlet failures come back in the outcome, since rpm reports success despite them.
    func run() throws -> TransactionOutcome {
        _ = set.withUnsafeHandle { rpmtsOrder($0) }
        let mark = log.mark
        let filter = rpmprobFilterFlags(RPMPROB_FILTER_IGNOREOS.rawValue | RPMPROB_FILTER_IGNOREARCH.rawValue)
        let rc = set.withUnsafeHandle { rpmtsRun($0, nil, filter) }
        let found = problems()
        if rc != 0, !found.isEmpty { throw refusal(found) }

        let (installed, failed) = addedElements()
        if rc != 0 || !failed.isEmpty || events.openFailure != nil {
            var messages = log.errors(since: mark)
            if let openFailure = events.openFailure { messages.insert(openFailure, at: 0) }
            if let critical = events.scriptletFailures.first(where: \.critical) {
                throw InstallError.scriptletFailed(
                    package: critical.package, scriptlet: critical.scriptlet,
                    rpmMessage: message(for: critical, in: messages), output: critical.output)
            }
            throw InstallError.transactionFailed(packages: failed, messages: messages)
        }
        return TransactionOutcome(installed: installed, failed: failed, scriptletFailures: events.scriptletFailures)
    }

    /// rpm's log line about a scriptlet ("%post(a-1-1.noarch) scriptlet failed, exit status 1").
    func message(for failure: ScriptletFailure, in lines: [String]? = nil) -> String {
        let lines = lines ?? log.warnings()
        return lines.last(where: { $0.contains("\(failure.scriptlet)(\(failure.package))") }) ?? "exit status not reported"
    }
}
