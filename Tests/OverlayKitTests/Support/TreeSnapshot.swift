import Foundation
import SystemPackage

/// Every entry of a tree (relative path → type, mode, owner, size, mtime, and the bytes or link target),
/// for checking that a tree did not change by one byte.
struct TreeSnapshot: Equatable {
    struct Entry: Equatable {
        var type: String
        var mode: Int
        var owner: Int
        var group: Int
        var modified: Date?
        var content: Data?
        var target: String?
    }
    /// The entries below the root, by relative path.
    var entries: [String: Entry] = [:]
    /// The root directory itself: its own mode, owner and time count too.
    var root: Entry?

    init(_ root: FilePath) throws {
        self.root = try Self.entry(at: root.string)
        guard let walker = FileManager.default.enumerator(atPath: root.string) else { return }
        while let relative = walker.nextObject() as? String {
            entries[relative] = try Self.entry(at: root.appending(relative).string)
        }
    }

    private static func entry(at path: String) throws -> Entry {
        let manager = FileManager.default
        let attributes = try manager.attributesOfItem(atPath: path)
        let type = attributes[.type] as? FileAttributeType
        var entry = Entry(
            type: type?.rawValue ?? "?", mode: (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1,
            owner: (attributes[.ownerAccountID] as? NSNumber)?.intValue ?? -1,
            group: (attributes[.groupOwnerAccountID] as? NSNumber)?.intValue ?? -1,
            modified: attributes[.modificationDate] as? Date)
        if type == .typeRegular { entry.content = try Data(contentsOf: URL(fileURLWithPath: path)) }
        if type == .typeSymbolicLink { entry.target = try manager.destinationOfSymbolicLink(atPath: path) }
        return entry
    }
}
