import Foundation
import SystemPackage

extension RegistryEntry {
    /// The registry entries under a node's root, sorted by name. A malformed entry is an error naming its file.
    public static func installed(under root: FilePath) throws -> [RegistryEntry] {
        let directory = root.appending(Self.directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.string, isDirectory: &isDirectory), isDirectory.boolValue else {
            return []
        }
        var entries: [RegistryEntry] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.string).sorted() where !name.hasPrefix(".") {
            let path = directory.appending(name)
            let text: String
            do {
                text = try String(contentsOfFile: path.string, encoding: .utf8)
            } catch {
                throw RegistryEntryError.unreadable(source: path.string)
            }
            entries.append(try parse(text, source: path.string))
        }
        return entries.sorted { $0.name < $1.name }
    }
}
