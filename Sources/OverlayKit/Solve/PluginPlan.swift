import Posix

/// A package a plan adds to the base.
public struct PlannedPackage: Codable, Sendable, Equatable {
    /// `name-[epoch:]version-release.arch`
    public var nevra: String
    public var name: String
    /// The id of the repo it comes from (a plugin's bundled repo is `<plugin>-bundled`).
    public var repo: String
    /// Where its .rpm is: a `file://` or `http(s)://` URL.
    public var url: String
    /// `sha256:<hex>` from the repo metadata, when it gives one.
    public var checksum: String?
    public var downloadSize: Int64?
}

/// What one plugin adds to a locked base.
public struct PluginPlan: Codable, Sendable {
    public var plugin: String
    public var version: String
    /// The identity of the base the plan was solved against.
    public var base: String
    /// The packages to install, sorted by NEVRA.
    public var packages: [PlannedPackage]
    /// Requested packages the base already has (nothing to add for them).
    public var alreadyInBase: [String]
}

/// Why a plugin cannot be planned.
public struct PlanError: UserError, Sendable {
    public enum Kind: Sendable {
        /// The plugin's packages cannot be installed on this base: exit status 3.
        case unsatisfiable
        /// Something else failed (a repo, the base): exit status 1.
        case failed
    }
    public var plugin: String
    public var kind: Kind
    /// One sentence per problem, each saying what to do.
    public var reasons: [String]
    /// What failed, when the plan failed for a reason other than the base (a repo, the rpmdb, a signing key).
    public var cause: (any Error)?
    /// The locked base packages (NEVRAs) the reasons blame: what a package conflicts with, obsoletes or would
    /// replace, or what has too old a version. `overlay rebase` names those a new base changed.
    public var blamed: [String] = []

    public init(plugin: String, kind: Kind, reasons: [String], blamed: [String] = []) {
        self.plugin = plugin
        self.kind = kind
        self.reasons = reasons
        self.blamed = blamed
    }

    /// The plan failed because `cause` did, in `repo` when one is named: its one reason is the cause's sentence.
    public static func failed(plugin: String, cause: any Error, repo: String? = nil) -> PlanError {
        var error = PlanError(
            plugin: plugin, kind: .failed, reasons: [(repo.map { "repo \"\($0)\": " } ?? "") + ErrorText.describe(cause)])
        error.cause = cause
        return error
    }

    public var description: String {
        reasons.map { "plugin \"\(plugin)\": \($0)" }.joined(separator: "\n")
    }

    public var exitStatus: Int32 { kind == .unsatisfiable ? 3 : 1 }
}
