import Foundation

/// One `[id]` section of a dnf/yum `.repo` file.
public struct RepoDefinition: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `file://` or `http(s)://` URLs of the repo's root (the directory holding `repodata/`).
    public var baseURLs: [String]
    /// What the file says; overlay ignores it and enables a repo only when `--enablerepo` names it.
    public var enabledInFile: Bool
    public var gpgcheck: Bool
    /// Where it was defined: `file:line`.
    public var origin: String

    public init(id: String, name: String, baseURLs: [String], enabledInFile: Bool = true, gpgcheck: Bool = false, origin: String) {
        self.id = id
        self.name = name
        self.baseURLs = baseURLs
        self.enabledInFile = enabledInFile
        self.gpgcheck = gpgcheck
        self.origin = origin
    }

    /// Parses a `.repo` file the way dnf reads it: INI sections, `key=value`, `#`/`;` comments, continuation
    /// lines for `baseurl`. `$basearch` and `$arch` are replaced with `arch`.
    public static func parse(_ text: String, file: String, arch: String) throws(PluginError) -> [RepoDefinition] {
        var repos: [RepoDefinition] = []
        var current: (id: String, line: Int, values: [String: String])?
        var lastKey: String?

        func finish() throws(PluginError) {
            guard let section = current else { return }
            let origin = "\(file):\(section.line)"
            if section.values["mirrorlist"] != nil || section.values["metalink"] != nil, section.values["baseurl"] == nil {
                throw .invalidRepoFile("\(origin): repo \"\(section.id)\" has only a mirrorlist/metalink; give it a baseurl")
            }
            guard let base = section.values["baseurl"] else {
                throw .invalidRepoFile("\(origin): repo \"\(section.id)\" has no baseurl; add baseurl=file:///path or http://host/path")
            }
            var urls: [String] = []
            for raw in base.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" }) {
                let url = raw.replacingOccurrences(of: "$basearch", with: arch).replacingOccurrences(of: "$arch", with: arch)
                if let variable = url.range(of: #"\$[A-Za-z_]+"#, options: .regularExpression) {
                    throw .invalidRepoFile("\(origin): repo \"\(section.id)\" baseurl uses \(url[variable]), which overlay does not expand; write the value out")
                }
                guard url.hasPrefix("file://") || url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    throw .invalidRepoFile("\(origin): repo \"\(section.id)\" baseurl \"\(url)\" is not a file://, http:// or https:// URL")
                }
                urls.append(url)
            }
            guard !urls.isEmpty else {
                throw .invalidRepoFile("\(origin): repo \"\(section.id)\" has an empty baseurl")
            }
            repos.append(RepoDefinition(id: section.id, name: section.values["name"] ?? section.id, baseURLs: urls,
                                        enabledInFile: Self.bool(section.values["enabled"]) ?? true,
                                        gpgcheck: Self.bool(section.values["gpgcheck"]) ?? false, origin: origin))
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
                    throw .invalidRepoFile("\(file):\(lineNumber): repo id \"\(id)\" may hold only letters, digits and -_.:")
                }
                if id == "main" {
                    current = nil  // dnf's global options: nothing overlay uses
                    lastKey = nil
                    continue
                }
                if repos.contains(where: { $0.id == id }) {
                    throw .invalidRepoFile("\(file):\(lineNumber): repo id \"\(id)\" is defined twice")
                }
                current = (id, lineNumber, [:])
                continue
            }
            if raw.first == " " || raw.first == "\t", let key = lastKey, current != nil {
                current?.values[key, default: ""] += "\n" + trimmed  // continuation line
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw .invalidRepoFile("\(file):\(lineNumber): expected key=value, found \"\(trimmed)\"")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if current == nil {
                // Keys before any section, or in [main].
                lastKey = nil
                continue
            }
            current?.values[key] = value
            lastKey = key
        }
        try finish()
        return repos
    }

    static func bool(_ value: String?) -> Bool? {
        switch value?.lowercased() {
        case "1", "yes", "true", "on": true
        case "0", "no", "false", "off": false
        default: nil
        }
    }
}
