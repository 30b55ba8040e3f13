#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemPackage

/// A plugin's `blacklist`: absolute path globs whose matches are dropped from its delta before packing.
/// `*`, `?` and `[...]` match within one path component (fnmatch); `**` matches any number of components.
public struct Blacklist: Sendable {
    public let globs: [String]

    public init(_ globs: [String]) {
        self.globs = globs
    }

    /// Whether an absolute path (`/usr/share/doc/x/README`) matches any glob.
    public func matches(_ path: String) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        return globs.contains { glob in
            Self.match(glob.split(separator: "/").map(String.init)[...], components[...])
        }
    }

    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var tail = path
            while true {
                if match(rest, tail) { return true }
                guard !tail.isEmpty else { return false }
                tail = tail.dropFirst()
            }
        }
        guard let component = path.first, fnmatch(head, component, 0) == 0 else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// Removes every match under `root` (a delta tree, whose paths are taken as absolute from it) and the
    /// directories left empty by that. Returns the absolute paths of the removed files and links, sorted.
    public func apply(to root: FilePath) throws -> [String] {
        guard !globs.isEmpty else { return [] }
        var removed: [String] = []
        _ = try prune(root, relative: "", removed: &removed)
        return removed.sorted()
    }

    /// Returns whether `directory` lost entries and is now empty.
    private func prune(_ directory: FilePath, relative: String, removed: inout [String]) throws -> Bool {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.string).sorted()
        var lostAny = false
        var left = names.count
        for name in names {
            let path = directory.appending(name)
            let absolute = relative + "/" + name
            var info = stat()
            guard lstat(path.string, &info) == 0 else { continue }
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            if matches(absolute) {
                if isDirectory {
                    removed += try files(under: path, absolute: absolute)
                } else {
                    removed.append(absolute)
                }
                try FileManager.default.removeItem(atPath: path.string)
                lostAny = true
                left -= 1
            } else if isDirectory, try prune(path, relative: absolute, removed: &removed) {
                try FileManager.default.removeItem(atPath: path.string)
                lostAny = true
                left -= 1
            }
        }
        return lostAny && left == 0
    }

    private func files(under directory: FilePath, absolute: String) throws -> [String] {
        var result: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.string) {
            let path = directory.appending(name)
            var info = stat()
            guard lstat(path.string, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                result += try files(under: path, absolute: absolute + "/" + name)
            } else {
                result.append(absolute + "/" + name)
            }
        }
        return result
    }
}
