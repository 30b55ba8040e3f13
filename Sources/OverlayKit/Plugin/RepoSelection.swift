import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Which of the plugins' `repos/*.repo` repos a solve uses, from `--enablerepo` and `--disablerepo` as dnf reads
/// them: each value is a comma (or space) separated list of repo ids or shell globs (`mon*`, `extra-[0-9]`,
/// matched with fnmatch(3) against the whole id, as dnf's Python fnmatch does), and the rules apply in the order
/// given, the last one that matches a repo deciding. Every repo starts disabled, whatever its `enabled=` line
/// says, so `--disablerepo '*' --enablerepo x` and `--enablerepo '*' --disablerepo 'slow*'` both mean what they
/// mean to dnf.
public struct RepoSelection: Sendable, Hashable, ExpressibleByArrayLiteral {
    public enum Action: String, Sendable, Hashable {
        case enable, disable

        /// The command-line option that gives this action.
        public var option: String { "--\(rawValue)repo" }
    }

    /// One id or glob of one option.
    public struct Rule: Sendable, Hashable {
        public var action: Action
        public var pattern: String

        public init(_ action: Action, _ pattern: String) {
            self.action = action
            self.pattern = pattern
        }

        /// fnmatch(3) on the whole repo id, without backslash escapes (Python's fnmatch, which dnf uses, has none).
        public func matches(_ id: String) -> Bool {
            fnmatch(pattern, id, FNM_NOESCAPE) == 0
        }

        /// Whether the pattern is a glob rather than one id.
        var isGlob: Bool { pattern.contains { "*?[".contains($0) } }
    }

    /// The rules in command-line order.
    public var rules: [Rule]

    public init(_ rules: [Rule] = []) { self.rules = rules }

    /// Enables exactly these ids or globs.
    public init(arrayLiteral patterns: String...) {
        rules = patterns.map { Rule(.enable, $0) }
    }

    /// The rules of one option value, `"mon*,extra"` or `"mon* extra"`: dnf splits on commas and white space.
    public static func rules(_ action: Action, _ value: String) -> [Rule] {
        value.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map { Rule(action, String($0)) }
    }

    /// Whether the repo `id` is used: the last rule matching it decides; no rule, not used.
    public func isEnabled(_ id: String) -> Bool {
        rules.last(where: { $0.matches(id) })?.action == .enable
    }

    /// Checks that every rule matches at least one of the repo ids `known` (dnf's "Unknown repo"); `*` alone is
    /// always accepted, so `--disablerepo '*'` also works for plugins that define no repo.
    public func check(known: [String]) throws(PluginError) {
        for rule in rules where rule.pattern != "*" && !known.contains(where: rule.matches) {
            throw .unknownRepo(option: rule.action.option, pattern: rule.pattern, glob: rule.isGlob, known: known.sorted())
        }
    }
}
