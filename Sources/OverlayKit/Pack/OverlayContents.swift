/// What an overlay holds: its objects, the plugin registry entries it carries, and its format.
public struct OverlayContents: Sendable {
    /// One object of the overlay.
    public struct Entry: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Codable {
            case file, directory, symlink
            /// Another name of a file stored earlier; `linkTarget` is that name.
            case hardlink
            /// A device node, FIFO or socket (overlay never writes these).
            case special
        }

        /// Path inside the overlay, without a leading "/" or "./" (`usr/bin/x`).
        public let path: String
        public let kind: Kind
        /// Permission bits, including setuid, setgid and sticky (`0o4755`).
        public let mode: UInt32
        public let uid: Int64
        public let gid: Int64
        /// Bytes of data: a file's length (a newc hardlink set stores it on one name only), a symlink's target
        /// length, 0 for directories.
        public let size: Int64
        /// A symlink's target, or the earlier name of a hardlink.
        public let linkTarget: String?
        /// SHA-256 of a file's data (64 hex digits), when it was asked for (`OverlayReader.read(_:digests:)`).
        public var sha256: String?

        public init(path: String, kind: Kind, mode: UInt32, uid: Int64, gid: Int64, size: Int64, linkTarget: String?) {
            self.path = path
            self.kind = kind
            self.mode = mode
            self.uid = uid
            self.gid = gid
            self.size = size
            self.linkTarget = linkTarget
        }
    }

    /// The objects in archive order (for squashfs: unsquashfs's order).
    public let entries: [Entry]
    /// Registry entries by file name (`etc/ovirt.plugins.d/<name>`), each as its `KEY=value` pairs.
    public let registry: [String: [String: String]]
    public let format: OverlayFormat

    public init(entries: [Entry], registry: [String: [String: String]], format: OverlayFormat) {
        self.entries = entries
        self.registry = registry
        self.format = format
    }

    /// Total bytes of data stored for files.
    public var totalBytes: Int64 { entries.reduce(0) { $0 + ($1.kind == .file || $1.kind == .hardlink ? $1.size : 0) } }

    /// The registry entries parsed, sorted by file name. Errors (`RegistryEntryError`) name the entry's
    /// path inside the overlay.
    public func registryEntries() throws -> [RegistryEntry] {
        try registry.keys.sorted().map { name in
            let fields = registry[name] ?? [:]
            return try RegistryEntry.parse(fields: fields, source: "\(RegistryEntry.directory)/\(name)")
        }
    }
}
