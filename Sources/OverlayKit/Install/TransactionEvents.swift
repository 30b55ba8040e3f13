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

    /// Makes `transactionNotify` rpm's callback for `set` (`rpmtsSetNotifyCallback`), with these events as its
    /// data: the set must not outlive them, or must be detached first.
    func attach(to set: RPMTransactionSet) {
        set.withUnsafeHandle { _ = rpmtsSetNotifyCallback($0, transactionNotify, Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// Takes the callback off `set` again.
    func detach(from set: RPMTransactionSet) {
        set.withUnsafeHandle { _ = rpmtsSetNotifyCallback($0, nil, nil) }
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
