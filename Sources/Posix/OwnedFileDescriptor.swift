#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import SystemPackage

/// An open file descriptor with exactly one owner, which closes it: by `close()` where a failure matters (the
/// last write-back of a file being published), else when the owner goes away (`deinit`). It cannot be copied,
/// so no second owner can close it twice or use it after it was closed.
///
/// Calls go through `descriptor`, a borrowed view that is valid while the owner lives; `take()` hands the
/// descriptor over to something else that will close it.
public struct OwnedFileDescriptor: ~Copyable, Sendable {
    private let fd: FileDescriptor

    /// Takes ownership of `fd`.
    public init(_ fd: FileDescriptor) {
        self.fd = fd
    }

    /// Takes ownership of the descriptor numbered `rawValue`.
    public init(rawValue: Int32) {
        fd = FileDescriptor(rawValue: rawValue)
    }

    /// `open(2)` through swift-system (with `EINTR` retried), owned. Throws swift-system's `Errno`.
    public static func open(
        _ path: FilePath, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions? = nil
    ) throws -> OwnedFileDescriptor {
        OwnedFileDescriptor(try FileDescriptor.open(path, mode, options: options, permissions: permissions, retryOnInterrupt: true))
    }

    /// The descriptor, for calls on it; valid only while this owner lives. Never close it.
    public var descriptor: FileDescriptor { fd }

    /// The descriptor's number, for C calls; valid only while this owner lives.
    public var rawValue: Int32 { fd.rawValue }

    /// Gives up ownership without closing: the caller now closes the returned descriptor.
    public consuming func take() -> FileDescriptor {
        let fd = self.fd
        discard self
        return fd
    }

    /// Closes the descriptor and reports a failure (a delayed write error, say). Not retried on `EINTR`: on
    /// Linux the descriptor is released either way, and a retry could close one another thread just opened.
    public consuming func close() throws(SystemCallError) {
        let fd = self.fd
        discard self
        try systemCallOnce("close", "descriptor \(fd.rawValue)") { Glibc.close(fd.rawValue) }
    }

    deinit {
        _ = Glibc.close(fd.rawValue)
    }
}

extension Optional where Wrapped == OwnedFileDescriptor {
    /// The descriptor of an owner that may be missing (a file that could not be opened); valid while it lives.
    public var descriptor: FileDescriptor? {
        switch self {
        case .some(let owner): owner.descriptor
        case .none: nil
        }
    }
}
