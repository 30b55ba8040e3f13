/// Bytes handed to an `ArchiveReader` block by block from another source (a decompressed stream), which can
/// give back what the reader was handed but did not use: several cpio archives follow each other in one
/// decompressed initramfs, and a reader stops at the first one's trailer.
final class ArchiveStream {
    /// The next block of the source, valid until the next call; nil at its end.
    private let source: () throws -> UnsafeRawBufferPointer?
    /// Bytes given back, handed out before the source's next block.
    private var pending: [UInt8] = []
    /// The block last handed out, which must stay valid until the reader asks for the next (and so is not an
    /// array, whose storage may move).
    private var current = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    /// The last bytes handed out since `restart`, at least the last few blocks, to give back from.
    private var recent: [UInt8] = []
    /// Bytes handed out since `restart`.
    private var handedOut: Int64 = 0
    private var ended = false
    /// Why the source failed, when it did: the reader only sees that reading failed.
    var failure: (any Error)?

    init(source: @escaping () throws -> UnsafeRawBufferPointer?) {
        self.source = source
    }

    deinit { current.deallocate() }

    /// The next block for the reader: what was given back first, then the source's blocks; empty at the end.
    func read() throws -> UnsafeRawBufferPointer {
        let block: UnsafeRawBufferPointer
        if !pending.isEmpty {
            block = pending.withUnsafeBytes { hold($0) }
            pending = []
        } else if !ended, let next = try source() {
            block = hold(next)
        } else {
            ended = true
            return UnsafeRawBufferPointer(start: current.baseAddress, count: 0)
        }
        handedOut += Int64(block.count)
        recent += block
        // Keep a few MiB: a reader asks for at most a header's worth beyond what it uses.
        if recent.count > 4 << 20 { recent.removeFirst(recent.count - (1 << 20)) }
        return block
    }

    /// Copies `bytes` into `current`, growing it when needed.
    private func hold(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if bytes.count > current.count {
            current.deallocate()
            current = .allocate(byteCount: bytes.count, alignment: 16)
        }
        if let base = bytes.baseAddress, !bytes.isEmpty { current.baseAddress?.copyMemory(from: base, byteCount: bytes.count) }
        return UnsafeRawBufferPointer(start: current.baseAddress, count: bytes.count)
    }

    /// A new reader starts here: counts start again from zero.
    func restart() {
        handedOut = 0
        recent = []
    }

    /// Gives back what was handed out after the first `used` bytes since `restart`, to be handed out again.
    func giveBack(afterUsing used: Int64) throws {
        let unused = Int(handedOut - used)
        guard unused >= 0, unused <= recent.count else {
            throw ArchiveReader.Failure(message: "a cpio archive ended \(unused) bytes before the data read after it", unrecognized: false)
        }
        pending = Array(recent.suffix(unused)) + pending
        handedOut = used
        recent.removeLast(unused)
    }

    /// Skips zero bytes (padding between archives); false when nothing but zeros is left.
    func skipZeros() throws -> Bool {
        while true {
            if let first = pending.firstIndex(where: { $0 != 0 }) {
                pending.removeFirst(first)
                return true
            }
            pending = []
            guard !ended, let block = try source() else {
                ended = true
                return false
            }
            pending = Array(block)
        }
    }
}
