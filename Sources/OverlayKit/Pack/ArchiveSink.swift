internal import CZstd
#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import SystemPackage

/// Where the bytes libarchive writes go: straight to the output file, or through a zstd compressor first.
/// The last stage counts and digests what reaches the file, so packing reads its output only once.
protocol ArchiveSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func finish() throws
}

/// Writes bytes to a file descriptor, counting them and feeding them into a SHA-256 digest.
final class FileSink: ArchiveSink {
    private let fd: FileDescriptor
    private var digest: SHA256Digest? = SHA256Digest()
    private(set) var size: Int64 = 0
    private(set) var sha256 = ""

    init(_ fd: FileDescriptor) { self.fd = fd }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        _ = try fd.writeAll(bytes)
        digest?.update(bytes)
        size += Int64(bytes.count)
    }

    func finish() throws {
        if let digest = digest.take() { sha256 = digest.finalize() }
    }
}

/// Compresses everything written to it into one zstd frame (`ZSTD_compressStream2`) and hands the
/// compressed bytes on. Memory stays bounded by zstd's window and one output buffer, whatever the input size.
///
/// Linux unpacks a zstd initramfs with its own copy of zstd (`lib/decompress_unzstd.c`), which allocates the
/// frame's whole window; the window log is therefore capped at 23 (8 MiB, what level 19 uses on its own).
/// Levels 20–22 would otherwise ask for up to 128 MiB.
final class ZstdSink: ArchiveSink {
    static let maxWindowLog: Int32 = 23

    private let next: ArchiveSink
    private let context: ZstdCompressor
    private var output: [UInt8]
    private let path: FilePath
    /// Hears how many input bytes zstd has compressed so far (`ZSTD_getFrameProgression`): with worker threads,
    /// input is taken much faster than it is compressed, so what was written says little about progress.
    var onCompressed: ((Int64) -> Void)?

    init(level: Int32, next: ArchiveSink, path: FilePath) throws {
        self.next = next
        self.path = path
        context = try ZstdCompressor(level: level, path: path)
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: base, size: bytes.count, pos: 0)
        while input.pos < input.size {
            _ = try step(&input, ZSTD_e_continue)
        }
    }

    func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
        try next.finish()
    }

    /// One call of `ZSTD_compressStream2`; writes what it produced and returns zstd's "bytes left to flush".
    private func step(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        let capacity = output.count
        let (remaining, produced): (Int, Int) = try output.withUnsafeMutableBytes { raw in
            var out = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
            let result = context.withUnsafeHandle { ZSTD_compressStream2($0, &out, &input, directive) }
            if ZSTD_isError(result) != 0 {
                throw PackError.zstd(path: path, message: String(cString: ZSTD_getErrorName(result)))
            }
            return (result, out.pos)
        }
        if produced > 0 {
            try output.withUnsafeBytes { try next.write(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
        }
        if let onCompressed { onCompressed(Int64(context.withUnsafeHandle { czstd_consumed($0) })) }
        return remaining
    }
}

/// Owns one `ZSTD_CCtx`.
final class ZstdCompressor {
    private let handle: OpaquePointer

    init(level: Int32, path: FilePath) throws {
        guard let handle = ZSTD_createCCtx() else {
            throw PackError.zstd(path: path, message: "ZSTD_createCCtx returned no context")
        }
        self.handle = handle
        try set(ZSTD_c_compressionLevel, level, path)
        try set(ZSTD_c_checksumFlag, 1, path)
        if level > 19 { try set(ZSTD_c_windowLog, ZstdSink.maxWindowLog, path) }
        // zstd's multi-threaded mode writes the same bytes whatever the number of workers (≥ 1), so every
        // machine packs the same overlay while using all its cores. It still writes one frame.
        // A fixed 4 MiB job size keeps the output independent of the machine too, and splits a plugin of a few
        // tens of MiB into enough jobs to keep the cores busy (zstd's default job is 4 windows, 32 MiB at -19).
        let workers = Int32(clamping: max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16)))
        try set(ZSTD_c_nbWorkers, workers, path)
        try set(ZSTD_c_jobSize, 4 << 20, path)
    }

    private func set(_ parameter: ZSTD_cParameter, _ value: Int32, _ path: FilePath) throws {
        let result = ZSTD_CCtx_setParameter(handle, parameter, value)
        if ZSTD_isError(result) != 0 {
            throw PackError.zstd(path: path, message: String(cString: ZSTD_getErrorName(result)))
        }
    }

    func withUnsafeHandle<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T { try body(handle) }

    deinit { ZSTD_freeCCtx(handle) }
}
