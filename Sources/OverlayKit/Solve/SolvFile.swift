internal import CSolv
import Foundation
import SystemPackage

/// Owns one stdio `FILE` that libsolv reads or writes: a metadata file opened through libsolvext's
/// `solv_xfopen` (which decompresses gz, xz, bz2 and zstd), bytes in memory (`solv_fmemopen`), or a descriptor to
/// write a `.solv` file to. Closed (`fclose`) in deinit.
final class SolvFile {
    private let file: UnsafeMutablePointer<FILE>

    private init(_ file: UnsafeMutablePointer<FILE>) {
        self.file = file
    }

    deinit { fclose(file) }

    /// Opens `path` for reading through `solv_xfopen`, decompressing by its suffix.
    static func decompressing(_ path: FilePath) throws(SolvError) -> SolvFile {
        guard let file = solv_xfopen(path.string, "r") else {
            throw SolvError("cannot open \(path): \(String(cString: strerror(errno)))", file: path.string)
        }
        return SolvFile(file)
    }

    /// Opens `path` as it is (`fopen`), or nil when it cannot be opened.
    static func plain(_ path: FilePath) -> SolvFile? {
        fopen(path.string, "r").map(SolvFile.init)
    }

    /// A file over `bytes`, which must outlive it (`solv_fmemopen` reads them in place); nil if it cannot be made.
    static func reading(_ bytes: UnsafeRawBufferPointer) -> SolvFile? {
        guard let base = bytes.baseAddress else { return nil }
        return solv_fmemopen(base.assumingMemoryBound(to: CChar.self), bytes.count, "r").map(SolvFile.init)
    }

    /// A file writing to a duplicate of `fd` (`fdopen`); `fd` stays the caller's.
    static func writing(to fd: FileDescriptor) throws(Errno) -> SolvFile {
        let copy = dup(fd.rawValue)
        guard copy >= 0 else { throw Errno(rawValue: errno) }
        guard let file = fdopen(copy, "w") else {
            let error = Errno(rawValue: errno)
            close(copy)
            throw error
        }
        return SolvFile(file)
    }

    /// The whole (decompressed) content.
    func readAll() throws(SolvError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes += chunk[..<count]
            if count < chunk.count { break }
        }
        if ferror(file) != 0 {
            throw SolvError("it cannot be decompressed")
        }
        return bytes
    }

    /// Flushes what was written (`fflush`); throws if writing or flushing failed.
    func flush() throws(Errno) {
        let flushed = fflush(file)
        if ferror(file) != 0 || flushed != 0 { throw Errno(rawValue: errno) }
    }

    /// Calls `body` with the `FILE`. The pointer must not escape the closure.
    func withUnsafeHandle<T, E: Error>(_ body: (UnsafeMutablePointer<FILE>) throws(E) -> T) throws(E) -> T {
        try body(file)
    }
}
