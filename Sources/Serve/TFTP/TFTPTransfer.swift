import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Where a transfer's bytes come from: a file beneath the root, or a document the catalog generated.
enum TransferSource {
    case file(ServedFile)
    case memory([UInt8])

    var size: Int {
        switch self {
        case .file(let file): return file.size
        case .memory(let bytes): return bytes.count
        }
    }

    /// Copies `count` bytes at `offset` to `destination`; false on a read error or a file that shrank.
    func read(offset: Int, count: Int, into destination: UnsafeMutableRawPointer) -> Bool {
        switch self {
        case .file(let file):
            var done = 0
            while done < count {
                let got = try? systemCall("pread", blocking: true) { pread(file.fd.rawValue, destination + done, count - done, off_t(offset + done)) }
                guard case .processed(let got) = got, got > 0 else { return false }
                done += got
            }
            return true
        case .memory(let bytes):
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress, count > 0 { destination.copyMemory(from: base + offset, byteCount: count) }
            }
            return true
        }
    }
}

/// One read transfer, on its own socket (a new transfer ID, RFC 1350 §4), from request to the last ACK.
package struct TFTPTransfer {
    let server: TFTPServer
    let client: SocketAddress
    let request: TFTPRequest
    let token: TransferToken

    private var limits: TFTPLimits { server.limits }

    func run() {
        let started = monotonicMilliseconds()
        server.log.metrics?.began("tftp")
        let pathText = String(decoding: request.filename, as: UTF8.self)
        var local = server.listener.address
        local.port = 0
        guard let owned = try? Socket.bound(Int32(SOCK_DGRAM.rawValue), local) else {
            server.log.record(
                .init(
                    proto: "tftp", client: client, method: "RRQ", path: pathText, status: "error 0", bytes: 0, milliseconds: 0,
                    detail: "no socket for the transfer"))
            return
        }
        let socket = owned.descriptor
        token.attach(socket)
        var outcome = Outcome(status: "ok", bytes: 0, detail: "")
        switch open() {
        case .failure(let refusal):
            let (code, message) = (refusal.code, refusal.message)
            send(socket, TFTPPacket.error(code, message))
            outcome = Outcome(status: "error \(code.rawValue)", bytes: 0, detail: message)
        case .success(let source):
            outcome = transfer(source, on: socket)
        }
        token.detach()
        _ = consume owned  // closed only once the token no longer names it
        // The sha256 of what was sent, as HTTP sends it as the ETag, for those who watch the log.
        let name = request.path(maxLength: limits.maxPathLength).flatMap { String(validating: $0, as: UTF8.self) }
        server.log.record(
            .init(
                proto: "tftp", client: client, method: "RRQ", path: pathText, status: outcome.status, bytes: outcome.bytes,
                milliseconds: monotonicMilliseconds() - started, detail: outcome.detail, retransmits: outcome.retransmits,
                digest: name.flatMap { server.catalog?.knownDigest(path: $0) }, complete: outcome.status == "ok"))
    }

    package struct Outcome {
        package var status: String
        package var bytes: Int
        package var detail: String
        /// Windows sent again after the client stayed silent.
        package var retransmits = 0

        package init(status: String, bytes: Int, detail: String) {
            self.status = status
            self.bytes = bytes
            self.detail = detail
        }
    }

    /// Finds what the request names: a generated document first, else a regular file beneath the root.
    private func open() -> Result<TransferSource, Refusal> {
        guard let path = request.path(maxLength: limits.maxPathLength) else {
            return .failure(Refusal((.accessViolation, "access violation")))
        }
        var source: TransferSource
        if let name = String(validating: path, as: UTF8.self),
            let document = server.catalog?.generatedDocument(path: name, for: ServeRequest(proto: "tftp", client: client))
        {
            source = .memory(document.body)
        } else {
            switch server.root.open(path) {
            case .success(let file): source = .file(file)
            case .failure(.notFound): return .failure(Refusal((.fileNotFound, "file not found")))
            case .failure(.forbidden): return .failure(Refusal((.accessViolation, "access violation")))
            }
        }
        switch request.mode {
        case "octet":
            return .success(source)
        case "netascii":
            guard source.size <= limits.maxNetasciiBytes else {
                return .failure(Refusal((.undefined, "file too large for netascii mode, use octet")))
            }
            var raw = [UInt8](repeating: 0, count: source.size)
            let ok = raw.withUnsafeMutableBytes { buffer in
                buffer.baseAddress.map { source.read(offset: 0, count: buffer.count, into: $0) } ?? true
            }
            guard ok else { return .failure(Refusal((.undefined, "read error"))) }
            return .success(.memory(Self.netascii(raw)))
        default:
            return .failure(Refusal((.illegalOperation, "unsupported mode \"\(request.mode)\"")))
        }
    }

    struct Refusal: Error {
        let code: TFTPErrorCode
        let message: String
        init(_ pair: (TFTPErrorCode, String)) { (code, message) = pair }
    }

    /// RFC 764 line endings: LF becomes CR LF, a bare CR becomes CR NUL.
    static func netascii(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 16)
        for byte in bytes {
            switch byte {
            case 0x0a: out += [0x0d, 0x0a]
            case 0x0d: out += [0x0d, 0x00]
            default: out.append(byte)
            }
        }
        return out
    }

    /// The highest block acknowledged once the client ACKs block `wire` (block numbers wrap past 65535), or nil when
    /// the ACK confirms nothing new (a duplicate, a stale ACK, a block not sent yet): such ACKs are ignored. `acked`
    /// is -1 while the OACK is unanswered; an ACK of block 0 answers it.
    package static func acknowledged(_ wire: UInt16, acked: Int, lastSent: Int) -> Int? {
        let step = Int(wire &- UInt16(truncatingIfNeeded: acked))
        guard step >= 1, acked + step <= lastSent else { return nil }
        return acked + step
    }

    /// The largest block that fits one datagram on the route to the client (IP_MTU of a connected probe socket).
    private func pathMTUBlockSize() -> Int {
        let fallback = 65464
        guard let probe = try? systemCall("socket", "", { socket(client.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }) else {
            return fallback
        }
        let owned = OwnedFileDescriptor(rawValue: probe)
        let fd = owned.rawValue
        guard client.withSockAddr({ connect(fd, $0, $1) }) == 0 else { return fallback }
        var mtu: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let v6 = client.family == AF_INET6
        guard getsockopt(fd, v6 ? Int32(IPPROTO_IPV6) : Int32(IPPROTO_IP), v6 ? IPV6_MTU : IP_MTU, &mtu, &length) == 0, mtu > 0 else { return fallback }
        return max(8, min(fallback, Int(mtu) - (v6 ? 40 : 20) - 8 - 4))
    }

    private func send(_ socket: FileDescriptor, _ packet: [UInt8]) {
        _ = packet.withUnsafeBytes { Socket.send(socket, $0, to: client) }
    }

    /// Sends the file: OACK (when options were granted), then windows of DATA blocks (RFC 7440; a window of one
    /// block is RFC 1350's lockstep). Block numbers wrap past 65535.
    ///
    /// What each ACK means:
    /// - the last block of the window: the next window follows;
    /// - a block inside the window: the client saw a gap after it; the next window starts right after it;
    /// - the block before the window again (windows only): the client saw a gap at the window's first block, or the
    ///   ACK is a stale copy; the window is sent again, but only when nothing was resent within the current
    ///   retransmission timeout, so a duplicate ACK answering a resend can never set off another one (no
    ///   Sorcerer's Apprentice, which in lockstep rules out resending on a duplicate ACK at all);
    /// - an older block: a late, reordered ACK; ignored.
    /// Silence resends the window after `TFTPRetransmitTimer`'s timeout, doubling the wait for each resend.
    private func transfer(_ source: TransferSource, on socket: FileDescriptor) -> Outcome {
        let (accepted, blockSize, window, timeout) = request.negotiate(size: source.size, limits: limits, pathMTUBlockSize: pathMTUBlockSize)
        var state = WindowState(
            size: source.size, blockSize: blockSize, window: window, timeout: timeout, limits: limits,
            detail: accepted.map { "\($0.0)=\($0.1)" }.joined(separator: " "), optionsAccepted: !accepted.isEmpty)
        let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: max(blockSize + 4, 65536), alignment: 8)
        defer { packet.deallocate() }
        let optionAck = TFTPPacket.optionAck(accepted)
        let readError = Outcome(status: "error 0", bytes: 0, detail: "read error")

        /// Sends the next window (or the OACK, while it is unanswered) and arms the timer; false on a read error.
        func sendWindow() -> Bool {
            guard let blocks = state.nextWindow() else {
                send(socket, optionAck)
                return true
            }
            for block in blocks {
                let offset = (block - 1) * blockSize
                let count = max(0, min(blockSize, source.size - offset))
                let wire = UInt16(truncatingIfNeeded: block)
                packet[0] = 0
                packet[1] = 3
                packet[2] = UInt8(wire >> 8)
                packet[3] = UInt8(wire & 0xff)
                guard let base = packet.baseAddress, source.read(offset: offset, count: count, into: base + 4) else { return false }
                _ = Socket.send(socket, UnsafeRawBufferPointer(rebasing: packet[0..<(4 + count)]), to: client)
            }
            return true
        }

        guard sendWindow() else {
            send(socket, TFTPPacket.error(.undefined, "read error"))
            return readError
        }
        while true {
            let remaining = state.deadline - monotonicMilliseconds()
            let waited = remaining <= 0 ? .timedOut : waitFor(socket, wakeup: server.listener.wakeup, milliseconds: remaining)
            let next: WindowState.Next
            switch waited {
            case .woken:
                send(socket, TFTPPacket.error(.undefined, "server shutting down"))
                return Outcome(
                    status: "aborted", bytes: state.bytesConfirmed, detail: ["server stopped", state.summary()].filter { !$0.isEmpty }.joined(separator: " "))
            case .timedOut:
                next = state.silence()
            case .ready:
                guard let reply = receiveReply(on: socket, into: packet) else { continue }
                token.heard.store(true, ordering: .relaxed)
                switch reply {
                case .error(let code):
                    // ERROR 8 right after the OACK is a size probe (UEFI): the client got what it wanted.
                    let why = code == TFTPErrorCode.optionRefused.rawValue && state.acked < 0 ? "size probe" : "client error \(code)"
                    return Outcome(
                        status: "aborted", bytes: state.bytesConfirmed, detail: [why, state.summary()].filter { !$0.isEmpty }.joined(separator: " "))
                case .ack(let block):
                    next = state.acknowledgement(block)
                case .other:
                    continue
                }
            }
            switch next {
            case .wait:
                continue
            case .done(var outcome):
                outcome.retransmits = state.windowsResent
                return outcome
            case .sendWindow:
                guard sendWindow() else {
                    send(socket, TFTPPacket.error(.undefined, "read error"))
                    return readError
                }
            }
        }
    }

    /// The next datagram from the transfer's client, parsed; nil for one to skip. A datagram from another port or
    /// host is not our transfer's TID: it is told so (RFC 1350 §4), but an ERROR is never answered with an ERROR (two
    /// confused peers would bounce them forever).
    private func receiveReply(on socket: FileDescriptor, into packet: UnsafeMutableRawBufferPointer) -> TFTPReply? {
        guard let (count, from) = Socket.receive(socket, into: packet) else { return nil }
        guard from == client else {
            let isError = count >= 2 && packet[0] == 0 && packet[1] == UInt8(TFTPOpcode.error.rawValue)
            if !isError {
                let error = TFTPPacket.error(.unknownTransferID, "unknown transfer ID")
                _ = error.withUnsafeBytes { Socket.send(socket, $0, to: from) }
            }
            return nil
        }
        return TFTPReply.parse(UnsafeRawBufferPointer(rebasing: packet[0..<count]))
    }
}

