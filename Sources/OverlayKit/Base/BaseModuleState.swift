import Foundation
import SystemPackage

/// What a base image says about module streams, read the way dnf reads its install root: the platform stream
/// from `PLATFORM_ID` in os-release, and the module states dnf recorded in `etc/dnf/modules.d/*.module`.
public struct BaseModuleState: Sendable, Equatable {
    /// The platform stream (`el9` of `PLATFORM_ID="platform:el9"`); nil when the base does not say.
    public var platform: String?
    /// Module → stream, for modules dnf enabled in the base.
    public var enabledStreams: [String: String]
    /// Modules dnf disabled in the base: no stream of theirs is active unless a plugin enables one.
    public var disabledModules: Set<String>

    public init(platform: String? = nil, enabledStreams: [String: String] = [:], disabledModules: Set<String> = []) {
        self.platform = platform
        self.enabledStreams = enabledStreams
        self.disabledModules = disabledModules
    }

    /// Lines for cache keys: everything here that changes which streams are active.
    var keyLines: [String] {
        var lines = platform.map { ["platform \($0)"] } ?? []
        lines += enabledStreams.sorted { $0.key < $1.key }.map { "base-module \($0.key):\($0.value)" }
        lines += disabledModules.sorted().map { "base-module-disabled \($0)" }
        return lines
    }
}

extension BaseImage {
    /// The base's module state. Files that are missing or unreadable say nothing; symbolic links are not
    /// followed (an absolute one would lead out of the image).
    public func moduleState() -> BaseModuleState {
        var state = BaseModuleState()
        for candidate in ["etc/os-release", "usr/lib/os-release"] {
            guard let text = regularFileText(candidate) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("PLATFORM_ID=") {
                let value = line.dropFirst("PLATFORM_ID=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t"))
                if value.hasPrefix("platform:"), value.count > "platform:".count {
                    state.platform = String(value.dropFirst("platform:".count))
                }
            }
            break
        }
        let directory = root.appending("etc/dnf/modules.d")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.string)) ?? []
        for name in names.sorted() where name.hasSuffix(".module") {
            guard let text = regularFileText("etc/dnf/modules.d/\(name)") else { continue }
            for (module, values) in Self.iniSections(text) {
                switch values["state"]?.lowercased() {
                case "enabled", "installed":
                    if let stream = values["stream"], !stream.isEmpty { state.enabledStreams[module] = stream }
                case "disabled":
                    state.disabledModules.insert(module)
                default:
                    continue
                }
            }
        }
        return state
    }

    /// The text of a regular file at a path inside the root, or nil.
    func regularFileText(_ path: String) -> String? {
        let full = root.appending(path).string
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: full),
            attributes[.type] as? FileAttributeType == .typeRegular,
            let data = FileManager.default.contents(atPath: full)
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// `[section]` and `key=value` lines, as dnf writes modules.d files.
    private static func iniSections(_ text: String) -> [(String, [String: String])] {
        var sections: [(String, [String: String])] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") && line.hasSuffix("]") {
                sections.append((String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces), [:]))
            } else if let eq = line.firstIndex(of: "="), !sections.isEmpty, !line.hasPrefix("#") {
                let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
                sections[sections.count - 1].1[key] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return sections
    }
}
