import Foundation
import TOMLKit
import Formats

/// The contents of a plugin's `plugin.toml`.
public struct PluginManifest: Sendable, Equatable {
    /// The plugin's name: the overlay's file name, and its registry entry `etc/ovirt.plugins.d/<name>`.
    public var name: String
    public var version: String
    public var summary: String
    /// What to install: package names or capabilities (`vdsm`, `vdsm >= 4.1`, `/usr/bin/vdsm-tool`).
    public var packages: [String]
    /// Absolute path globs removed from the delta after installing (`/usr/share/doc/**`).
    public var blacklist: [String]
    /// Capabilities the base image must provide (`ovirt-node >= 3.0`).
    public var requires: [Requirement]
    /// Module streams to enable (`maven:3.8`), as `dnf module enable` would; other non-default streams' packages
    /// stay hidden.
    public var modules: [ModuleStreamName]

    public static let fileName = "plugin.toml"
    static let knownKeys: Set<String> = ["name", "version", "summary", "packages", "blacklist", "requires", "modules"]

    public init(
        name: String, version: String, summary: String = "", packages: [String], blacklist: [String] = [], requires: [Requirement] = [],
        modules: [ModuleStreamName] = []
    ) {
        self.name = name
        self.version = version
        self.summary = summary
        self.packages = packages
        self.blacklist = blacklist
        self.requires = requires
        self.modules = modules
    }

    /// Parses plugin.toml text; `file` names it in errors.
    public init(parsing text: String, file: String) throws(PluginError) {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(file: file, text: text)
        } catch {
            throw .invalidManifest(error.description)
        }
        let root = document.root
        for key in root.keys.sorted() where !Self.knownKeys.contains(key) {
            throw .invalidManifest(
                "\(document.location(ofKey: key)): unknown key \"\(key)\"; plugin.toml knows \(Self.knownKeys.sorted().joined(separator: ", ")): fix the spelling or remove it"
            )
        }
        func string(_ key: String, required: Bool) throws(PluginError) -> String? {
            guard let value = root[key] else {
                if required { throw .invalidManifest("\(file): missing \"\(key)\"; add a line such as \(key) = \"…\"") }
                return nil
            }
            guard let string = value.string else {
                throw .invalidManifest(
                    "\(document.location(ofKey: key)): \"\(key)\" must be a string such as \(key) = \"…\", not \(TOMLDocument.kind(of: value))")
            }
            return string
        }
        func strings(_ key: String, required: Bool) throws(PluginError) -> [String] {
            guard let value = root[key] else {
                if required { throw .invalidManifest("\(file): missing \"\(key)\"; add a line such as \(key) = [\"…\"]") }
                return []
            }
            guard let array = value.array else {
                throw .invalidManifest(
                    "\(document.location(ofKey: key)): \"\(key)\" must be an array of strings such as \(key) = [\"…\"], not \(TOMLDocument.kind(of: value))")
            }
            var result: [String] = []
            for (index, element) in array.enumerated() {
                guard let string = element.string else {
                    throw .invalidManifest("\(document.location(ofKey: key)): \(key)[\(index)] must be a string, not \(TOMLDocument.kind(of: element))")
                }
                guard !string.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw .invalidManifest("\(document.location(ofKey: key)): \(key)[\(index)] is an empty string; remove it or fill it in")
                }
                result.append(string.trimmingCharacters(in: .whitespaces))
            }
            return result
        }

        let name = try string("name", required: true) ?? ""
        guard Self.isValidName(name) else {
            throw .invalidManifest(
                "\(document.location(ofKey: "name")): name \"\(name)\" may hold only letters, digits, '.', '_', '+' and '-', and must not start with '.' or '-'"
            )
        }
        let version = try string("version", required: true) ?? ""
        guard Self.isValidName(version) else {
            throw .invalidManifest("\(document.location(ofKey: "version")): version \"\(version)\" may hold only letters, digits, '.', '_', '+' and '-'")
        }
        let packages = try strings("packages", required: true)
        guard !packages.isEmpty else {
            throw .invalidManifest("\(document.location(ofKey: "packages")): \"packages\" is empty; name at least one package to install")
        }
        let blacklist = try strings("blacklist", required: false)
        for glob in blacklist {
            if let problem = Blacklist.problem(with: glob) {
                throw .invalidManifest("\(document.location(ofKey: "blacklist")): blacklist entry \"\(glob)\" \(problem)")
            }
        }
        var requires: [Requirement] = []
        for text in try strings("requires", required: false) {
            do {
                requires.append(try Requirement(parsing: text))
            } catch {
                throw .invalidManifest("\(document.location(ofKey: "requires")): \(error.reason)")
            }
        }
        var modules: [ModuleStreamName] = []
        for (index, text) in try strings("modules", required: false).enumerated() {
            let location = document.location(ofElement: index, inKey: "modules")
            guard let module = ModuleStreamName(parsing: text) else {
                throw .invalidManifest("\(location): modules[\(index)] \"\(text)\" is not a module stream; write \"name:stream\", such as \"maven:3.8\"")
            }
            if let other = modules.firstIndex(where: { $0.name == module.name }) {
                throw .invalidManifest(
                    "\(location): modules[\(index)] \"\(text)\" enables a second stream of module \(module.name) (modules[\(other)] is \"\(modules[other])\"); a module has one enabled stream: keep one"
                )
            }
            modules.append(module)
        }
        self.init(
            name: name, version: version, summary: try string("summary", required: false) ?? "", packages: packages,
            blacklist: blacklist, requires: requires, modules: modules)
    }

    /// Names and versions end up in file names and registry entries: no slashes, spaces or shell characters.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != ".", first != "-", name.utf8.count <= 128 else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._+-".unicodeScalars.contains($0)) }
    }
}

/// A capability with an optional version bound, as in rpm: `ovirt-node >= 3.0`, `kernel`, `glibc = 2.34-60.el9`.
public struct Requirement: Sendable, Equatable, CustomStringConvertible {
    public enum Relation: String, Sendable, CaseIterable {
        case less = "<", lessOrEqual = "<=", equal = "=", greaterOrEqual = ">=", greater = ">"
    }
    public var name: String
    public var relation: Relation?
    public var version: String?

    public init(name: String, relation: Relation? = nil, version: String? = nil) {
        self.name = name
        self.relation = relation
        self.version = version
    }

    public struct ParseError: Error { public let reason: String }

    /// Parses `name [op version]`; `==` is taken as `=`.
    public init(parsing text: String) throws(ParseError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        switch words.count {
        case 1:
            self.init(name: words[0])
        case 3:
            let op = words[1] == "==" ? "=" : words[1]
            guard let relation = Relation(rawValue: op) else {
                throw ParseError(reason: "requirement \"\(text)\" has an unknown operator \"\(words[1])\"; use one of < <= = >= >")
            }
            self.init(name: words[0], relation: relation, version: words[2])
        default:
            throw ParseError(reason: "requirement \"\(text)\" is not of the form \"name\" or \"name >= version\"")
        }
    }

    public var description: String {
        guard let relation, let version else { return name }
        return "\(name) \(relation.rawValue) \(version)"
    }
}
