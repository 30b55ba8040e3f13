import SystemPackage
import Formats
import Posix

/// Why a fleet file cannot be served. Each case names the file and, where there is one, the line and column
/// or the key path (`roles.compute.plugins[1]`), and says what to do.
public enum FleetError: UserError, Sendable, Equatable {
    /// The fleet file cannot be read.
    case unreadable(file: FilePath, reason: String)
    /// The fleet file is not valid TOML; `line` and `column` are 1-based as the TOML parser reports them.
    case syntax(file: FilePath, line: Int, column: Int, reason: String)
    /// A key the fleet file format does not know, such as `plugin` for `plugins`.
    case unknownKey(file: FilePath, key: String, allowed: [String])
    /// A required key is absent.
    case missingKey(file: FilePath, key: String, hint: String)
    /// A key holds the wrong kind of value.
    case wrongType(file: FilePath, key: String, expected: String, found: String)
    /// A key's value is not acceptable; `reason` is a full sentence, `hint` says what to write instead.
    case invalidValue(file: FilePath, key: String, reason: String, hint: String)
    /// A MAC address that is not six hex bytes.
    case malformedMAC(file: FilePath, key: String, value: String)
    /// The same MAC address on two nodes.
    case duplicateMAC(file: FilePath, key: String, mac: String, firstKey: String)
    /// A node or `[defaults]` names a role that has no `[roles.NAME]` table.
    case unknownRole(file: FilePath, key: String, role: String, known: [String])
    /// A file the fleet boots (kernel, initrd, overlay) is not in the served directory.
    case missingFile(file: FilePath, key: String, reason: String, directory: FilePath, hint: String)
    /// A role names a plugin for which no overlay manifest exists in the served directory.
    case missingOverlay(file: FilePath, key: String, plugin: String, directory: FilePath, available: [String])
    /// A plugin is present in several versions and the role did not pin one.
    case ambiguousOverlay(file: FilePath, key: String, plugin: String, versions: [String])
    /// An overlay was built against another base than the one the fleet boots.
    case baseMismatch(file: FilePath, key: String, overlay: String, overlayBase: String, fleetBase: String, baseManifest: FilePath)
    /// The served directory (`--dir`) is missing or not a directory.
    case servedDirectory(directory: FilePath, reason: String)
    /// Writing the boot files failed; `reason` names the call and the path.
    case exportFailed(directory: FilePath, reason: String)
    /// A manifest in the served directory says it is an overlay or base manifest but cannot be decoded.
    case badManifest(path: FilePath, reason: String)

    /// One line whatever the file holds: a name read from it (a role, a plugin) may carry a line break or another
    /// control character, which is shown escaped (`\n`, `\u{1B}`) rather than breaking the message.
    public var description: String { ErrorText.oneLine(sentence) }

    private var sentence: String {
        switch self {
        case .unreadable(let file, let reason):
            return "cannot read fleet file \(file): \(reason); check the path given with --fleet"
        case .syntax(let file, let line, let column, let reason):
            return "\(file):\(line):\(column): invalid TOML: \(TOMLDocument.sentence(reason)); fix the syntax at that spot"
        case .unknownKey(let file, let key, let allowed):
            let choices = allowed.isEmpty ? "nothing may be set there" : "the keys allowed there are " + allowed.joined(separator: ", ")
            return "\(file): unknown key \(key): \(choices); fix the spelling or remove it"
        case .missingKey(let file, let key, let hint):
            return "\(file): \(key) is missing: \(hint)"
        case .wrongType(let file, let key, let expected, let found):
            return "\(file): \(key) must be \(expected), not \(found)"
        case .invalidValue(let file, let key, let reason, let hint):
            return "\(file): \(key): \(reason); \(hint)"
        case .malformedMAC(let file, let key, let value):
            return "\(file): \(key) \"\(value)\" is not a MAC address: write six two-digit hex bytes such as 52:54:00:12:34:56 or 52-54-00-12-34-56"
        case .duplicateMAC(let file, let key, let mac, let firstKey):
            return "\(file): \(key) \(mac) is already listed at \(firstKey): list each node once"
        case .unknownRole(let file, let key, let role, let known):
            let roles = known.isEmpty ? "the file defines no roles" : "defined roles: " + known.joined(separator: ", ")
            return "\(file): \(key) names role \"\(role)\", which has no [roles.\(role)] table (\(roles)); add the role or fix the name"
        case .missingFile(let file, let key, let reason, let directory, let hint):
            return "\(file): \(key): \(reason) (served directory \(directory)); \(hint)"
        case .missingOverlay(let file, let key, let plugin, let directory, let available):
            let found = available.isEmpty ? "no overlay manifests were found there" : "overlays found: " + available.joined(separator: ", ")
            return
                "\(file): \(key): no overlay for plugin \"\(plugin)\" in \(directory) (\(found)); build it with overlay build into that directory or fix the name"
        case .ambiguousOverlay(let file, let key, let plugin, let versions):
            let pins = versions.map { "\"\(plugin)@\($0)\"" }.joined(separator: ", ")
            return "\(file): \(key): plugin \"\(plugin)\" is present in several versions (\(versions.joined(separator: ", "))); pin one, for example \(pins)"
        case .baseMismatch(let file, let key, let overlay, let overlayBase, let fleetBase, let baseManifest):
            return
                "\(file): \(key): overlay \(overlay) was built against base \(overlayBase), but the fleet boots base \(fleetBase) (\(baseManifest)); rebuild the overlay against this base or boot the base it was built for"
        case .servedDirectory(let directory, let reason):
            return "the served directory \(directory) \(reason); give --dir the directory that holds the kernel, the base initrd and the overlays"
        case .exportFailed(let directory, let reason):
            return "cannot write the boot files to \(directory): \(reason); give --out a directory that can be written"
        case .badManifest(let path, let reason):
            return "manifest \(path) cannot be read: \(reason); rebuild it or remove it from the served directory"
        }
    }
}
