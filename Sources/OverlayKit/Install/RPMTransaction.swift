internal import CRPM
import Foundation
import Posix
import SystemPackage

/// Where an install has got to: `package` (a NEVRA) is being unpacked, number `completed + 1` of `total`.
public struct InstallProgress: Sendable {
    public let package: String
    public let completed: Int
    public let total: Int
}

/// A scriptlet that exited non-zero, as the notify callback saw it.
struct ScriptletFailure {
    let package: String
    let scriptlet: String
    /// True when rpm failed the package for it (`%pre`, `%preun`); a failing `%post` leaves it installed.
    let critical: Bool
    let output: String
}

/// What `rpmtsRun` did.
struct TransactionOutcome {
    /// NEVRAs of the packages installed, in rpm's order.
    let installed: [String]
    /// NEVRAs of the packages rpm failed.
    let failed: [String]
    let scriptletFailures: [ScriptletFailure]
}

/// An rpm transaction set (`rpmts`) installing into one root. It has one owner, is freed (closing its rpmdb)
/// in deinit, and is used on one thread only: rpm's chroot and callbacks are not shareable.
final class RPMTransaction {
    private let ts: OpaquePointer
    private let events: TransactionEvents
    private let scriptOutput: OpaquePointer?
    private let log: RPMLog

    /// `rpmtsCreate` + `rpmtsSetRootDir(root)`, plugins off (the host's SELinux, audit or systemd plugins
    /// have no business in an image), signatures not checked but header and payload digests verified
    /// (`RPMVSF_MASK_NOSIGNATURES`, verify level digest): the packages come already fetched, checked against
    /// their repo metadata's checksums and, for repos with gpgcheck, against their keys
    /// (`PackageSignatureVerifier`); unsigned local builds must install, while a corrupt file must not.
    /// Scriptlet output goes to `scriptOutputFile`, read back when a scriptlet fails.
    init(root: FilePath, scriptOutputFile: FilePath, log: RPMLog, progress: (@Sendable (InstallProgress) -> Void)?) throws {
        guard let ts = rpmtsCreate() else {
            throw InstallError.transactionFailed(packages: [], messages: ["rpmtsCreate returned nothing"])
        }
        self.ts = ts
        self.log = log
        guard rpmtsSetRootDir(ts, root.string) == 0 else {
            rpmtsFree(ts)
            throw InstallError.transactionFailed(packages: [], messages: ["rpm did not accept \(root) as a root directory"] + log.errors())
        }
        _ = rpmtsSetFlags(ts, rpmtransFlags(RPMTRANS_FLAG_NOPLUGINS.rawValue))
        _ = rpmtsSetVSFlags(ts, overlay_rpm_vsflags_no_signatures())
        _ = rpmtsSetVfyFlags(ts, overlay_rpm_vsflags_no_signatures())
        _ = rpmtsSetVfyLevel(ts, Int32(RPMSIG_DIGEST_TYPE))
        let output = Fopen(scriptOutputFile.string, "w.ufdio")
        if let output, Ferror(output) == 0 {
            rpmtsSetScriptFd(ts, output)
            scriptOutput = output
        } else {
            if let output { Fclose(output) }
            scriptOutput = nil
        }
        events = TransactionEvents(scriptOutputFile: scriptOutputFile, progress: progress)
        rpmtsSetNotifyCallback(ts, transactionNotify, Unmanaged.passUnretained(events).toOpaque())
    }

    deinit {
        rpmtsSetNotifyCallback(ts, nil, nil)
        rpmtsSetScriptFd(ts, nil)
        rpmtsFree(ts)
        if let scriptOutput { Fclose(scriptOutput) }
        events.closeAll()
    }

