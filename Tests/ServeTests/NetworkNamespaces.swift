import Foundation
import Glibc
import Synchronization

/// Two network namespaces of this test run joined by a veth pair, made with iproute2 and removed again in `remove()`
/// and `deinit` (a run that died leaves namespaces named after its pid, removed by the next run). Addresses are in
/// 10.213.77.0/30, inside the namespaces only; nothing is routed anywhere else.
final class NamespacePair {
    static let prefix = "ovl-tftp-"
    let server: String
    let client: String
    let serverInterface = "veth-srv"
    let clientInterface = "veth-cli"
    let serverAddress = "10.213.77.1"
    let clientAddress = "10.213.77.2"

    init(mtu: Int) throws {
        Self.removeStale()
        let tag = "\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        server = Self.prefix + "s-" + tag
        client = Self.prefix + "c-" + tag
        do {
            try Self.ip(["netns", "add", server])
            try Self.ip(["netns", "add", client])
            try Self.ip(["-n", server, "link", "add", "name", serverInterface, "type", "veth", "peer", "name", clientInterface, "netns", client])
            for (namespace, interface, address) in [(server, serverInterface, serverAddress), (client, clientInterface, clientAddress)] {
                try Self.ip(["-n", namespace, "addr", "add", address + "/30", "dev", interface])
                try Self.ip(["-n", namespace, "link", "set", "dev", interface, "mtu", String(mtu), "up"])
                try Self.ip(["-n", namespace, "link", "set", "dev", "lo", "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    deinit { remove() }

    func remove() {
        for namespace in [server, client] { _ = try? ServeTests.run("/usr/sbin/ip", ["netns", "del", namespace], timeout: 10) }
    }

    /// Runs a program inside `namespace` (`ip netns exec`), killed after `timeout` seconds. SIGKILL, from coreutils'
    /// `timeout`: a child of the test runner may inherit a signal mask that blocks SIGTERM.
    func run(in namespace: String, _ program: String, _ arguments: [String], timeout: Int = 120) throws -> Finished {
        try ServeTests.run(
            "/usr/bin/timeout", ["--signal=KILL", String(timeout), "/usr/sbin/ip", "netns", "exec", namespace, program] + arguments,
            timeout: Double(timeout + 10))
    }

    static func ip(_ arguments: [String]) throws {
        let result = try ServeTests.run("/usr/sbin/ip", arguments, timeout: 10)
        guard result.status == 0 else { throw NamespaceError("ip \(arguments.joined(separator: " ")): \(result.stderr)") }
    }

    /// Namespaces of earlier runs whose process is gone.
    private static func removeStale() {
        guard let listing = try? ServeTests.run("/usr/sbin/ip", ["netns", "list"], timeout: 10) else { return }
        for line in listing.text.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(prefix), let pid = name.dropFirst(prefix.count + 2).split(separator: "-").first.flatMap({ Int32($0) }),
                kill(pid, 0) != 0 && errno == ESRCH
            else { continue }
            _ = try? ServeTests.run("/usr/sbin/ip", ["netns", "del", name], timeout: 10)
        }
    }
}

struct NamespaceError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` on a thread of its own that has entered the network namespace `name` (setns(2)); threads it starts
/// stay in that namespace, the caller's threads never enter it.
func inNetworkNamespace<T>(_ name: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let result = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        defer { done.signal() }
        do {
            try enterNetworkNamespace(name)
            result.value = .success(try body())
        } catch {
            result.value = .failure(error)
        }
    }
    done.wait()
    return try result.value!.get()
}

final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, any Error>?
}

/// glibc declares setns(2) only under _GNU_SOURCE, which Swift's Glibc module does not see: found at run time.
private typealias SetnsFunction = @convention(c) (Int32, Int32) -> Int32
private let setnsFunction: SetnsFunction? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns").map { unsafeBitCast($0, to: SetnsFunction.self) }
private let cloneNewNet: Int32 = 0x4000_0000

/// Moves the calling thread into the network namespace `ip netns add` made as /run/netns/NAME.
private func enterNetworkNamespace(_ name: String) throws {
    let fd = open("/run/netns/" + name, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw NamespaceError("open /run/netns/\(name): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard let setns = setnsFunction, setns(fd, cloneNewNet) == 0 else {
        throw NamespaceError("setns \(name): \(String(cString: strerror(errno)))")
    }
}

/// netem's `loss L reorder R C delay D` on the packets leaving one namespace through one interface: each packet is
/// lost with probability L, sent at once with probability R (correlated C with the previous packet's draw, as netem
/// draws), else held for D, so the packets sent at once overtake the held ones.
///
/// With `tc qdisc ... netem` when the kernel has sch_netem. This machine's kernel has not (CONFIG_NET_SCH_NETEM is
/// not set and there are no modules to load), so the same happens in netfilter: an iptables rule hands the
/// interface's outgoing packets to an NFQUEUE queue, and a thread here, bound to that queue over netlink inside the
/// namespace, gives each packet its verdict: drop it (the packet is gone after the sender's send returned, as on a
/// lossy wire), accept it now, or accept it D later. The kernel moves every byte; only the decisions are made here.
final class LinkImpairment: @unchecked Sendable {
    enum Mechanism: String { case netem, netfilterQueue = "netfilter NFQUEUE" }

    struct Counts: Sendable {
        var packets = 0
        var dropped = 0
        var held = 0
        var immediate = 0
    }

    let namespace: String
    let interface: String
    let mechanism: Mechanism
    private let rule: [String]
    private let shared = SharedState()

    /// What the verdict thread and the test share.
    private final class SharedState: @unchecked Sendable {
        let stopping = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
        let counts = Mutex(Counts())
        var stopped = false
    }

    init(namespace: String, interface: String, loss: Double, immediate: Double, correlation: Double, delayMilliseconds: Int, seed: UInt64) throws {
        self.namespace = namespace
        self.interface = interface
        rule = ["OUTPUT", "-o", interface, "-j", "NFQUEUE", "--queue-num", "0"]
        let netem = try ServeTests.run(
            "/usr/sbin/ip",
            [
                "netns", "exec", namespace, "/usr/sbin/tc", "qdisc", "add", "dev", interface, "root", "netem",
                "loss", "\(loss * 100)%", "reorder", "\(immediate * 100)%", "\(correlation * 100)%",
                "delay", "\(delayMilliseconds)ms",
            ], timeout: 10)
        if netem.status == 0 {
            mechanism = .netem
            return
        }
        mechanism = .netfilterQueue
        let ready = DispatchSemaphore(value: 0)
        let failure = ResultBox<Void>()
        let decider = VerdictDecider(loss: loss, immediate: immediate, correlation: correlation, delay: delayMilliseconds, seed: seed)
        let shared = self.shared
        Thread.detachNewThread {
            defer { shared.finished.signal() }
            let queue: NetfilterQueue
            do {
                try enterNetworkNamespace(namespace)
                queue = try NetfilterQueue(number: 0)
            } catch {
                failure.value = .failure(error)
                ready.signal()
                return
            }
            ready.signal()
            queue.run(decider, until: { shared.stopping.load(ordering: .relaxed) }, counts: shared.counts)
        }
        ready.wait()
        if case .failure(let error) = failure.value { throw error }
        let added = try ServeTests.run("/usr/sbin/ip", ["netns", "exec", namespace, "/usr/sbin/iptables-legacy", "-A"] + rule, timeout: 10)
        guard added.status == 0 else {
            shared.stopping.store(true, ordering: .relaxed)
            shared.finished.wait()
            shared.stopped = true
            throw NamespaceError("iptables-legacy -A \(rule.joined(separator: " ")) in \(namespace): \(added.stderr)")
        }
    }

    /// Takes the impairment off and says what it did. netem keeps its own counters: only drops are read back then.
    @discardableResult
    func stop() -> Counts {
        guard mechanism == .netfilterQueue else {
            let stats =
                (try? ServeTests.run(
                    "/usr/sbin/ip", ["netns", "exec", namespace, "/usr/sbin/tc", "-s", "qdisc", "show", "dev", interface],
                    timeout: 10))?.text ?? ""
            let dropped = stats.range(of: #"dropped (\d+)"#, options: .regularExpression).map { Int(stats[$0].dropFirst(8)) ?? 0 } ?? 0
            return Counts(dropped: dropped)
        }
        if !shared.stopped {
            _ = try? ServeTests.run("/usr/sbin/ip", ["netns", "exec", namespace, "/usr/sbin/iptables-legacy", "-D"] + rule, timeout: 10)
            shared.stopping.store(true, ordering: .relaxed)
            shared.finished.wait()
            shared.stopped = true
        }
        return shared.counts.withLock { $0 }
    }

    deinit { stop() }
}

/// netem's draws: loss first, then whether a packet that survives goes at once.
private struct VerdictDecider {
    let loss: Double
    let immediate: Double
    let correlation: Double
    let delay: Int
    var random: SplitMix64
    var last = 0.0

    init(loss: Double, immediate: Double, correlation: Double, delay: Int, seed: UInt64) {
        self.loss = loss
        self.immediate = immediate
        self.correlation = correlation
        self.delay = delay
        random = SplitMix64(seed: seed)
    }

    enum Verdict { case drop, now, later }

    mutating func decide() -> Verdict {
        if Double.random(in: 0..<1, using: &random) < loss { return .drop }
        // netem's get_crandom: the next draw leans on the previous one by the correlation.
        last = correlation * last + (1 - correlation) * Double.random(in: 0..<1, using: &random)
        return last < immediate ? .now : .later
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An NFQUEUE queue bound over netlink (linux/netfilter/nfnetlink_queue.h) in the calling thread's namespace,
/// copying only each packet's metadata (its id) to user space.
private final class NetfilterQueue {
    private let fd: Int32
    private let number: UInt16
    private var sequence: UInt32 = 0

    private static let netlinkNetfilter: Int32 = 12
    private static let subsystemQueue: UInt16 = 3
    private static let packetMessage: UInt16 = subsystemQueue << 8 | 0
    private static let verdictMessage: UInt16 = subsystemQueue << 8 | 1
    private static let configMessage: UInt16 = subsystemQueue << 8 | 2
    private static let errorMessage: UInt16 = 2
    private static let request: UInt16 = 1
    private static let acknowledge: UInt16 = 4

    init(number: UInt16) throws {
        self.number = number
        fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Self.netlinkNetfilter)
        guard fd >= 0 else { throw NamespaceError("netlink socket: \(String(cString: strerror(errno)))") }
        var size: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        // struct sockaddr_nl: family, padding, port id 0 (the kernel picks), no groups.
        var address = [UInt8](repeating: 0, count: 12)
        address[0] = UInt8(AF_NETLINK & 0xff)
        let bound = address.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), 12) }
        guard bound == 0 else {
            close(fd)
            throw NamespaceError("netlink bind: \(String(cString: strerror(errno)))")
        }
        do {
            // NFQNL_CFG_CMD_BIND for this queue number, then copy mode NFQNL_COPY_META, then NFQA_CFG_F_FAIL_OPEN
            // (a full queue lets packets through rather than dropping them).
            try configure([(1, [1, 0, 0, 0])])
            try configure([(2, Self.bigEndian(UInt32(0)) + [1])])
            try configure([(4, Self.bigEndian(UInt32(1))), (5, Self.bigEndian(UInt32(1)))])
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Gives each queued packet its verdict until `stop()` says so, then lets every held packet go.
    func run(_ initial: VerdictDecider, until stop: () -> Bool, counts: borrowing Mutex<Counts>) {
        var decider = initial
        var held: [(release: Int, id: UInt32)] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !stop() {
            let now = microseconds()
            let wait = held.first.map { max(0, ($0.release - now + 999) / 1000) } ?? 50
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, Int32(min(wait, 50)))
            let due = microseconds()
            while let first = held.first, first.release <= due {
                verdict(first.id, accept: true)
                held.removeFirst()
            }
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { break }
                for id in packetIDs(buffer[0..<count]) {
                    let decision = decider.decide()
                    counts.withLock { counts in
                        counts.packets += 1
                        switch decision {
                        case .drop: counts.dropped += 1
                        case .now: counts.immediate += 1
                        case .later: counts.held += 1
                        }
                    }
                    switch decision {
                    case .drop: verdict(id, accept: false)
                    case .now: verdict(id, accept: true)
                    case .later: held.append((microseconds() + decider.delay * 1000, id))
                    }
                }
            }
        }
        for packet in held { verdict(packet.id, accept: true) }
    }

    /// The packet ids of the NFQNL_MSG_PACKET messages in one read (attribute NFQA_PACKET_HDR, a big-endian id first).
    private func packetIDs(_ bytes: ArraySlice<UInt8>) -> [UInt32] {
        var ids: [UInt32] = []
        var offset = bytes.startIndex
        while offset + 16 <= bytes.endIndex {
            let length = Int(Self.littleUInt32(bytes, offset))
            let type = UInt16(bytes[offset + 4]) | UInt16(bytes[offset + 5]) << 8
            guard length >= 16, offset + length <= bytes.endIndex else { break }
            if type == Self.packetMessage {
                var attribute = offset + 20  // after nlmsghdr (16) and nfgenmsg (4)
                while attribute + 4 <= offset + length {
                    let size = Int(UInt16(bytes[attribute]) | UInt16(bytes[attribute + 1]) << 8)
                    let kind = (UInt16(bytes[attribute + 2]) | UInt16(bytes[attribute + 3]) << 8) & 0x3fff
                    guard size >= 4 else { break }
                    if kind == 1, size >= 8 {
                        ids.append(bytes[(attribute + 4)..<(attribute + 8)].reduce(0) { $0 << 8 | UInt32($1) })
                    }
                    attribute += (size + 3) & ~3
                }
            }
            offset += (length + 3) & ~3
        }
        return ids
    }

    /// NFQNL_MSG_VERDICT with NFQA_VERDICT_HDR: NF_ACCEPT (1) or NF_DROP (0), then the packet id.
    private func verdict(_ id: UInt32, accept: Bool) {
        let message = self.message(type: Self.verdictMessage, flags: Self.request, [(2, Self.bigEndian(UInt32(accept ? 1 : 0)) + Self.bigEndian(id))])
        _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    }

    private func configure(_ attributes: [(UInt16, [UInt8])]) throws {
        let message = self.message(type: Self.configMessage, flags: Self.request | Self.acknowledge, attributes)
        _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var reply = [UInt8](repeating: 0, count: 4096)
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 2000) == 1 else { throw NamespaceError("NFQUEUE: no answer to a configuration message") }
        let count = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 20, UInt16(reply[4]) | UInt16(reply[5]) << 8 == Self.errorMessage else { throw NamespaceError("NFQUEUE: unexpected answer") }
        let code = Int32(bitPattern: Self.littleUInt32(reply[...], 16))
        guard code == 0 else { throw NamespaceError("NFQUEUE configuration refused: \(String(cString: strerror(-code)))") }
    }

    /// nlmsghdr (host order) + nfgenmsg (AF_UNSPEC, version 0, the queue number big-endian) + attributes.
    private func message(type: UInt16, flags: UInt16, _ attributes: [(UInt16, [UInt8])]) -> [UInt8] {
        var payload: [UInt8] = [0, 0, UInt8(number >> 8), UInt8(number & 0xff)]
        for (kind, value) in attributes {
            let length = 4 + value.count
            payload += Self.little(UInt16(length)) + Self.little(kind) + value + [UInt8](repeating: 0, count: (4 - length % 4) % 4)
        }
        sequence &+= 1
        return Self.little(UInt32(16 + payload.count)) + Self.little(type) + Self.little(flags) + Self.little(sequence) + Self.little(UInt32(0)) + payload
    }

    private static func little<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    private static func littleUInt32(_ bytes: ArraySlice<UInt8>, _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    private func microseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1_000_000 + now.tv_nsec / 1000
    }
}

private typealias Counts = LinkImpairment.Counts