/// The sending side of one transfer: the window in flight, what the client confirmed, the retransmission timer,
/// and the counts its log line reports. `TFTPTransfer.transfer` does the I/O; this decides what comes next.
package struct WindowState {
    let size: Int
    let blockSize: Int
    let window: Int
    let timeout: Int
    let detail: String
    /// The last block, which is short, possibly empty.
    let lastBlock: Int
    /// A client that confirms nothing new for this long is given up: as long as `maxRetries` resends at the full
    /// timeout would wait, backing off up to 8x (31 s at the default 1 s and 5 retries).
    let patience: Int

    /// The highest block the client confirmed; the OACK stands for block 0, and -1 means it is unanswered.
    package private(set) var acked: Int
    private var lastSent = 0
    private var timer: TFTPRetransmitTimer
    private var lastProgress = monotonicMilliseconds()
    private var wait: Int
    private(set) var deadline = 0
    // For Karn's rule: the highest block sent so far, the first block of the last window not sent before it, and
    // when that window went out (microseconds).
    private var highestSent: Int
    private var firstFresh = 0
    private var windowSentAt = 0
    /// When a window last held a block sent before (milliseconds), for the duplicate-ACK rule.
    private var lastResentAt = Int.min / 2
    private var resends = 0  // windows sent again after a timeout
    private var rewinds = 0  // windows restarted after an ACK from their middle or before them (a client saw a gap)

    package enum Next {
        case wait
        case sendWindow
        case done(TFTPTransfer.Outcome)
    }

    package init(size: Int, blockSize: Int, window: Int, timeout: Int, limits: TFTPLimits, detail: String, optionsAccepted: Bool) {
        self.size = size
        self.blockSize = blockSize
        self.window = window
        self.timeout = timeout
        self.detail = detail
        lastBlock = size / blockSize + 1
        patience = (0...limits.maxRetries).reduce(0) { $0 + timeout * min(1 << min($1, 3), 8) }
        acked = optionsAccepted ? -1 : 0
        highestSent = acked
        timer = TFTPRetransmitTimer(ceiling: timeout, floor: limits.minTimeoutMilliseconds)
        wait = timer.timeout
    }

    var bytesConfirmed: Int { max(0, acked) * blockSize }

    /// How many windows were sent again after a silence.
    package var windowsResent: Int { resends }

    package func summary() -> String {
        var parts = detail.isEmpty ? [] : [detail]
        if resends > 0 { parts.append("resent=\(resends)") }
        if rewinds > 0 { parts.append("rewound=\(rewinds)") }
        return parts.joined(separator: " ")
    }

    private var stalled: Bool { monotonicMilliseconds() - lastProgress >= patience }

    /// The end of a transfer whose client confirmed nothing new for `patience`.
    private var givenUp: Next { .done(.init(status: "timeout", bytes: bytesConfirmed, detail: summary())) }

    /// Records that the window after `acked` goes out now and sets the deadline for its ACK: the blocks to send,
    /// or nil when it is the OACK.
    package mutating func nextWindow() -> ClosedRange<Int>? {
        let first = acked + 1
        let last = acked < 0 ? 0 : min(acked + window, lastBlock)
        if first <= highestSent { lastResentAt = monotonicMilliseconds() }
        firstFresh = highestSent + 1
        windowSentAt = monotonicMicroseconds()
        highestSent = max(highestSent, last)
        lastSent = last
        deadline = monotonicMilliseconds() + wait
        return acked < 0 ? nil : first...last
    }

    /// No ACK before the deadline: resend with a doubled wait, or give up on a client silent for too long.
    package mutating func silence() -> Next {
        if stalled { return givenUp }
        resends += 1
        wait = min(wait * 2, timeout * 8)
        return .sendWindow
    }

    /// An ACK of block `wire` (see `TFTPTransfer.transfer` for what each one means).
    package mutating func acknowledgement(_ wire: UInt16) -> Next {
        let now = monotonicMilliseconds()
        if wire == UInt16(truncatingIfNeeded: acked), window > 1, acked >= 0, now - lastResentAt >= timer.timeout {
            // The block before the window again: start the window over. A client that repeats itself and never
            // gets further is as good as silent.
            if now - lastProgress >= patience { return givenUp }
            rewinds += 1
            wait = timer.timeout
            return .sendWindow
        }
        // A duplicate or stale ACK is ignored.
        guard let advanced = TFTPTransfer.acknowledged(wire, acked: acked, lastSent: lastSent) else { return .wait }
        acked = advanced
        if acked >= firstFresh { timer.measured(monotonicMicroseconds() - windowSentAt) }
        if acked < lastSent { rewinds += 1 }
        lastProgress = now
        wait = timer.timeout
        return acked == lastBlock ? .done(.init(status: "ok", bytes: size, detail: summary())) : .sendWindow
    }
}