    /// Lends the `rpmts` to `body`; it must not escape.
    func withUnsafeHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(ts) }

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
        let rc = rpmReadPackageFile(ts, fd, file.string, &header)
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
        guard rpmtsAddInstallElement(ts, header, key, 0, nil) == 0 else {
            let said = log.errors(since: mark).joined(separator: "; ")
            throw InstallError.unreadablePackage(file: file, reason: said.isEmpty ? "rpm would not add it to the transaction" : "rpm: \(said)")
        }
    }

    /// Creates an empty rpmdb in the root (`rpmtsInitDB`).
    func initDatabase() throws {
        let mark = log.mark
        guard rpmtsInitDB(ts, 0o644) == 0 else {
            throw InstallError.transactionFailed(packages: [], messages: ["the rpm database could not be created"] + log.errors(since: mark))
        }
    }

    /// Dependency problems of the added packages against each other and the root's rpmdb (`rpmtsCheck`).
    func check() -> [String] {
        _ = rpmtsCheck(ts)
        return problems()
    }

    /// Runs the transaction: `rpmtsOrder`, then `rpmtsRun` (ignoring only the OS and architecture checks, which
    /// judge the build host rather than the image). Problems rpm refuses the transaction for are thrown with
    /// rpm's own words; scriptlet failures come back in the outcome, since rpm reports success despite them.
    func run() throws -> TransactionOutcome {
        _ = rpmtsOrder(ts)
        let mark = log.mark
        let filter = rpmprobFilterFlags(RPMPROB_FILTER_IGNOREOS.rawValue | RPMPROB_FILTER_IGNOREARCH.rawValue)
        let rc = rpmtsRun(ts, nil, filter)
        let found = problems()
        if rc != 0, !found.isEmpty {
            // rpm checks free space (blocks and inodes) of the root's filesystem before it writes anything.
            let space = problems(ofTypes: [RPMPROB_DISKSPACE, RPMPROB_DISKNODES])
            if !space.isEmpty { throw InstallError.noSpace(space) }
            // A package that does not verify is a bad download.
            for problem in found {
                guard let file = fileNamed(byVerifyProblem: problem) else { continue }
                throw InstallError.unreadablePackage(file: file, reason: problem)
            }
            throw InstallError.transactionProblems(found)
        }

        var installed: [String] = []
        var failed: [String] = []
        for index in 0..<rpmtsNElements(ts) {
            guard let element = rpmtsElement(ts, index), rpmteType(element) == TR_ADDED else { continue }
            let nevra = rpmteNEVRA(element).map { String(cString: $0) } ?? "?"
            if rpmteFailed(element) != 0 { failed.append(nevra) } else { installed.append(nevra) }
        }
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

    /// How a package lists a directory.
    struct DirectoryMetadata {
        let mode: UInt16
        let rootOwned: Bool
        let mtime: UInt32
    }

    /// How a package of this transaction lists directory `path`, or nil when none does (`rpmteFiles` +
    /// `rpmfilesFindFN`; before `rpmtsRun`).
    func directoryMetadata(_ path: String) -> DirectoryMetadata? {
        for index in 0..<rpmtsNElements(ts) {
            guard let element = rpmtsElement(ts, index), rpmteType(element) == TR_ADDED, let files = rpmteFiles(element)
            else { continue }
            defer { rpmfilesFree(files) }
            let found = rpmfilesFindFN(files, path)
            guard found >= 0 else { continue }
            let mode = rpmfilesFMode(files, found)
            let user = rpmfilesFUser(files, found).map { String(cString: $0) }
            let group = rpmfilesFGroup(files, found).map { String(cString: $0) }
            return DirectoryMetadata(mode: mode, rootOwned: user == "root" && group == "root", mtime: rpmfilesFMtime(files, found))
        }
        return nil
    }

    /// rpm's log line about a scriptlet ("%post(a-1-1.noarch) scriptlet failed, exit status 1").
    func message(for failure: ScriptletFailure, in lines: [String]? = nil) -> String {
        let lines = lines ?? log.warnings()
        return lines.last(where: { $0.contains("\(failure.scriptlet)(\(failure.package))") }) ?? "exit status not reported"
    }

    /// The file of the package a "package X does not verify: ..." problem is about.
    private func fileNamed(byVerifyProblem problem: String) -> FilePath? {
        guard problem.contains("does not verify") else { return nil }
        for index in 0..<rpmtsNElements(ts) {
            guard let element = rpmtsElement(ts, index), let nevra = rpmteNEVRA(element).map({ String(cString: $0) }),
                problem.contains("package \(nevra) "), let file = events.file(for: rpmteKey(element))
            else { continue }
            return file
        }
        return nil
    }

    /// `rpmtsProblems`, one of rpm's sentences per problem; only those of `types` when given.
    private func problems(ofTypes types: [rpmProblemType]? = nil) -> [String] {
        guard let set = rpmtsProblems(ts) else { return [] }
        defer { rpmpsFree(set) }
        guard let iterator = rpmpsInitIterator(set) else { return [] }
        defer { rpmpsFreeIterator(iterator) }
        var sentences: [String] = []
        while rpmpsiNext(iterator) != nil {
            // `rpmpsiNext` returns a problem owned by the set.
            guard let problem = rpmpsGetProblem(iterator) else { continue }
            if let types, !types.contains(rpmProblemGetType(problem)) { continue }
            guard let text = rpmProblemString(problem) else { continue }
            sentences.append(String(cString: text))
            free(text)
        }
        return sentences
    }
}

/// State the notify callback reads and writes: package files by key, their open descriptors, scriptlet
/// failures. Touched only on the transaction's thread.
final class TransactionEvents {
    private(set) var files: [FilePath] = []
    private var open: [Int: OpaquePointer] = [:]
    private(set) var scriptletFailures: [ScriptletFailure] = []
    private(set) var openFailure: String?
    private var scriptOutputStart: Int64 = 0
    private var started = 0
    /// Opened before rpm chroots into the root, when the file's path no longer resolves.
    private let scriptOutput: OwnedFileDescriptor?
    let progress: (@Sendable (InstallProgress) -> Void)?

