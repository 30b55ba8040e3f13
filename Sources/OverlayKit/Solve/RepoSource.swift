import Foundation
import SystemPackage

/// A repo to solve against: a plugin's bundled `rpms/` or a repo from its `.repo` files.
public struct RepoSource: Sendable, Equatable {
    public var id: String
    /// Base URLs in the order to try (`file://` or `http(s)://`), without a trailing slash.
    public var baseURLs: [String]
    /// `module_hotfixes=1` in its .repo file: module streams never hide its packages.
    public var moduleHotfixes: Bool

    public init(id: String, baseURLs: [String], moduleHotfixes: Bool = false) {
        self.id = id
        self.baseURLs = baseURLs.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.moduleHotfixes = moduleHotfixes
    }

    /// The bundled repo of a plugin directory.
    public init(id: String, directory: FilePath) {
        self.init(id: id, baseURLs: ["file://" + directory.string])
    }

    public init(_ definition: RepoDefinition) {
        self.init(id: definition.id, baseURLs: definition.baseURLs, moduleHotfixes: definition.moduleHotfixes)
    }

    public var isLocal: Bool { baseURLs.allSatisfy { $0.hasPrefix("file://") } }
}
