internal import CArchive

/// Owns one `archive_entry_linkresolver`, which orders the names of a multiply-linked file the way the
/// archive format wants (for newc: data on the last name; `archive_entry_linkify`).
final class HardlinkResolver {
    private let handle: OpaquePointer

    init?(formatCode: Int32) {
        guard let handle = archive_entry_linkresolver_new() else { return nil }
        self.handle = handle
        archive_entry_linkresolver_set_strategy(handle, formatCode)
    }

    /// Hands `entry` over; returns the entries to write now (zero, one or two), in order, or nil when libarchive
    /// cannot make an entry (`archive_entry_new`).
    func linkify(_ entry: ArchiveEntry) -> [ArchiveEntry]? {
        guard let made = entry.makeArchiveEntry() else { return nil }
        // The resolver keeps the entries it holds back and hands back ones it held (freed here once read).
        var first: OpaquePointer? = made
        var second: OpaquePointer? = nil
        archive_entry_linkify(handle, &first, &second)
        var ready: [ArchiveEntry] = []
        for case let held? in [first, second] {
            ready.append(ArchiveEntry(held))
            archive_entry_free(held)
        }
        return ready
    }

    /// The names still held back, once every entry was handed over.
    func drain() -> [ArchiveEntry] {
        var rest: [ArchiveEntry] = []
        while true {
            var next: OpaquePointer? = nil
            var unused: OpaquePointer? = nil
            archive_entry_linkify(handle, &next, &unused)
            guard let next else { break }
            rest.append(ArchiveEntry(next))
            archive_entry_free(next)
        }
        return rest
    }

    deinit { archive_entry_linkresolver_free(handle) }
}
