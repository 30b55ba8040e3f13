/// The safety rules for a plugin bundle's entries, applied to every header before anything is extracted:
/// no absolute paths, no ".." components, no device nodes, FIFOs or sockets, symlinks that point inside the
/// bundle without passing through other symlinks, hardlinks only to regular files already in the bundle,
/// no path used twice (except a directory), and nothing stored below a symlink.
struct PluginBundleCheck {
    enum Kind: Sendable { case file, directory, symlink, hardlink }

    /// One entry as it will be extracted: its normalized relative path and what it is.
    struct Checked: Equatable, Sendable {
        let path: String
        let kind: Kind
        /// The hardlink's target path (normalized), or the symlink's target as stored.
        let target: String?
    }

    private(set) var entries: [Checked] = []
    private var kinds: [String: Kind] = [:]
    private var symlinks: Set<String> = []

    /// Checks one header; returns nil for the bundle's root ("." or "./"), which is not extracted.
    mutating func check(_ header: ArchiveEntry) throws(PluginBundleCheck.Refusal) -> Checked? {
        let components = try Self.components(of: header.pathname)
        if components.isEmpty { return nil }
        let path = components.joined(separator: "/")
        let kind: Kind
        var target: String? = nil
        if let link = header.hardlink {
            let linked: [String]
            do { linked = try Self.components(of: link) } catch {
                throw Refusal("is a hardlink to \"\(link)\", outside the bundle")
            }
            let linkedPath = linked.joined(separator: "/")
            guard !linked.isEmpty, kinds[linkedPath] == .file || kinds[linkedPath] == .hardlink else {
                throw Refusal("is a hardlink to \"\(link)\", which is not a file stored earlier in the bundle")
            }
            kind = .hardlink
            target = linkedPath
        } else {
            switch header.kind {
            case .file, .hardlink: kind = .file  // a hardlink without a target is not read as one
            case .directory: kind = .directory
            case .symlink:
                kind = .symlink
                target = header.symlink ?? ""
                try Self.checkSymlink(at: components, to: target ?? "")
            case .characterDevice: throw Refusal("is a character device")
            case .blockDevice: throw Refusal("is a block device")
            case .fifo: throw Refusal("is a FIFO")
            case .socket: throw Refusal("is a socket")
            case .unknown: throw Refusal("has an unknown file type")
            }
        }
        if let earlier = kinds[path], !(earlier == .directory && kind == .directory) {
            throw Refusal("appears twice in the bundle")
        }
        kinds[path] = kind
        if kind == .symlink { symlinks.insert(path) }
        let checked = Checked(path: path, kind: kind, target: target)
        entries.append(checked)
        return checked
    }

    /// After every header was checked: nothing may be stored below a symlink (in any order), and no
    /// symlink may lead through another symlink.
    func checkSymlinkPrefixes() throws(PluginBundleCheck.Refusal) {
        for entry in entries {
            var prefix = ""
            for component in entry.path.split(separator: "/").dropLast() {
                prefix = prefix.isEmpty ? String(component) : prefix + "/" + component
                if symlinks.contains(prefix) {
                    throw Refusal("lies below the symlink \"\(prefix)\"", entry: entry.path)
                }
            }
            if entry.kind == .symlink, let target = entry.target {
                var resolved = Array(entry.path.split(separator: "/").dropLast().map(String.init))
                let steps = target.split(separator: "/").map(String.init)
                for (index, step) in steps.enumerated() where step != "." && !step.isEmpty {
                    if step == ".." {
                        _ = resolved.popLast()
                        continue
                    }
                    resolved.append(step)
                    if index < steps.count - 1, symlinks.contains(resolved.joined(separator: "/")) {
                        throw Refusal("is a symlink to \"\(target)\", which passes through another symlink", entry: entry.path)
                    }
                }
            }
        }
    }

    /// A path's components without "." and empty ones; refuses absolute paths and "..".
    static func components(of path: String) throws(PluginBundleCheck.Refusal) -> [String] {
        if path.hasPrefix("/") { throw Refusal("has an absolute path") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        if parts.contains("..") { throw Refusal("has a \"..\" component") }
        return parts
    }

    /// A symlink's target, resolved from the link's directory without touching the disk, must stay inside.
    static func checkSymlink(at components: [String], to target: String) throws(PluginBundleCheck.Refusal) {
        if target.isEmpty { throw Refusal("is a symlink with an empty target") }
        if target.hasPrefix("/") { throw Refusal("is a symlink to the absolute path \"\(target)\"") }
        var depth = components.count - 1
        for step in target.split(separator: "/") where step != "." {
            depth += step == ".." ? -1 : 1
            if depth < 0 { throw Refusal("is a symlink to \"\(target)\", outside the bundle") }
        }
    }

    /// Why an entry was refused, and which entry (when not the one being checked).
    struct Refusal: Error {
        let reason: String
        var entry: String?
        init(_ reason: String, entry: String? = nil) {
            self.reason = reason
            self.entry = entry
        }
    }
}
