import Foundation

/// One `[id]` section of a dnf/yum `.repo` file.
public struct RepoDefinition: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `file://` or `http(s)://` URLs of the repo's root (the directory holding `repodata/`).
    public var baseURLs: [String]
    /// What the file says; overlay ignores it and enables a repo only when `--enablerepo` names it.
    public var enabledInFile: Bool
    /// Whether every package of the repo must be signed by one of its keys: `gpgcheck=1`, or a `gpgkey=`
    /// without any `gpgcheck` line.
    public var gpgcheck: Bool
    /// `gpgkey=`: `file://` or `http(s)://` URLs of the public keys the repo's packages are signed with.
    public var gpgKeys: [String]
    /// Where `gpgkey=` is: `file:line`.
    public var gpgKeyOrigin: String?
    /// `module_hotfixes=1`: the repo's packages are never hidden by module streams (dnf's meaning).
    public var moduleHotfixes: Bool
    /// Where it was defined: `file:line`.
    public var origin: String

    public init(
        id: String, name: String, baseURLs: [String], enabledInFile: Bool = true, gpgcheck: Bool = false, gpgKeys: [String] = [],
        gpgKeyOrigin: String? = nil, moduleHotfixes: Bool = false, origin: String
    ) {
        self.id = id
        self.name = name
        self.baseURLs = baseURLs
        self.enabledInFile = enabledInFile
        self.gpgcheck = gpgcheck
        self.gpgKeys = gpgKeys
        self.gpgKeyOrigin = gpgKeyOrigin
        self.moduleHotfixes = moduleHotfixes
        self.origin = origin
    }

    /// Parses a `.repo` file the way dnf reads it: INI sections, `key=value`, `#`/`;` comments, continuation
    /// lines for `baseurl` and `gpgkey`. `baseurl` and `gpgkey` hold URLs separated by whitespace or commas.
    /// `$basearch` and `$arch` are replaced with `arch`.
    public static func parse(_ text: String, file: String, arch: String) throws(PluginError) -> [RepoDefinition] {
        var repos: [RepoDefinition] = []
        var current: Section?
        var lastKey: String?
        var inMain = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") {
                continue
            }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
                    throw .invalidRepoFile("\(file):\(lineNumber): malformed section header \"\(trimmed)\"; write [repo-id]")
                }
                if let section = current { repos.append(try section.definition(file: file, arch: arch)) }
                let id = try sectionID(trimmed, at: "\(file):\(lineNumber)")
                lastKey = nil
                inMain = id == "main"  // dnf's global options: nothing overlay uses
                current = nil
                if inMain { continue }
                if let other = repos.first(where: { $0.id == id }) {
                    throw .invalidRepoFile("\(file):\(lineNumber): repo id \"\(id)\" is already defined at \(other.origin); give each repo an id of its own")
                }
                current = Section(id: id, line: lineNumber)
                continue
            }
            if raw.first == " " || raw.first == "\t", let key = lastKey, current != nil {
                current?.values[key, default: ""] += "\n" + trimmed  // continuation line
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw .invalidRepoFile(
                    "\(file):\(lineNumber): expected key=value or [repo-id], found \"\(trimmed)\"; fix the line or start it with # to make it a comment")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if current == nil {
                // dnf refuses a key before any section header; in [main] it is a global option overlay does not use.
                guard inMain else {
                    throw .invalidRepoFile(
                        "\(file):\(lineNumber): \"\(key)\" stands before any [repo-id] section; start the repo with a line such as [myrepo] above it")
                }
                lastKey = nil
                continue
            }
            current?.values[key] = value
            current?.lines[key] = lineNumber
            lastKey = key
        }
        if let section = current { repos.append(try section.definition(file: file, arch: arch)) }
        return repos
    }

    /// The repo id of a section header line (`[id]`), checked.
    private static func sectionID(_ header: String, at location: String) throws(PluginError) -> String {
        let id = String(header.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
        guard !id.isEmpty else {
            throw .invalidRepoFile("\(location): section header \"\(header)\" names no repo; write [repo-id]")
        }
        guard PluginManifest.isValidName(id) || id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
            throw .invalidRepoFile("\(location): repo id \"\(id)\" may hold only letters, digits, '-', '_', '.' and ':'; rename the section")
        }
        return id
    }

    /// One `[id]` section as read: its values (continuation lines joined) and the line each key is on.
    private struct Section {
        var id: String
        var line: Int
        var values: [String: String] = [:]
        var lines: [String: Int] = [:]

        func definition(file: String, arch: String) throws(PluginError) -> RepoDefinition {
            let origin = "\(file):\(line)"
            if values["baseurl"] == nil, let key = ["mirrorlist", "metalink"].first(where: { values[$0] != nil }) {
                throw .invalidRepoFile(
                    "\(origin): repo \"\(id)\" has only a \(key), which overlay does not support; pick a mirror and give its URL as baseurl=https://mirror.example/path"
                )
            }
            guard let base = values["baseurl"] else {
                throw .invalidRepoFile("\(origin): repo \"\(id)\" has no baseurl; add baseurl=file:///path or http://host/path")
            }
            let urls = try RepoDefinition.urlList(base, key: "baseurl", origin: origin, repo: id, arch: arch)
            guard !urls.isEmpty else {
                throw .invalidRepoFile("\(origin): repo \"\(id)\" has an empty baseurl; write baseurl=file:///path or baseurl=https://host/path")
            }
            let keyOrigin = lines["gpgkey"].map { "\(file):\($0)" }
            var keys: [String] = []
            if let text = values["gpgkey"] {
                keys = try RepoDefinition.urlList(text, key: "gpgkey", origin: keyOrigin ?? origin, repo: id, arch: arch)
            }
            var gpgcheck = !keys.isEmpty
            if let text = values["gpgcheck"] {
                guard let value = RepoDefinition.bool(text) else {
                    let location = lines["gpgcheck"].map { "\(file):\($0)" } ?? origin
                    throw .invalidRepoFile("\(location): repo \"\(id)\" gpgcheck=\(text) is not a yes/no value; write gpgcheck=1 or gpgcheck=0")
                }
                gpgcheck = value
            }
            return RepoDefinition(
                id: id, name: values["name"] ?? id, baseURLs: urls, enabledInFile: RepoDefinition.bool(values["enabled"]) ?? true,
                gpgcheck: gpgcheck, gpgKeys: keys, gpgKeyOrigin: keyOrigin,
                moduleHotfixes: RepoDefinition.bool(values["module_hotfixes"]) ?? false, origin: origin)
        }
    }

    /// The URLs of a `baseurl` or `gpgkey` value, with `$basearch` and `$arch` expanded.
    private static func urlList(_ text: String, key: String, origin: String, repo: String, arch: String) throws(PluginError) -> [String] {
        var urls: [String] = []
        for raw in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" }) {
            let url = raw.replacingOccurrences(of: "$basearch", with: arch).replacingOccurrences(of: "$arch", with: arch)
            if let variable = url.range(of: #"\$[A-Za-z_]+"#, options: .regularExpression) {
                throw .invalidRepoFile("\(origin): repo \"\(repo)\" \(key) uses \(url[variable]), which overlay does not expand; write the value out")
            }
            guard url.hasPrefix("file://") || url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw .invalidRepoFile(
                    "\(origin): repo \"\(repo)\" \(key) \"\(url)\" is not a file://, http:// or https:// URL; write an absolute URL such as file:///srv/repo or https://host/path"
                )
            }
            urls.append(url)
        }
        return urls
    }

    static func bool(_ value: String?) -> Bool? {
        switch value?.lowercased() {
        case "1", "yes", "true", "on": true
        case "0", "no", "false", "off": false
        default: nil
        }
    }
}
