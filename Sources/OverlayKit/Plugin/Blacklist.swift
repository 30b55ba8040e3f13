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

    /// Why `glob` cannot be a blacklist entry, as the end of a sentence naming it, or nil when it can.
    static func problem(with glob: String) -> String? {
        guard glob.hasPrefix("/") else { return "must be an absolute path glob such as \"/usr/share/doc/**\"" }
        for component in glob.split(separator: "/") {
            if component == "." || component == ".." {
                return "contains \"\(component)\"; write the path without . and .. components"
            }
            if component.contains("**") && component != "**" {
                return "has ** inside a path component; ** stands for whole components only, as in \"/usr/share/**/*.txt\""
            }
            if let open = unclosedBracket(in: Substring(component)) {
                return "has a \"[\" without its \"]\" in \"\(open)\"; close the bracket, or write \\[ for a literal ["
            }
        }
        return nil
    }

    /// The component when it holds a `[` that fnmatch would not close within it (a `]` right after `[` or
    /// `[!` is a member, not the end); `\[` is a literal bracket.
    private static func unclosedBracket(in component: Substring) -> Substring? {
        var index = component.startIndex
        while index < component.endIndex {
            let character = component[index]
            if character == "\\" {
                index = component.index(after: index)
                if index < component.endIndex { index = component.index(after: index) }
                continue
            }
            if character == "[" {
                var end = component.index(after: index)
                if end < component.endIndex, component[end] == "!" || component[end] == "^" { end = component.index(after: end) }
                if end < component.endIndex, component[end] == "]" { end = component.index(after: end) }
                guard let close = component[end...].firstIndex(of: "]") else { return component }
                index = component.index(after: close)
                continue
            }
            index = component.index(after: index)
        }
        return nil
    }

    /// Whether an absolute path (`/usr/share/doc/x/README`) matches any glob.
    public func matches(_ path: String) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        return globs.contains { glob in
            Self.match(glob.split(separator: "/").map(String.init), components)
        }
    }

    /// Whether the path's components match the pattern's, working back from the ends: `suffix[j]` says whether
    /// the pattern from the current component on matches `path[j...]`. A glob costs at most one fnmatch per pattern
    /// and path component, however many `**` it holds (trying each split for each `**` in turn would take
    /// exponential time: `/**/**/**/**/**/**/**/b` against a deep path would never finish).
    private static func match(_ pattern: [String], _ path: [String]) -> Bool {
        var suffix = [Bool](repeating: false, count: path.count + 1)
        suffix[path.count] = true  // the empty pattern matches the empty path
        for component in pattern.reversed() {
            var current = [Bool](repeating: false, count: path.count + 1)
            if component == "**" {
                // `**` takes no component (the rest matches here) or one more (it matches from the next).
                for j in stride(from: path.count, through: 0, by: -1) {
                    current[j] = suffix[j] || (j < path.count && current[j + 1])
                }
            } else {
                for j in 0..<path.count {
                    current[j] = suffix[j + 1] && fnmatch(component, path[j], 0) == 0
                }
            }
            suffix = current
        }
        return suffix[0]
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
