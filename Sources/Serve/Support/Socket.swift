import Posix
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Socket calls the servers share, each through the syscall door.
enum Socket {
    /// A bound socket of `type` (SOCK_STREAM/SOCK_DGRAM) on `address`; port 0 takes a free port.
    static func bound(_ type: Int32, _ address: SocketAddress) throws(SystemCallError) -> OwnedFileDescriptor {
        let fd = OwnedFileDescriptor(
            rawValue: try systemCall("socket", address.description) { socket(address.family, type | Int32(SOCK_CLOEXEC.rawValue), 0) })
        // SO_REUSEADDR only for TCP listeners (a restart while old connections sit in TIME_WAIT). On UDP it
        // would let two sockets share a port: two transfers bound to port 0 could be given the same one.
        if type == Int32(SOCK_STREAM.rawValue) {
            setOption(fd.descriptor, SOL_SOCKET, SO_REUSEADDR, 1)
        }
        try systemCall("bind", address.description) { address.withSockAddr { bind(fd.rawValue, $0, $1) } }  // a failure closes fd
        return fd
    }

    /// The address a socket is bound to.
    static func localAddress(_ fd: FileDescriptor) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &length) }
        }
        guard result == 0 else { return nil }
        return SocketAddress(storage)
    }

    static func setOption(_ fd: FileDescriptor, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd.rawValue, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    static func setTimeout(_ fd: FileDescriptor, _ name: Int32, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(fd.rawValue, SOL_SOCKET, name, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends one datagram to `address`; errors are dropped (UDP gives no delivery promise anyway).
    static func send(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, to address: SocketAddress) -> Bool {
        address.withSockAddr { sa, length in
            (try? systemCall("sendto", address.description, blocking: true) { sendto(fd.rawValue, bytes.baseAddress, bytes.count, 0, sa, length) }) != nil
        }
    }

    /// Receives one datagram into `buffer` if one is waiting; nil when none is, on an error, or for an address
    /// of another family.
    static func receive(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, from: SocketAddress)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let received = try? systemCall("recvfrom", blocking: false) {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, &length)
                }
            }
        }
        guard case .processed(let count) = received, let from = SocketAddress(storage) else { return nil }
        return (count, from)
    }
}

/// Which of the descriptors `poll` found ready.
enum PollResult {
    case ready
    case woken
    case timedOut
}

/// Waits until `fd` has data (`events`), the server's wake-up fires, or `milliseconds` pass (-1: forever).
func waitFor(_ fd: FileDescriptor, events: Int16 = Int16(POLLIN), wakeup: Wakeup, milliseconds: Int) -> PollResult {
    var fds = [
        pollfd(fd: fd.rawValue, events: events, revents: 0),
        pollfd(fd: wakeup.fd.rawValue, events: Int16(POLLIN), revents: 0),
    ]
    guard let result = try? systemCall("poll", "", { poll(&fds, 2, Int32(clamping: milliseconds)) }) else { return .woken }
    if result == 0 { return .timedOut }
    if fds[1].revents != 0 { return .woken }
    return .ready
}

/// A pipe that, once signalled, stays readable (nobody reads it): every poll that includes it wakes up for good.
final class Wakeup: Sendable {
    let fd: OwnedFileDescriptor
    private let writeEnd: OwnedFileDescriptor

    init() throws(SystemCallError) {
        var ends: [Int32] = [-1, -1]
        try systemCall("pipe") { pipe(&ends) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        fd = OwnedFileDescriptor(rawValue: ends[0])
        writeEnd = OwnedFileDescriptor(rawValue: ends[1])
    }

    func signal() {
        var one: UInt8 = 1
        _ = write(writeEnd.rawValue, &one, 1)
    }
}

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

func monotonicMicroseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}
