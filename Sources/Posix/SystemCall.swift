#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import SystemPackage

/// A failed system call: which call, on what (a path, an address, a descriptor), and the `errno` it left.
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let subject: String
    public let errno: Errno

    public init(call: String, subject: String, errno: Errno) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        subject.isEmpty ? "\(call) failed: \(errno.posixDescription)" : "\(call) \(subject) failed: \(errno.posixDescription)"
    }
}

extension Errno {
    /// strerror's words ("No such file or directory"), not Swift's enum case name.
    public var posixDescription: String { String(cString: strerror(rawValue)) }
}

/// The one door for system calls: runs `body`, reads `errno` at once when it returns -1, retries on `EINTR`,
/// and throws an error naming the call and its subject.
@discardableResult
@inlinable
public func systemCall<T: FixedWidthInteger>(_ call: String, _ subject: @autoclosure () -> String = "", _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemCallError(call: call, subject: subject(), errno: Errno(rawValue: code))
    }
}

/// Like `systemCall`, for calls that must not be retried on `EINTR` (`close`: the descriptor is gone either way).
@discardableResult
@inlinable
public func systemCallOnce<T: FixedWidthInteger>(_ call: String, _ subject: @autoclosure () -> String = "", _ body: () -> T) throws(SystemCallError) -> T {
    let result = body()
    if result != -1 { return result }
    throw SystemCallError(call: call, subject: subject(), errno: Errno(rawValue: Glibc.errno))
}

/// What a call on a non-blocking descriptor did: its result, or nothing because it would have had to wait
/// (`EAGAIN`/`EWOULDBLOCK`), which is no error for such a descriptor.
public enum IOResult<T: Sendable>: Sendable {
    case processed(T)
    case wouldBlock
}

extension IOResult: Equatable where T: Equatable {}

/// Like `systemCall`, for reads and writes. With `blocking: false` (a descriptor opened `O_NONBLOCK`, or a call
/// with `MSG_DONTWAIT`) `EAGAIN`/`EWOULDBLOCK` come back as `.wouldBlock`; with `blocking: true` they are errors
/// like any other (on a blocking socket they mean that `SO_RCVTIMEO`/`SO_SNDTIMEO` ran out).
@inlinable
public func systemCall<T: FixedWidthInteger & Sendable>(
    _ call: String, _ subject: @autoclosure () -> String = "", blocking: Bool, _ body: () -> T
) throws(SystemCallError) -> IOResult<T> {
    while true {
        let result = body()
        if result != -1 { return .processed(result) }
        let code = Glibc.errno
        if code == EINTR { continue }
        if !blocking && (code == EAGAIN || code == EWOULDBLOCK) { return .wouldBlock }
        throw SystemCallError(call: call, subject: subject(), errno: Errno(rawValue: code))
    }
}
