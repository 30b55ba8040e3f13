import SystemPackage
import TOMLKit
import Formats

/// fleet.toml as written, checked for shape (known keys, value types, MAC syntax, role references) but not yet
/// against the served directory.
struct FleetFile {
    struct Base {
        var kernel: String?
        var initrds: [String]
        var cmdline: String
    }

    struct Role {
        var name: String
        var plugins: [String]
        var cmdline: String
        /// `wins`: plugins whose files win over the other overlays' at the same path, first one first.
        var wins: [String]
        var limits: SizeLimits
    }

    struct Node {
        var mac: MACAddress
        var role: String
        var cmdline: String
        /// `nodes[3]`, for messages.
        var key: String
    }

    var base: Base
    /// Sorted by name.
    var roles: [Role]
    var nodes: [Node]
    var defaultRole: String?
    /// `[defaults] max_initrd` and `max_unpacked`, for roles that set neither.
    var defaultLimits: SizeLimits

    static func parse(_ text: String, file: FilePath) throws(FleetError) -> FleetFile {
        let document: TOMLTable
        do {
            document = try TOMLText.parse(text)
        } catch {
            throw .syntax(file: file, line: error.line, column: error.column, reason: error.reason)
        }
        let reader = Reader(file: file)
        try reader.checkKeys(document, at: "", allowed: ["base", "roles", "nodes", "defaults"])
        let base = try parseBase(document, reader)
        let roles = try parseRoles(document, reader)
        let defaultRole = try parseDefaultRole(document, roles: roles.map(\.name), reader)
        let defaultLimits =
            try reader.table(document, "defaults", at: "").map { table throws(FleetError) in try reader.limits(table, at: "defaults") } ?? SizeLimits()
        let nodes = try parseNodes(document, roles: roles.map(\.name), defaultRole: defaultRole, reader)
        return FleetFile(base: base, roles: roles, nodes: nodes, defaultRole: defaultRole, defaultLimits: defaultLimits)
    }

    /// `[base]`: the kernel, the base initrds and the command line every node starts from.
    private static func parseBase(_ document: TOMLTable, _ reader: Reader) throws(FleetError) -> Base {
        let file = reader.file
        guard let baseTable = try reader.table(document, "base", at: "") else {
            throw .missingKey(file: file, key: "[base]", hint: "add a [base] table with the kernel and initrd the nodes boot")
        }
        try reader.checkKeys(baseTable, at: "base", allowed: ["kernel", "initrd", "cmdline"])
        guard let initrds = try reader.strings(baseTable, "initrd", at: "base") else {
            throw .missingKey(file: file, key: "base.initrd", hint: "list the base initrd files, for example initrd = [\"base.cpio.zst\"]")
        }
        if initrds.isEmpty {
            throw .invalidValue(
                file: file, key: "base.initrd", reason: "the list is empty", hint: "list at least the base initrd, for example initrd = [\"base.cpio.zst\"]")
        }
        return Base(
            kernel: try reader.string(baseTable, "kernel", at: "base"),
            initrds: initrds,
            cmdline: try reader.cmdline(baseTable, at: "base"))
    }

