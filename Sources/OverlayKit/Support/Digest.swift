internal import CRPM
#if canImport(Glibc)
import Glibc
#endif
import Posix
import SystemPackage

/// SHA-256 digests as lowercase hex, computed with librpm's digest API (`rpmDigestInit`, `rpmDigestUpdate`,
/// `rpmDigestFinal`), the same code rpm uses to check package payloads.
public struct SHA256Digest {
    private let context: DigestContext

    /// Starts an empty digest.
    public init() {
        context = DigestContext()
    }

    /// Feeds `bytes` into the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        context.update(bytes)
    }

    /// Feeds `bytes` into the digest.
    public func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// Ends the digest and returns it as 64 lowercase hex digits. The digest can't be fed after this.
    public func finalize() -> String {
        context.finalize()
    }

    /// The digest of `bytes`.
    public static func bytes(_ bytes: some Sequence<UInt8>) -> String {
        let digest = SHA256Digest()
        digest.update(bytes)
        return digest.finalize()
    }

    /// The digest of the file at `path`, read in chunks. Errors are `SystemCallError`s naming the path.
    public static func file(_ path: FilePath) throws -> String {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let error as Errno {
            throw SystemCallError(call: "open", subject: path.string, errno: error)
        }
        defer { try? fd.close() }
        let digest = SHA256Digest()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count: Int
            do { count = try fd.read(into: buffer) } catch let error as Errno {
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

/// Owns one `DIGEST_CTX`. rpm frees the context in `rpmDigestFinal`, so `deinit` finalizes it when the
/// digest was abandoned.
private final class DigestContext {
    private var handle: DIGEST_CTX?
    private var result: String?

    init() {
        _ = cryptoReady
        handle = rpmDigestInit(Int32(RPM_HASH_SHA256.rawValue), rpmDigestFlags(RPMDIGEST_NONE.rawValue))
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let handle, let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = rpmDigestUpdate(handle, base, bytes.count)
    }

    func finalize() -> String {
        if let result { return result }
        guard let handle else { return "" }
        self.handle = nil
        var data: UnsafeMutableRawPointer?
        var length = 0
        _ = rpmDigestFinal(handle, &data, &length, 1)
        guard let data else { return "" }
        defer { free(data) }
        let hex = String(cString: data.assumingMemoryBound(to: CChar.self))
        result = hex
        return hex
    }

    deinit {
        if let handle { _ = rpmDigestFinal(handle, nil, nil, 0) }
    }
}
