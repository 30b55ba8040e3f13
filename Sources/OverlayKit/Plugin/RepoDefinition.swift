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

    public init(id: String, name: String, baseURLs: [String], enabledInFile: Bool = true, gpgcheck: Bool = false, gpgKeys: [String] = [],
                gpgKeyOrigin: String? = nil, moduleHotfixes: Bool = false, origin: String) {
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
        var current: (id: String, line: Int, values: [String: String], lines: [String: Int])?
        var lastKey: String?
        var inMain = false

        func finish() throws(PluginError) {
            guard let section = current else { return }
            let origin = "\(file):\(section.line)"
            if section.values["baseurl"] == nil, let key = ["mirrorlist", "metalink"].first(where: { section.values[$0] != nil }) {
                throw .invalidRepoFile("\(origin): repo \"\(section.id)\" has only a \(key), which overlay does not support; pick a mirror and give its URL as baseurl=https://mirror.example/path")
            }
            guard let base = section.values["baseurl"] else {
                throw .invalidRepoFile("\(origin): repo \"\(section.id)\" has no baseurl; add baseurl=file:///path or http://host/path")
            }
            let urls = try Self.urlList(base, key: "baseurl", origin: origin, repo: section.id, arch: arch)
            guard !urls.isEmpty else {
                throw .invalidRepoFile("\(origin): repo \"\(section.id)\" has an empty baseurl; write baseurl=file:///path or baseurl=https://host/path")
            }
            let keyOrigin = section.lines["gpgkey"].map { "\(file):\($0)" }
            var keys: [String] = []
            if let text = section.values["gpgkey"] {
                keys = try Self.urlList(text, key: "gpgkey", origin: keyOrigin ?? origin, repo: section.id, arch: arch)
            }
            var gpgcheck = !keys.isEmpty
            if let text = section.values["gpgcheck"] {
                guard let value = Self.bool(text) else {
                    let line = section.lines["gpgcheck"].map { "\(file):\($0)" } ?? origin
                    throw .invalidRepoFile("\(line): repo \"\(section.id)\" gpgcheck=\(text) is not a yes/no value; write gpgcheck=1 or gpgcheck=0")
                }
                gpgcheck = value
            }
            repos.append(RepoDefinition(id: section.id, name: section.values["name"] ?? section.id, baseURLs: urls,
                                        enabledInFile: Self.bool(section.values["enabled"]) ?? true, gpgcheck: gpgcheck,
                                        gpgKeys: keys, gpgKeyOrigin: keyOrigin,
                                        moduleHotfixes: Self.bool(section.values["module_hotfixes"]) ?? false, origin: origin))
        }

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
                try finish()
                let id = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                guard !id.isEmpty else {
                    throw .invalidRepoFile("\(file):\(lineNumber): section header \"\(trimmed)\" names no repo; write [repo-id]")
                }
                guard PluginManifest.isValidName(id) || id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
                    throw .invalidRepoFile("\(file):\(lineNumber): repo id \"\(id)\" may hold only letters, digits, '-', '_', '.' and ':'; rename the section")
                }
                if id == "main" {
                    current = nil  // dnf's global options: nothing overlay uses
                    inMain = true
                    lastKey = nil
                    continue
                }
                if let other = repos.first(where: { $0.id == id }) {
                    throw .invalidRepoFile("\(file):\(lineNumber): repo id \"\(id)\" is already defined at \(other.origin); give each repo an id of its own")
                }
                current = (id, lineNumber, [:], [:])
                inMain = false
                continue
            }
            if raw.first == " " || raw.first == "\t", let key = lastKey, current != nil {
                current?.values[key, default: ""] += "\n" + trimmed  // continuation line
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw .invalidRepoFile("\(file):\(lineNumber): expected key=value or [repo-id], found \"\(trimmed)\"; fix the line or start it with # to make it a comment")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if current == nil {
                // dnf refuses a key before any section header; in [main] it is a global option overlay does not use.
                guard inMain else {
                    throw .invalidRepoFile("\(file):\(lineNumber): \"\(key)\" stands before any [repo-id] section; start the repo with a line such as [myrepo] above it")
                }
                lastKey = nil
                continue
            }
            current?.values[key] = value
            current?.lines[key] = lineNumber
            lastKey = key
        }
        try finish()
        return repos
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
                throw .invalidRepoFile("\(origin): repo \"\(repo)\" \(key) \"\(url)\" is not a file://, http:// or https:// URL; write an absolute URL such as file:///srv/repo or https://host/path")
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