    /// `[roles.NAME]`, sorted by name.
    private static func parseRoles(_ document: TOMLTable, _ reader: Reader) throws(FleetError) -> [Role] {
        let file = reader.file
        var roles: [Role] = []
        guard let rolesTable = try reader.table(document, "roles", at: "") else { return [] }
        for name in rolesTable.keys.sorted() {
            let key = "roles.\(Reader.quoted(name))"
            guard ServedPath.isPlainName(name) else {
                throw .invalidValue(file: file, key: key, reason: "a role name may contain only letters, digits and . _ - + ~ @", hint: "rename the role")
            }
            guard let table = try reader.table(rolesTable, name, at: "roles") else { continue }
            try reader.checkKeys(table, at: key, allowed: ["plugins", "cmdline", "wins", "max_initrd", "max_unpacked"])
            let plugins = try reader.strings(table, "plugins", at: key) ?? []
            for (index, plugin) in plugins.enumerated() where plugin.isEmpty {
                throw .invalidValue(
                    file: file, key: "\(key).plugins[\(index)]", reason: "the plugin name is empty", hint: "write the plugin's name, for example \"vdsm\"")
            }
            let wins = try reader.strings(table, "wins", at: key) ?? []
            let names = plugins.map { selector in selector.split(separator: "@", maxSplits: 1).first.map(String.init) ?? selector }
            for (index, winner) in wins.enumerated() {
                guard names.contains(winner) || plugins.contains(winner) else {
                    throw .invalidValue(
                        file: file, key: "\(key).wins[\(index)]", reason: "\"\(winner)\" is not one of the role's plugins (\(plugins.joined(separator: ", ")))",
                        hint: "name a plugin the role lists, whose files should win where overlays ship the same path")
                }
                if wins[..<index].contains(winner) {
                    throw .invalidValue(file: file, key: "\(key).wins[\(index)]", reason: "\"\(winner)\" is listed twice", hint: "list each plugin once")
                }
            }
            roles.append(
                Role(name: name, plugins: plugins, cmdline: try reader.cmdline(table, at: key), wins: wins, limits: try reader.limits(table, at: key)))
        }
        return roles
    }

    /// `[defaults] role`: what a MAC not listed boots, if anything.
    private static func parseDefaultRole(_ document: TOMLTable, roles: [String], _ reader: Reader) throws(FleetError) -> String? {
        guard let defaults = try reader.table(document, "defaults", at: "") else { return nil }
        try reader.checkKeys(defaults, at: "defaults", allowed: ["role", "max_initrd", "max_unpacked"])
        guard let role = try reader.string(defaults, "role", at: "defaults") else { return nil }
        guard roles.contains(role) else { throw .unknownRole(file: reader.file, key: "defaults.role", role: role, known: roles) }
        return role
    }

    /// `[[nodes]]`, in the order written; every MAC once.
    private static func parseNodes(_ document: TOMLTable, roles: [String], defaultRole: String?, _ reader: Reader) throws(FleetError) -> [Node] {
        let file = reader.file
        guard let value = document["nodes"] else { return [] }
        guard let array = value.array, array.allSatisfy({ $0.type == .table }) else {
            throw .wrongType(file: file, key: "nodes", expected: "an array of tables, written [[nodes]]", found: Reader.kind(value))
        }
        var nodes: [Node] = []
        var seen: [MACAddress: String] = [:]
        for (index, element) in array.enumerated() {
            let key = "nodes[\(index)]"
            guard let table = element.table else { continue }
            try reader.checkKeys(table, at: key, allowed: ["mac", "role", "cmdline"])
            guard let text = try reader.string(table, "mac", at: key) else {
                throw .missingKey(file: file, key: "\(key).mac", hint: "give each node its MAC address, for example mac = \"52:54:00:12:34:56\"")
            }
            guard let mac = MACAddress(text) else { throw .malformedMAC(file: file, key: "\(key).mac", value: text) }
            if let first = seen[mac] {
                throw .duplicateMAC(file: file, key: "\(key).mac", mac: mac.description, firstKey: "\(first).mac")
            }
            seen[mac] = key
            let role: String
            if let named = try reader.string(table, "role", at: key) {
                guard roles.contains(named) else { throw .unknownRole(file: file, key: "\(key).role", role: named, known: roles) }
                role = named
            } else if let defaultRole {
                role = defaultRole
            } else {
                throw .missingKey(file: file, key: "\(key).role", hint: "give the node a role, or set one for all nodes with [defaults] role")
            }
            nodes.append(Node(mac: mac, role: role, cmdline: try reader.cmdline(table, at: key), key: key))
        }
        return nodes
    }
}

/// Typed access to TOMLKit tables that reports mistakes with their key path.
private struct Reader {
    let file: FilePath