    init(scriptOutputFile: FilePath, progress: (@Sendable (InstallProgress) -> Void)?) {
        scriptOutput = try? OwnedFileDescriptor.open(scriptOutputFile, .readOnly, options: [.closeOnExec])
        self.progress = progress
    }

    /// The key rpm hands back for `file`: its index + 1 as a pointer-sized value, never dereferenced.
    func register(_ file: FilePath) -> UnsafeRawPointer? {
        files.append(file)
        return UnsafeRawPointer(bitPattern: files.count)
    }

    func file(for key: UnsafeRawPointer?) -> FilePath? {
        index(of: key).map { files[$0] }
    }

    func index(of key: UnsafeRawPointer?) -> Int? {
        guard let key else { return nil }
        let index = Int(bitPattern: key) - 1
        return files.indices.contains(index) ? index : nil
    }

    func openFile(_ key: UnsafeRawPointer?) -> UnsafeMutableRawPointer? {
        guard let index = index(of: key) else { return nil }
        let path = files[index]
        guard let fd = Fopen(path.string, "r.ufdio"), Ferror(fd) == 0 else {
            openFailure = "\(path) could not be opened again while installing"
            return nil
        }
        open[index] = fd
        return UnsafeMutableRawPointer(fd)
    }

    func closeFile(_ key: UnsafeRawPointer?) {
        guard let index = index(of: key), let fd = open.removeValue(forKey: index) else { return }
        Fclose(fd)
    }

    func closeAll() {
        for fd in open.values { Fclose(fd) }
        open.removeAll()
    }

    func packageStarted(_ nevra: String) {
        progress?(InstallProgress(package: nevra, completed: started, total: files.count))
        started += 1
    }

    func scriptletStarted() {
        scriptOutputStart = fileSize()
    }

    func scriptletFailed(package: String, tag: UInt64, result: UInt64) {
        let output = scriptOutputSince(scriptOutputStart)
        scriptletFailures.append(
            ScriptletFailure(package: package, scriptlet: scriptletName(tag), critical: result == UInt64(RPMRC_FAIL.rawValue), output: output))
    }

    private func fileSize() -> Int64 {
        (try? scriptOutput.descriptor?.seek(offset: 0, from: .end)) ?? 0
    }

    private func scriptOutputSince(_ offset: Int64) -> String {
        guard let scriptOutput = scriptOutput.descriptor else { return "" }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = (try? buffer.withUnsafeMutableBytes { try scriptOutput.read(fromAbsoluteOffset: offset, into: $0) }) ?? 0
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func scriptletName(_ tag: UInt64) -> String {
        let names: [(rpmTag_e, String)] = [
            (RPMTAG_PREIN, "%pre"), (RPMTAG_POSTIN, "%post"), (RPMTAG_PREUN, "%preun"), (RPMTAG_POSTUN, "%postun"),
            (RPMTAG_PRETRANS, "%pretrans"), (RPMTAG_POSTTRANS, "%posttrans"), (RPMTAG_TRIGGERIN, "%triggerin"),
            (RPMTAG_TRIGGERUN, "%triggerun"), (RPMTAG_TRIGGERPOSTUN, "%triggerpostun"), (RPMTAG_TRIGGERPREIN, "%triggerprein"),
            (RPMTAG_VERIFYSCRIPT, "%verifyscript"),
        ]
        return names.first(where: { UInt64($0.0.rawValue) == tag })?.1 ?? "scriptlet \(tag)"
    }
}

/// The NEVRA of the header rpm passes to the notify callback.
private func nevra(ofHeader header: UnsafeRawPointer?) -> String {
    guard let header, let text = headerGetAsString(OpaquePointer(header), rpmTagVal(RPMTAG_NEVRA.rawValue)) else { return "?" }
    defer { free(text) }
    return String(cString: text)
}

/// The `rpmCallbackFunction` of every transaction: hands rpm open package files, and records progress
/// and scriptlet failures.
private func transactionNotify(
    header: UnsafeRawPointer?, what: rpmCallbackType, amount: rpm_loff_t, total: rpm_loff_t, key: fnpyKey?, data: rpmCallbackData?
) -> UnsafeMutableRawPointer? {
    guard let data else { return nil }
    let events = Unmanaged<TransactionEvents>.fromOpaque(data).takeUnretainedValue()
    switch what {
    case RPMCALLBACK_INST_OPEN_FILE:
        return events.openFile(key)
    case RPMCALLBACK_INST_CLOSE_FILE:
        events.closeFile(key)
    case RPMCALLBACK_INST_START:
        events.packageStarted(nevra(ofHeader: header))
    case RPMCALLBACK_SCRIPT_START:
        events.scriptletStarted()
    case RPMCALLBACK_SCRIPT_ERROR:
        events.scriptletFailed(package: nevra(ofHeader: header), tag: UInt64(amount), result: UInt64(total))
    default:
        break
    }
    return nil
}
