internal import CLinux

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import SystemPackage

/// An operating-system thread with a name (what `top -H` and a debugger show) that runs one closure, for work
/// that must stay off Swift's cooperative pool (blocking socket calls) or needs a thread of its own (`unshare`
/// of the working directory or the mount namespace, which then applies to this thread only).
///
/// `join()` waits for the thread and returns what the closure returned, or rethrows what it threw. The value
/// travels back through `pthread_join`, so no state is shared with the thread while it runs. A thread that is
/// never joined is joined when its owner goes away.
public struct PosixThread<Value>: ~Copyable, Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new joinable thread named `name` (the first 15 bytes: the kernel's limit), with a stack
    /// of `stackSize` bytes (0: the system's default).
    public init(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () throws -> Value) throws(SystemCallError) {
        handle = try startThread(name: name, stackSize: stackSize, detached: false, Work(name: name) { ThreadResult(Result { try body() }) })
    }

    /// Runs `body` on a new thread named `name` and waits for it: the caller is blocked throughout, so `body`
    /// may use what the caller holds (it need not be `Sendable`).
    public static func run(name: String, stackSize: Int = 0, _ body: @escaping () throws -> Value) throws -> Value {
        let work = Work(name: name) { ThreadResult(Result { try body() }) }
        let thread = PosixThread(handle: try startThread(name: name, stackSize: stackSize, detached: false, work))
        return try thread.join()
    }

    private init(handle: pthread_t) {
        self.handle = handle
    }

    /// Waits for the thread to end; returns the closure's value or rethrows its error.
    public consuming func join() throws -> Value {
        let handle = self.handle
        discard self
        return try Self.wait(handle).get()
    }

    deinit {
        _ = Self.wait(handle)
    }

    private static func wait(_ handle: pthread_t) -> Result<Value, any Error> {
        var returned: UnsafeMutableRawPointer?
        let code = pthread_join(handle, &returned)
        guard code == 0 else { return .failure(SystemCallError(call: "pthread_join", subject: "", errno: Errno(rawValue: code))) }
        // A joinable thread's start routine always returns a retained `ThreadResult` (see `init`).
        guard let returned else { preconditionFailure("a joinable PosixThread returned no result") }
        return Unmanaged<ThreadResult<Value>>.fromOpaque(returned).takeRetainedValue().result
    }
}

extension PosixThread where Value == Void {
    /// Starts `body` on a new detached thread named `name`, which cleans up after itself when `body` returns.
    public static func detach(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
        _ = try startThread(
            name: name, stackSize: stackSize, detached: true,
            Work(name: name) {
                body()
                return nil
            })
    }
}

/// A thread's closure and name, passed through `pthread_create` as one retained pointer.
private final class Work {
    let name: String
    /// Returns what `pthread_join` will receive: a retained `ThreadResult`, or nil for a detached thread.
    let body: () -> AnyObject?

    init(name: String, _ body: @escaping () -> AnyObject?) {
        self.name = name
        self.body = body
    }
}

/// What a joinable thread's closure ended with, handed to the joining thread by `pthread_join`.
private final class ThreadResult<Value> {
    let result: Result<Value, any Error>
    init(_ result: Result<Value, any Error>) { self.result = result }
}

private func startThread(name: String, stackSize: Int, detached: Bool, _ work: Work) throws(SystemCallError) -> pthread_t {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    if stackSize > 0 { pthread_attr_setstacksize(&attributes, stackSize) }
    if detached { pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) }
    let context = Unmanaged.passRetained(work).toOpaque()
    var thread = pthread_t()
    let code = pthread_create(
        &thread, &attributes,
        { raw in
            guard let raw else { return nil }
            let work = Unmanaged<Work>.fromOpaque(raw).takeRetainedValue()
            // A name the kernel refuses only leaves the thread unnamed.
            _ = String(decoding: work.name.utf8.prefix(15), as: UTF8.self).withCString { clinux_set_thread_name($0) }
            return work.body().map { Unmanaged.passRetained($0).toOpaque() }
        }, context)
    guard code == 0 else {
        Unmanaged<Work>.fromOpaque(context).release()
        throw SystemCallError(call: "pthread_create", subject: "(the \(name) thread)", errno: Errno(rawValue: code))
    }
    return thread
}
