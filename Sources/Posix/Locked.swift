import CSanitizers
import Synchronization

/// A value that threads share, behind a `Mutex`: the one lock of the code base.
///
/// ThreadSanitizer cannot see `Mutex` on Linux: when the lock is contended, the futex wait that takes it runs
/// inside the prebuilt Synchronization library, which is not instrumented, so TSan sees two threads touch the
/// value with nothing ordering them and reports a race that is not there. `Locked` tells it what the lock does
/// (acquire after taking it, release before giving it back, on the mutex's own address); in builds without the
/// sanitizer those calls do nothing.
public struct Locked<Value: ~Copyable>: ~Copyable, Sendable {
    private let mutex: Mutex<Value>

    public init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// Runs `body` with the value while holding the lock.
    public borrowing func withLock<Result: ~Copyable, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        // The mutex's address names the lock to the sanitizer; it is never dereferenced.
        let address = withUnsafePointer(to: mutex) { UnsafeRawPointer($0) }
        return try mutex.withLock { value throws(E) -> sending Result in
            overlay_sanitizer_acquire(address)
            defer { overlay_sanitizer_release(address) }
            return try body(&value)
        }
    }
}
