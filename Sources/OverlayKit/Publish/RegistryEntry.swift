import Posix
/// A plugin's entry in the node's plugin registry, the file `/etc/ovirt.plugins.d/<name>` every overlay
/// carries: os-release style `KEY="value"` lines that a shell can source and a node can list.
///
/// ```
/// NAME="vdsm"
/// VERSION="1.0"
/// SUMMARY="Virtual Desktop Server Manager"
/// PACKAGES="vdsm-1.0-1.noarch python3-libvirt-9.0-1.x86_64"
/// BASE="sha256:…"
/// ```
public struct RegistryEntry: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    public var summary: String
    /// Installed packages as `name-[epoch:]version-release.arch`.
    public var packages: [String]
    /// The base image the plugin was built against, e.g. `sha256:<digest>`.
    public var base: String

    public init(name: String, version: String, summary: String, packages: [String], base: String) {
        self.name = name
        self.version = version
        self.summary = summary
        self.packages = packages
        self.base = base
    }

    /// The directory inside an overlay that holds registry entries, without a leading "/".
    public static let directory = "etc/ovirt.plugins.d"

    /// The entry as file text: one `KEY="value"` line per field, values double-quoted with `\`, `"`, `$` and
    /// `` ` `` escaped (os-release rules). Line breaks in a value become spaces: the format is one line per key.
    public func rendered() -> String {
        [
            ("NAME", name), ("VERSION", version), ("SUMMARY", summary),
            ("PACKAGES", packages.joined(separator: " ")), ("BASE", base),
        ].map { "\($0.0)=\(Self.quoted($0.1))\n" }.joined()
    }

    /// Parses entry text. `source` names where it came from (a file path) for error messages.
    /// NAME and VERSION are required; SUMMARY, PACKAGES and BASE may be missing (empty).
    public static func parse(_ text: String, source: String) throws -> RegistryEntry {
        try parse(fields: Self.fields(text, source: source), source: source)
    }

    /// Builds an entry from already parsed `KEY=value` pairs (see `fields(_:source:)`).
    public static func parse(fields: [String: String], source: String) throws -> RegistryEntry {
        guard let name = fields["NAME"], !name.isEmpty else { throw RegistryEntryError.missingKey(source: source, key: "NAME") }
        guard let version = fields["VERSION"], !version.isEmpty else { throw RegistryEntryError.missingKey(source: source, key: "VERSION") }
        return RegistryEntry(
            name: name, version: version, summary: fields["SUMMARY"] ?? "",
            packages: (fields["PACKAGES"] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init),
            base: fields["BASE"] ?? "")
    }

    /// Parses os-release style text into its `KEY=value` pairs: blank lines and `#` comments are skipped,
    /// values may be bare, 'single-quoted' (literal) or "double-quoted" (with backslash escapes).
    public static func fields(_ text: String, source: String) throws -> [String: String] {
        var fields: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="), isKey(line[..<equals]) else {
                throw RegistryEntryError.malformedLine(source: source, line: number, text: String(rawLine))
            }
            fields[String(line[..<equals])] = try value(line[line.index(after: equals)...], source: source, line: number)
        }
        return fields
    }

    private static func isKey(_ key: Substring) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return key.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// Reads the value scalar by scalar, as a shell does: a quote followed by a combining mark still ends the value.
    private static func value(_ raw: Substring, source: String, line: Int) throws -> String {
        var scalars = raw.unicodeScalars.makeIterator()
        var result = String.UnicodeScalarView()
        guard let opening = raw.unicodeScalars.first, opening == "\"" || opening == "'" else {
            return String(raw).trimmingTrailingBlanks()
        }
        _ = scalars.next()
        var closed = false
        while let c = scalars.next() {
            if c == opening {
                closed = true
                break
            }
            if opening == "\"" && c == "\\" {
                guard let escaped = scalars.next() else { break }
                if !["\\", "\"", "$", "`"].contains(escaped) { result.append("\\") }
                result.append(escaped)
            } else {
                result.append(c)
            }
        }
        guard closed else { throw RegistryEntryError.unterminatedQuote(source: source, line: line) }
        var rest = String.UnicodeScalarView()
        while let c = scalars.next() { rest.append(c) }
        guard String(rest).trimmingTrailingBlanks().isEmpty else {
            throw RegistryEntryError.malformedLine(source: source, line: line, text: String(raw))
        }
        return String(result)
    }

    /// Escapes scalar by scalar, as a shell reads the file: escaping by Character would let a quote, `$` or a
    /// backquote through unescaped when a combining mark follows it (`"` + U+0301 is one Character).
    static func quoted(_ value: String) -> String {
        var out = String.UnicodeScalarView()
        out.append("\"")
        var previous: Unicode.Scalar?
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\", "\"", "$", "`":
                out.append("\\")
                out.append(scalar)
            case "\n" where previous == "\r":
                break  // CR LF is one line break: one space
            case "\n", "\r":
                out.append(" ")
            default:
                out.append(scalar)
            }
            previous = scalar
        }
        out.append("\"")
        return String(out)
    }
}

/// Why a registry entry could not be read.
public enum RegistryEntryError: UserError, Sendable, Equatable {
    case malformedLine(source: String, line: Int, text: String)
    case unterminatedQuote(source: String, line: Int)
    case missingKey(source: String, key: String)
    case unreadable(source: String)

    public var description: String {
        switch self {
        case .malformedLine(let source, let line, let text):
            return "\(source):\(line): expected KEY=\"value\", found \"\(text)\""
        case .unterminatedQuote(let source, let line):
            return "\(source):\(line): the quoted value has no closing quote"
        case .missingKey(let source, let key):
            return "\(source) has no \(key)=\"...\" line: every plugin registry entry needs one"
        case .unreadable(let source):
            return "cannot read \(source) as UTF-8 text: a plugin registry entry holds KEY=\"value\" lines"
        }
    }
}

extension String {
    fileprivate func trimmingTrailingBlanks() -> String {
        var copy = Substring(self)
        while let last = copy.last, last == " " || last == "\t" || last == "\r" { copy.removeLast() }
        return String(copy)
    }
}