    func checkKeys(_ table: TOMLTable, at path: String, allowed: [String]) throws(FleetError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            throw .unknownKey(file: file, key: Self.join(path, key), allowed: allowed)
        }
    }

    func table(_ table: TOMLTable, _ key: String, at path: String) throws(FleetError) -> TOMLTable? {
        guard let value = table[key] else { return nil }
        guard let inner = value.table else {
            throw .wrongType(file: file, key: Self.join(path, key), expected: "a table", found: Self.kind(value))
        }
        return inner
    }

    func string(_ table: TOMLTable, _ key: String, at path: String) throws(FleetError) -> String? {
        guard let value = table[key] else { return nil }
        guard let text = value.string else {
            throw .wrongType(file: file, key: Self.join(path, key), expected: "a string", found: Self.kind(value))
        }
        return text
    }

    func strings(_ table: TOMLTable, _ key: String, at path: String) throws(FleetError) -> [String]? {
        guard let value = table[key] else { return nil }
        let name = Self.join(path, key)
        guard let array = value.array else {
            throw .wrongType(file: file, key: name, expected: "an array of strings", found: Self.kind(value))
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.string else {
                throw .wrongType(file: file, key: "\(name)[\(index)]", expected: "a string", found: Self.kind(element))
            }
            result.append(text)
        }
        return result
    }

    /// `max_initrd` and `max_unpacked` of a role or of `[defaults]`.
    func limits(_ table: TOMLTable, at path: String) throws(FleetError) -> SizeLimits {
        SizeLimits(initrd: try size(table, "max_initrd", at: path), unpacked: try size(table, "max_unpacked", at: path))
    }

    /// A size written "512M", "2G", "700K" or as a number of bytes (binary units: 1K = 1024 bytes).
    func size(_ table: TOMLTable, _ key: String, at path: String) throws(FleetError) -> Int64? {
        guard let value = table[key] else { return nil }
        let name = Self.join(path, key)
        let hint = "write a size such as \"512M\" or \"2G\" (K, M, G, T are powers of 1024), or a number of bytes"
        if let bytes = value.int {
            guard bytes > 0 else { throw .invalidValue(file: file, key: name, reason: "the size \(bytes) is not positive", hint: hint) }
            return Int64(bytes)
        }
        guard let text = value.string else { throw .wrongType(file: file, key: name, expected: "a size such as \"512M\"", found: Self.kind(value)) }
        guard let bytes = SizeLimits.parse(text) else {
            throw .invalidValue(file: file, key: name, reason: "\"\(text)\" is not a size", hint: hint)
        }
        return bytes
    }

    /// Kernel command lines are pasted into iPXE scripts, PXELINUX and GRUB configs; characters those languages
    /// read as quoting, variables or command separators would change the boot, so they are refused.
    func cmdline(_ table: TOMLTable, at path: String) throws(FleetError) -> String {
        guard let text = try string(table, "cmdline", at: path) else { return "" }
        // Scalar by scalar, as the boot loaders read it: a quote followed by a combining mark is one Character, but
        // still a quote to iPXE.
        let refused: Set<Unicode.Scalar> = ["\"", "'", "`", "$", ";", "&", "|", "<", ">", "\\", "#", "{", "}"]
        for scalar in text.unicodeScalars where refused.contains(scalar) || scalar.value < 0x20 || scalar.value == 0x7F {
            let shown = scalar.value < 0x20 || scalar.value == 0x7F ? "a control character" : "'\(scalar)'"
            throw .invalidValue(
                file: file, key: Self.join(path, "cmdline"), reason: "the command line contains \(shown), which iPXE, PXELINUX or GRUB would interpret",
                hint: "write plain kernel parameters without \" ' ` $ ; & | < > \\ # { } or control characters")
        }
        return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? quoted(key) : "\(path).\(quoted(key))" }

    /// TOML bare keys as they are, anything else in quotes, as it would have to be written.
    static func quoted(_ key: String) -> String {
        let bare =
            !key.isEmpty && key.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
        return bare ? key : "\"\(key)\""
    }

    /// "an integer", "a table": the value's TOML type with its article.
    static func kind(_ value: some TOMLValueConvertible) -> String { TOMLDocument.kind(of: value) }
}
