internal import CArchive

/// Owns one `struct archive_entry` until it is written or handed to a `HardlinkResolver`.
final class ArchiveEntry {
    private var handle: OpaquePointer?

    init?() {
        guard let handle = archive_entry_new() else { return nil }
        self.handle = handle
    }

    /// Takes over an entry handed back by libarchive.
    init(adopting handle: OpaquePointer) {
        self.handle = handle
    }

    /// Calls `body` with the entry. The pointer must not escape the closure.
    func withUnsafeHandle<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T? {
        guard let handle else { return nil }
        return try body(handle)
    }

    /// Gives up ownership (to libarchive's resolver).
    fileprivate func release() -> OpaquePointer? {
        defer { handle = nil }
        return handle
    }

    deinit { if let handle { archive_entry_free(handle) } }
}

/// Owns one `archive_entry_linkresolver`, which orders the names of a multiply-linked file the way the
/// archive format wants (for newc: data on the last name; `archive_entry_linkify`).
final class HardlinkResolver {
    private let handle: OpaquePointer

    init?(formatCode: Int32) {
        guard let handle = archive_entry_linkresolver_new() else { return nil }
        self.handle = handle
        archive_entry_linkresolver_set_strategy(handle, formatCode)
    }

    /// Hands `entry` over; returns the entries to write now (zero, one or two), in order.
    func linkify(_ entry: ArchiveEntry) -> [ArchiveEntry] {
        var first = entry.release()
        var second: OpaquePointer? = nil
        archive_entry_linkify(handle, &first, &second)
        return [first, second].compactMap { $0 }.map(ArchiveEntry.init(adopting:))
    }

    /// The names still held back, once every entry was handed over.
    func drain() -> [ArchiveEntry] {
        var rest: [ArchiveEntry] = []
        while true {
            var next: OpaquePointer? = nil
            var unused: OpaquePointer? = nil
            archive_entry_linkify(handle, &next, &unused)
            guard let next else { break }
            rest.append(ArchiveEntry(adopting: next))
        }
        return rest
    }

    deinit { archive_entry_linkresolver_free(handle) }
}
