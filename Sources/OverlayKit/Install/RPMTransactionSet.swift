internal import CRPM
import Foundation
import SystemPackage

/// An rpm transaction set (`rpmts`): the one owner of librpm's handle for a root, its rpmdb, its keyring and its
/// verify settings, freed (closing its rpmdb) in deinit. Installs (`RPMTransaction`), signature checks
/// (`PackageSignatureVerifier`) and rpmdb reads (`RPMDatabase`) each make one. Used on one thread only, inside an
/// `RPMLibrary.session`: librpm's state is not shareable.
final class RPMTransactionSet {
    private let ts: OpaquePointer

    /// What rpm checks when it reads a package file.
    enum Verification {
        /// Header and payload digests, no signature (`RPMVSF_MASK_NOSIGNATURES`, verify level digest).
        case digests
        /// Every signature and digest, and a valid signature required besides the digests (`RPMVSF_DEFAULT`,
        /// verify level signature + digest).
        case signaturesAndDigests
    }

    /// `rpmtsCreate`.
    init() throws(RPMError) {
        guard let ts = rpmtsCreate() else { throw .noTransactionSet }
        self.ts = ts
    }

    deinit { rpmtsFree(ts) }

    /// Lends the `rpmts` to `body`; it must not escape.
    func withUnsafeHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(ts) }

    /// `rpmtsSetRootDir`: rpm installs into, chroots into and finds its rpmdb (`%_dbpath`) inside `root`.
    /// False when rpm does not accept it.
    func setRootDirectory(_ root: FilePath) -> Bool {
        rpmtsSetRootDir(ts, root.string) == 0
    }

    /// `rpmtsSetKeyring`: signatures are checked against these keys only, never the rpmdb's (rpm takes its own
    /// reference to the keyring).
    func setKeyring(_ keyring: RPMKeyring) {
        keyring.withUnsafeHandle { _ = rpmtsSetKeyring(ts, $0) }
    }

    /// `rpmtsSetVSFlags`, `rpmtsSetVfyFlags` and `rpmtsSetVfyLevel` for `verification`.
    func setVerification(_ verification: Verification) {
        let flags: rpmVSFlags
        let level: Int32
        switch verification {
        case .digests:
            flags = crpm_vsflags_no_signatures()
            level = Int32(RPMSIG_DIGEST_TYPE)
        case .signaturesAndDigests:
            flags = rpmVSFlags(RPMVSF_DEFAULT.rawValue)
            level = Int32(RPMSIG_DIGEST_TYPE | RPMSIG_SIGNATURE_TYPE)
        }
        _ = rpmtsSetVSFlags(ts, flags)
        _ = rpmtsSetVfyFlags(ts, flags)
        _ = rpmtsSetVfyLevel(ts, level)
    }

    /// Opens the root's rpmdb read-only (`rpmtsOpenDB(O_RDONLY)`); it stays open until deinit. False when rpm
    /// cannot open it (rpm logs why).
    func openDatabaseReadOnly() -> Bool {
        rpmtsOpenDB(ts, O_RDONLY) == 0
    }

    /// The NEVRA of every package the open rpmdb lists (`rpmtsInitIterator` over `RPMDBI_PACKAGES`), in the
    /// rpmdb's order.
    func installedNEVRAs() -> [String] {
        guard let iterator = rpmtsInitIterator(ts, rpmDbiTagVal(RPMDBI_PACKAGES.rawValue), nil, 0) else { return [] }
        defer { rpmdbFreeIterator(iterator) }
        var names: [String] = []
        while let header = rpmdbNextIterator(iterator) {
            // The header belongs to the iterator.
            if let text = headerGetAsString(header, rpmTagVal(RPMTAG_NEVRA.rawValue)) {
                names.append(String(cString: text))
                free(text)
            }
        }
        return names
    }
}

extension RPMTransactionSet {
    /// Opens the root's rpmdb for writing (`rpmtsOpenDB(O_RDWR)`). False when rpm cannot (rpm logs why).
    func openDatabaseForWriting() -> Bool {
        withUnsafeHandle { rpmtsOpenDB($0, O_RDWR) == 0 }
    }

    /// Adds `header` to the open rpmdb as an installed package (`rpmtsImportHeader` in a write transaction), the way
    /// `rpm --justdb` records a package without touching files. False when rpm refuses.
    func record(_ header: borrowing RPMHeader) -> Bool {
        withUnsafeHandle { ts in
            guard let transaction = rpmtxnBegin(ts, rpmtxnFlags(RPMTXN_WRITE.rawValue)) else { return false }
            defer { rpmtxnEnd(transaction) }
            return header.withUnsafeHandle { rpmtsImportHeader(transaction, $0, 0) } == RPMRC_OK
        }
    }
}
