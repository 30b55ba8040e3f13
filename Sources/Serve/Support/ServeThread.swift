#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX thread with a small stack, for blocking socket work that must stay off Swift's cooperative pool.
enum ServeThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread; a detached thread cleans up by itself, a joinable one is returned for `join`.
    @discardableResult
    static func start(name: String, detached: Bool, stackSize: Int = 256 * 1024, _ body: @escaping @Sendable () -> Void) throws(ServeError) -> pthread_t? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        if detached { pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) }
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(
            &thread, &attributes,
            { raw in
                guard let raw else { return nil }
                let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
                body.run()
                return nil
            }, context)
        guard code == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw .thread(what: name, code: code)
        }
        return detached ? nil : thread
    }

    static func join(_ thread: pthread_t) {
        pthread_join(thread, nil)
    }
}
