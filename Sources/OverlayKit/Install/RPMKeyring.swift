internal import CRPM
import Foundation
import SystemPackage

/// The OpenPGP public keys packages must be signed with (`rpmKeyring`, freed in deinit), built from key
/// files rather than imported into an image's rpmdb.
final class RPMKeyring {
    private let keyring: OpaquePointer

    /// Reads every ASCII-armored public key block in `files` (a `.repo` file's `gpgkey=` files; one file may
    /// hold several blocks), with their subkeys (`pgpParsePkts`, `rpmPubkeyNew`, `rpmGetSubkeys`,
    /// `rpmKeyringAddKey`).
    init(files: [FilePath]) throws {
        guard let keyring = rpmKeyringNew() else {
            throw InstallError.transactionFailed(packages: [], messages: ["rpmKeyringNew returned nothing"])
        }
        self.keyring = keyring
        for file in files {
            guard let text = try? String(contentsOfFile: file.string, encoding: .utf8) else {
                rpmKeyringFree(keyring)
                throw InstallError.unreadableKey(file: file, reason: "it could not be read as text")
            }
            let marker = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
            let blocks = text.components(separatedBy: marker).dropFirst().map { marker + $0 }
            var added = 0
            for block in blocks {
                var packet: UnsafeMutablePointer<UInt8>?
                var length = 0
                guard pgpParsePkts(block, &packet, &length) == PGPARMOR_PUBKEY, let packet else {
                    free(packet)
                    continue
                }
                defer { free(packet) }
                guard let key = rpmPubkeyNew(packet, length) else { continue }
                defer { rpmPubkeyFree(key) }
                rpmKeyringAddKey(keyring, key)
                added += 1
                var count: Int32 = 0
                if let subkeys = rpmGetSubkeys(key, &count) {
                    for index in 0..<Int(count) {
                        rpmKeyringAddKey(keyring, subkeys[index])
                        rpmPubkeyFree(subkeys[index])
                    }
                    free(subkeys)
                }
            }
            if added == 0 {
                rpmKeyringFree(keyring)
                throw InstallError.unreadableKey(file: file, reason: "it holds no ASCII-armored OpenPGP public key that rpm can read")
            }
        }
    }

    deinit { rpmKeyringFree(keyring) }

    /// Lends the `rpmKeyring` to `body`; it must not escape (`rpmtsSetKeyring` takes its own reference).
    func withUnsafeHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(keyring) }
}
