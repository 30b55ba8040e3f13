internal import CRPM
#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// One package header, owned (`rpmReadPackageFile` or `headerImport` … `headerFree`). Overlay keeps the headers of
/// the packages a plugin installed, with what rpm adds when it records an install, so that a node's rpmdb can list
/// them without installing anything again. Not copyable, and not a class: see `SHA256Digest` on the optimiser bug
/// that a short-lived class with a deinit can hit.
struct RPMHeader: ~Copyable {
    private let header: Header

    /// Imports a header blob (`headerExport`'s format, without the magic).
    init(blob: [UInt8]) throws(RPMError) {
        let imported = blob.withUnsafeBytes { bytes -> Header? in
            guard let base = bytes.baseAddress else { return nil }
            return headerImport(UnsafeMutableRawPointer(mutating: base), UInt32(bytes.count), headerImportFlags(HEADERIMPORT_COPY.rawValue))
        }
        guard let imported else { throw .damagedHeader }
        header = imported
    }

    /// Takes a reference to a header rpm lends.
    init(borrowing header: Header) {
        self.header = headerLink(header)
    }

    /// Reads the header of the package file at `file` with `set`'s verify settings (`rpmReadPackageFile`).
    init(packageFile file: FilePath, set: RPMTransactionSet) throws(RPMError) {
        guard let fd = Fopen(file.string, "r.ufdio") else { throw .headerFile(path: file.string, reason: "it cannot be opened") }
        defer { Fclose(fd) }
        guard Ferror(fd) == 0 else { throw .headerFile(path: file.string, reason: String(cString: Fstrerror(fd))) }
        var read: Header?
        let status = set.withUnsafeHandle { rpmReadPackageFile($0, fd, file.string, &read) }
        guard let read, status == RPMRC_OK || status == RPMRC_NOKEY || status == RPMRC_NOTTRUSTED else {
            if let read { headerFree(read) }
            throw .headerFile(path: file.string, reason: "rpm cannot read its header")
        }
        header = read
    }

    deinit { headerFree(header) }

    /// `name-[epoch:]version-release.arch`.
    var nevra: String {
        guard let text = headerGetAsString(header, rpmTagVal(RPMTAG_NEVRA.rawValue)) else { return "" }
        defer { free(text) }
        return String(cString: text)
    }

    /// The header as a blob (`headerExport`).
    func exported() -> [UInt8] {
        var size: UInt32 = 0
        guard let blob = headerExport(header, &size) else { return [] }
        defer { free(blob) }
        return Array(UnsafeRawBufferPointer(start: blob, count: Int(size)))
    }

    /// Sets the install time and transaction id rpm recorded (`INSTALLTIME`, `INSTALLTID`) to `time`, so the same
    /// build gives the same header.
    mutating func setInstallTime(_ time: UInt32) {
        for tag in [RPMTAG_INSTALLTIME, RPMTAG_INSTALLTID] {
            var value = time
            headerDel(header, rpmTagVal(tag.rawValue))
            _ = headerPutUint32(header, rpmTagVal(tag.rawValue), &value, 1)
        }
    }

    /// Every file path the package owns (`FILENAMES`), in header order.
    var filePaths: [String] {
        guard let td = rpmtdNew() else { return [] }
        defer { rpmtdFree(td) }
        guard headerGet(header, rpmTagVal(RPMTAG_FILENAMES.rawValue), td, headerGetFlags(HEADERGET_EXT.rawValue)) != 0 else { return [] }
        defer { rpmtdFreeData(td) }
        var paths: [String] = []
        while let path = rpmtdNextString(td) { paths.append(String(cString: path)) }
        return paths
    }

    /// Records each file's state (`FILESTATES`), as rpm does when it installs: normal, except the files at
    /// `notInstalled` (indexes into `filePaths`), which are marked as `--excludedocs` marks docs: `rpm -ql` still
    /// lists them, `rpm -V` does not look for them.
    mutating func setFileStates(notInstalled: [Int]) {
        var states = Array(repeating: CChar(RPMFILE_STATE_NORMAL.rawValue), count: filePaths.count)
        guard !states.isEmpty else { return }
        for index in notInstalled where index < states.count { states[index] = CChar(RPMFILE_STATE_NOTINSTALLED.rawValue) }
        headerDel(header, rpmTagVal(RPMTAG_FILESTATES.rawValue))
        _ = headerPutChar(header, rpmTagVal(RPMTAG_FILESTATES.rawValue), states, UInt32(states.count))
    }

    /// Lends the header to `body`; it must not escape.
    func withUnsafeHandle<R>(_ body: (Header) throws -> R) rethrows -> R { try body(header) }
}

/// A file of package headers, one after another with rpm's header magic, as `headerWrite`/`headerRead` write and
/// read them (rpm's header list format): `<name>-<version>.rpmheaders` beside an overlay.
enum RPMHeaderList {
    /// Writes `headers` (blobs) to `path`, atomically.
    static func write(_ headers: [[UInt8]], to path: FilePath) throws {
        try RPMLibrary.session(macros: []) { _ in
            try AtomicFile.write(to: path) { fd in
                guard let stream = fdDup(fd.rawValue) else { throw RPMError.headerFile(path: path.string, reason: "cannot open it") }
                defer { Fclose(stream) }
                for blob in headers {
                    let header = try RPMHeader(blob: blob)
                    let status = header.withUnsafeHandle { headerWrite(stream, $0, Int32(HEADER_MAGIC_YES.rawValue)) }
                    guard status == 0 else { throw RPMError.headerFile(path: path.string, reason: "headerWrite failed") }
                }
                guard Ferror(stream) == 0 else { throw RPMError.headerFile(path: path.string, reason: String(cString: Fstrerror(stream))) }
            }
        }
    }

    /// The header blobs in the file at `path`.
    static func read(_ path: FilePath) throws -> [[UInt8]] {
        try RPMLibrary.session(macros: []) { _ in
            guard let stream = Fopen(path.string, "r.ufdio") else { throw RPMError.headerFile(path: path.string, reason: "cannot open it") }
            defer { Fclose(stream) }
            guard Ferror(stream) == 0 else { throw RPMError.headerFile(path: path.string, reason: String(cString: Fstrerror(stream))) }
            var blobs: [[UInt8]] = []
            while let header = headerRead(stream, Int32(HEADER_MAGIC_YES.rawValue)) {
                let owned = RPMHeader(borrowing: header)
                headerFree(header)
                blobs.append(owned.exported())
            }
            return blobs
        }
    }
}
