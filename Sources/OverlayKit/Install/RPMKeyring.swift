internal import CRPM
import Foundation
import SystemPackage

/// The OpenPGP public keys packages must be signed with (`rpmKeyring`, freed in deinit), built in memory from
/// key files: never imported into an image's rpmdb, and the host's and the base's keys never count.
final class RPMKeyring {
    private let keyring: OpaquePointer
    /// The primary keys added, each as rpm names it in its messages (the last 8 hex digits of the key ID) with
    /// where it came from.
    private(set) var keyIDs: [(id: String, key: ArmoredKey)] = []

    /// Reads every ASCII-armored public key block in `keys` (one file may hold several blocks), with their
    /// subkeys (`pgpParsePkts`, `rpmPubkeyNew`, `rpmGetSubkeys`, `rpmKeyringAddKey`). A key file with no key
    /// rpm can read is an error naming it.
    init(keys: [ArmoredKey]) throws(InstallError) {
        guard let keyring = rpmKeyringNew() else { throw .rpm(.noKeyring) }
        self.keyring = keyring
        for key in keys {
            // Every stored property is set: a throw from here on runs deinit, which frees the keyring.
            let marker = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
            let blocks = key.text.components(separatedBy: marker).dropFirst().map { marker + $0 }
            var added = 0
            for block in blocks {
                var packet: UnsafeMutablePointer<UInt8>?
                var length = 0
                guard pgpParsePkts(block, &packet, &length) == PGPARMOR_PUBKEY, let packet else {
                    free(packet)
                    continue
                }
                defer { free(packet) }
                guard let pubkey = rpmPubkeyNew(packet, length) else { continue }
                defer { rpmPubkeyFree(pubkey) }
                rpmKeyringAddKey(keyring, pubkey)
                added += 1
                var id = [UInt8](repeating: 0, count: 8)
                if pgpPubkeyKeyID(packet, length, &id) == 0 {
                    keyIDs.append((Self.shortID(id), key))
                }
                var count: Int32 = 0
                if let subkeys = rpmGetSubkeys(pubkey, &count) {
                    for index in 0..<Int(count) {
                        rpmKeyringAddKey(keyring, subkeys[index])
                        rpmPubkeyFree(subkeys[index])
                    }
                    free(subkeys)
                }
            }
            if added == 0 {
                let reason =
                    key.text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----")
                    ? "rpm cannot read the public key block in it" : "it holds no ASCII-armored public key block"
                throw InstallError.unreadableKey(key, reason: reason)
            }
        }
    }

    deinit { rpmKeyringFree(keyring) }

    /// Lends the `rpmKeyring` to `body`; it must not escape (`rpmtsSetKeyring` takes its own reference).
    func withUnsafeHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(keyring) }

    /// The keys as messages list them: `84939930 from /plugins/vdsm/keys/vdsm.asc`.
    var described: [String] {
        keyIDs.map { "\($0.id) from \($0.key.location)" }
    }

    /// A key ID the way rpm prints it ("key ID 84939930"): its last four bytes in lowercase hex.
    static func shortID(_ id: [UInt8]) -> String {
        id.suffix(4).map { String(format: "%02x", $0) }.joined()
    }
}
