import Serve

/// One datagram as the TFTP server reads it: on the listening port a read or write request is parsed, its file
/// name made a path beneath the root and its options negotiated for a few file sizes; on a transfer's port the
/// client's reply is parsed and an ACK is applied to a few window states, across the 65535 wrap too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTFTPPacket(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let packet = UnsafeRawBufferPointer(start: data, count: size)
    let limits = TFTPLimits()
    if let request = TFTPRequest.parse(packet, maxField: limits.maxPathLength) {
        check(request, limits: limits)
    }
    if let reply = TFTPReply.parse(packet), case .ack(let block) = reply {
        // (acked, lastSent): the OACK unanswered, lockstep, a window, a window across the wrap, a late transfer.
        for (acked, lastSent) in [(-1, 0), (0, 1), (3, 7), (65530, 65540), (65535, 65536), (200_000, 200_064)] {
            guard let next = TFTPTransfer.acknowledged(block, acked: acked, lastSent: lastSent) else { continue }
            precondition(next > acked && next <= lastSent, "ACK \(block) moved the window from \(acked) to \(next), past \(lastSent)")
            precondition(UInt16(truncatingIfNeeded: next) == block, "ACK \(block) acknowledged block \(next)")
        }
    }
    return 0
}

private func check(_ request: TFTPRequest, limits: TFTPLimits) {
    precondition(request.opcode == .readRequest || request.opcode == .writeRequest)
    precondition(request.filename.count <= limits.maxPathLength && !request.filename.contains(0))
    if let path = request.path(maxLength: limits.maxPathLength) {
        checkBeneathRoot(path)
    }
    // (file size, largest block the path MTU allows): an empty file on Ethernet, over 4 GiB on a tiny MTU.
    for (fileSize, mtuBlock) in [(0, 1428), (Int(UInt32.max) + 1, 8)] {
        let granted = request.negotiate(size: fileSize, limits: limits, pathMTUBlockSize: { mtuBlock })
        precondition((8...limits.maxBlockSize).contains(granted.blockSize) && granted.blockSize <= max(512, mtuBlock))
        precondition((1...limits.maxWindowSize).contains(granted.window))
        precondition((1000...255_000).contains(granted.timeout) || granted.timeout == limits.timeoutMilliseconds)
        // Only options the client asked for, each once, in its spelling (lowercased by the parser).
        let names = granted.accepted.map(\.0)
        precondition(Set(names).count == names.count)
        precondition(names.allSatisfy { name in request.options.contains { $0.name == name } })
        precondition(granted.accepted.allSatisfy { !$0.1.isEmpty && $0.1.utf8.allSatisfy { (0x30...0x39).contains($0) } })
    }
}

/// A path the server opens beneath its root: relative, no empty, "." or ".." component, no NUL.
private func checkBeneathRoot(_ path: [UInt8]) {
    precondition(!path.contains(0))
    guard !path.isEmpty else { return }
    for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
        precondition(!component.isEmpty && !component.elementsEqual([0x2e]) && !component.elementsEqual([0x2e, 0x2e]), "path leaves the root")
    }
}
