internal import CRPM
#if canImport(Glibc)
    import Glibc
#endif
import Posix
import SystemPackage

/// SHA-256 digests as lowercase hex, computed with librpm's digest API (`rpmDigestInit`, `rpmDigestUpdate`,
/// `rpmDigestFinal`), the same code rpm uses to check package payloads.
///
/// A non-copyable struct that owns its `DIGEST_CTX` directly, on purpose not a class. Swift 6.3.1 miscompiles
/// a final class with a `deinit` that one function creates, uses and drops once the optimiser has inlined it:
/// the instance is promoted to the stack, SimplifyCFG merges its `dealloc_ref` into a block argument,
/// StripObjectHeaders then marks the allocation `alloc_ref [bare] [stack]` (its header never written), and
/// IRGen still calls `swift_deallocClassInstance` on the stack slot. `overlay` crashed that way in release
/// builds whenever one run fetched two repo indexes, with a class here inlined into the fetch loop. Keep this
/// type free of class instances; Package.swift also turns that pass off for every target
/// (`-sil-disable-pass=strip-object-headers`), and `ReleaseBinaryTests` runs the case that crashed.
public struct SHA256Digest: ~Copyable {
    private var handle: DIGEST_CTX?

    /// Starts an empty digest.
    public init() {
        guard cryptoReady, let handle = rpmDigestInit(Int32(RPM_HASH_SHA256.rawValue), rpmDigestFlags(RPMDIGEST_NONE.rawValue)) else {
            // librpm's crypto backend is linked in; SHA-256 missing from it means a broken installation.
            preconditionFailure("librpm cannot compute SHA-256 (rpmInitCrypto or rpmDigestInit failed): reinstall librpm9")
        }
        self.handle = handle
    }

    /// Feeds `bytes` into the digest (`rpmDigestUpdate`).
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let handle, let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = rpmDigestUpdate(handle, base, bytes.count)
    }

    /// Feeds `bytes` into the digest.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// Ends the digest (`rpmDigestFinal`) and returns it as 64 lowercase hex digits.
    public consuming func finalize() -> String {
        guard let handle else { preconditionFailure("SHA256Digest finalized twice") }
        self.handle = nil
        var data: UnsafeMutableRawPointer?
        var length = 0
        _ = rpmDigestFinal(handle, &data, &length, 1)
        guard let data else { preconditionFailure("librpm returned no SHA-256 digest (rpmDigestFinal)") }
        defer { free(data) }
        return String(cString: data.assumingMemoryBound(to: CChar.self))
    }

    deinit {
        // rpm frees the context in rpmDigestFinal; an abandoned digest is finalized without a result.
        if let handle { _ = rpmDigestFinal(handle, nil, nil, 0) }
    }

    /// The digest of `bytes`.
    public static func bytes(_ bytes: some Sequence<UInt8>) -> String {
        var digest = SHA256Digest()
        digest.update(bytes)
        return digest.finalize()
    }

    /// The digest of the file at `path`, read in chunks. Errors are `SystemCallError`s naming the path.
    public static func file(_ path: FilePath) throws -> String {
        let fd: OwnedFileDescriptor
        do {
            fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let error as Errno {
            throw SystemCallError(call: "open", subject: path.string, errno: error)
        }
        var digest = SHA256Digest()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count: Int
            do { count = try fd.descriptor.read(into: buffer) } catch let error as Errno {
                throw SystemCallError(call: "read", subject: path.string, errno: error)
            }
            if count == 0 { break }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return digest.finalize()
    }
}

/// rpm's crypto backend must be set up before the first digest. On Debian that is libgcrypt, and
/// `rpmInitCrypto` runs `gcry_check_version` and ends libgcrypt's initialization; `rpmReadConfigFiles` does the
/// same, so a later call there is harmless. A Swift global runs it exactly once, thread-safely, on first use.
private let cryptoReady: Bool = rpmInitCrypto() == 0
