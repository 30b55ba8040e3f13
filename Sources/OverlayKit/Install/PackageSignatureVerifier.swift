internal import CRPM
import Foundation
import SystemPackage

/// Checks package files against one set of keys with librpm's own verification, before anything is installed.
/// Its transaction set holds nothing but an in-memory keyring of those keys, so neither the host's nor the base's
/// rpmdb keys count, and no key is written anywhere. Used on one thread, inside an `RPMLibrary.session`.
final class PackageSignatureVerifier {
    private let set: RPMTransactionSet
    private let keyring: RPMKeyring
    private let log: RPMLog

    /// A transaction set with `keyring`, every signature and digest check on and a valid signature required
    /// besides the digests.
    init(keyring: RPMKeyring, log: RPMLog) throws(InstallError) {
        do { set = try RPMTransactionSet() } catch { throw .rpm(error) }
        self.keyring = keyring
        self.log = log
        set.setKeyring(keyring)
        set.setVerification(.signaturesAndDigests)
    }

    /// Checks every package of `requirement`; the first that fails is thrown, naming the package, where it
    /// comes from, the keys tried and what to do.
    static func check(_ requirement: SignatureRequirement, log: RPMLog) throws(InstallError) {
        let keyring = try RPMKeyring(keys: requirement.keys)
        let verifier = try PackageSignatureVerifier(keyring: keyring, log: log)
        for file in requirement.packages {
            let (nevra, problem) = try verifier.verify(file)
            guard let problem else { continue }
            throw .signatureRefused(
                SignatureFailure(
                    file: file, nevra: nevra, source: requirement.source, problem: problem, keysTried: keyring.described,
                    remedy: requirement.remedy))
        }
    }

    /// Verifies `file` the way `rpm -K` does (`rpmVerifySignatures`: header and payload, every signature and
    /// digest), after reading its header (`rpmReadPackageFile`) for its NEVRA and the key it is signed with.
    /// Returns the NEVRA and nil when a signature by one of the keys verifies and every digest matches.
    func verify(_ file: FilePath) throws(InstallError) -> (nevra: String?, problem: SignatureFailure.Problem?) {
        var nevra: String?
        var signers: [String] = []
        let readResult: rpmRC = try withPackageFile(file) { fd in
            var header: Header?
            let rc = set.withUnsafeHandle { rpmReadPackageFile($0, fd, file.string, &header) }
            if let header {
                defer { headerFree(header) }
                nevra = headerGetAsString(header, rpmTagVal(RPMTAG_NEVRA.rawValue)).map { text in
                    defer { free(text) }
                    return String(cString: text)
                }
                signers = Self.signerIDs(header)
            }
            return rc
        }
        if readResult == RPMRC_NOTFOUND {
            throw .unreadablePackage(file: file, reason: "it has no RPM lead and header")
        }

        let verifyMark = log.mark
        let failed = try withPackageFile(file) { fd in set.withUnsafeHandle { crpm_verify_package_file($0, fd, file.string) } != 0 }
        guard failed else { return (nevra, nil) }
        // rpm logs one line per signature and digest, "    Header V4 RSA/SHA512 Signature, key ID 84939930: NOKEY",
        // after a first line naming the file; the result words (`rpmSigString`) are never translated. A package
        // whose every check is OK or absent failed for want of a signature.
        let results = log.messages(since: verifyMark).dropFirst()
        let problems = results.filter { !$0.hasSuffix(": OK") && !$0.hasSuffix(": NOTFOUND") }
        if problems.isEmpty { return (nevra, .unsigned) }
        if problems.allSatisfy({ $0.hasSuffix(": NOKEY") }), let signer = signers.first {
            return (nevra, .unknownKey(signer))
        }
        return (nevra, .bad(problems.joined(separator: "; ")))
    }

    /// Opens `file` for rpm (`Fopen`, closed afterwards) and lends it to `body`.
    private func withPackageFile<R>(_ file: FilePath, _ body: (OpaquePointer) -> R) throws(InstallError) -> R {
        guard let fd = Fopen(file.string, "r.ufdio") else {
            throw .unreadablePackage(file: file, reason: "it could not be opened: \(String(cString: strerror(errno)))")
        }
        defer { Fclose(fd) }
        if Ferror(fd) != 0 {
            let reason = Fstrerror(fd).map { String(cString: $0) } ?? "unknown error"
            throw .unreadablePackage(file: file, reason: "it could not be opened: \(reason)")
        }
        return body(fd)
    }

    /// The keys a package's header is signed with, as rpm names them: the signer of each signature tag rpm
    /// merged into the header (`headerGet`, `pgpPrtParams`, `pgpDigParamsSignID`).
    private static func signerIDs(_ header: Header) -> [String] {
        var ids: [String] = []
        for tag in [RPMTAG_RSAHEADER, RPMTAG_DSAHEADER, RPMTAG_SIGPGP, RPMTAG_SIGGPG] {
            var td = rpmtd_s()
            guard headerGet(header, rpmTagVal(tag.rawValue), &td, headerGetFlags(HEADERGET_MINMEM.rawValue)) != 0 else { continue }
            defer { rpmtdFreeData(&td) }
            guard let data = td.data else { continue }
            var params: pgpDigParams?
            guard pgpPrtParams(data.assumingMemoryBound(to: UInt8.self), Int(td.count), UInt32(PGPTAG_SIGNATURE.rawValue), &params) == 0,
                let params
            else { continue }
            defer { pgpDigParamsFree(params) }
            guard let signID = pgpDigParamsSignID(params) else { continue }
            let id = RPMKeyring.shortID(Array(UnsafeBufferPointer(start: signID, count: 8)))
            if !ids.contains(id) { ids.append(id) }
        }
        return ids
    }
}
