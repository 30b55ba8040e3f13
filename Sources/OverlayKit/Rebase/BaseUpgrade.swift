/// Moving plugins from one base image to another (ISOv1 to ISOv2): each plugin is solved against both locked
/// bases with the same `Planner` rules, and the two plans are compared.
public struct BaseUpgrade: Sendable {
    /// The base the plugins are built against today.
    public let old: Planner
    /// The base they would move to.
    public let new: Planner
    /// What the new base upgraded, downgraded, added or removed, by package name and arch.
    public let baseChanges: [BaseChange]

    public init(old: Planner, new: Planner) {
        self.old = old
        self.new = new
        baseChanges = BaseChange.between(old.basePackages, new.basePackages)
    }

    /// Solves `plugin` against both bases and says whether it can move, and what moving changes.
    public func check(_ plugin: Plugin) -> PluginRebase {
        let before = Result { () throws(PlanError) in try old.plan(plugin) }
        let after = Result { () throws(PlanError) in
            let plan = try new.plan(plugin)
            // A key that cannot be read or fetched would fail the build against the new base: say so now, as plan does.
            _ = try new.signingKeys(for: plan, of: plugin)
            return plan
        }
        var verdict = PluginRebase(plugin: plugin.name, version: plugin.manifest.version)
        verdict.oldPackages = try? before.get().packages.map(\.nevra)
        verdict.newPackages = try? after.get().packages.map(\.nevra)

        switch (before, after) {
        case (.failure(let error), _) where error.kind == .failed, (_, .failure(let error)) where error.kind == .failed:
            verdict.verdict = .failed
            verdict.reasons = error.reasons
            verdict.failure = error
        case (.success(let was), .success(let now)):
            verdict.changes = changes(from: was.packages.map(\.nevra), to: now.packages.map(\.nevra))
            verdict.verdict = verdict.changes.isEmpty ? .unchanged : .changed
        case (.failure(let error), .success(let now)):
            // Installable now, not before: everything it adds is new.
            verdict.changes = changes(from: [], to: now.packages.map(\.nevra))
            verdict.oldReasons = error.reasons
            verdict.verdict = .changed
        case (.success, .failure(let error)):
            verdict.verdict = .blockedByNewBase
            verdict.reasons = error.reasons
            verdict.blamedChanges = baseChanges.filter { change in change.to.map(error.blamed.contains) ?? false }
            verdict.failure = error
        case (.failure, .failure(let error)):
            verdict.verdict = .needsNewerBase
            verdict.reasons = error.reasons
            verdict.failure = error
        }
        return verdict
    }

    /// How the overlay's packages differ between the two plans, by name and arch, sorted by name.
    func changes(from was: [String], to now: [String]) -> [PackageChange] {
        let before = Dictionary(was.compactMap(NEVRA.init).map { ($0.nameArch, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(now.compactMap(NEVRA.init).map { ($0.nameArch, $0) }, uniquingKeysWith: { a, _ in a })
        let newBase = Dictionary(new.basePackages.compactMap(NEVRA.init).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var changes: [PackageChange] = []
        for key in Set(before.keys).union(after.keys).sorted() {
            switch (before[key], after[key]) {
            case (let was?, let now?) where was != now:
                changes.append(PackageChange(kind: now.compareEVR(was) > 0 ? .newer : .older, name: was.name, from: was.description, to: now.description))
            case (let was?, nil):
                if let based = newBase[was.name] {
                    changes.append(PackageChange(kind: .nowInBase, name: was.name, from: was.description, base: based.description))
                } else {
                    changes.append(PackageChange(kind: .dropped, name: was.name, from: was.description))
                }
            case (nil, let now?):
                changes.append(PackageChange(kind: .added, name: now.name, to: now.description))
            default:
                continue
            }
        }
        return changes
    }
}

/// What one plugin's move to a new base comes to.
public struct PluginRebase: Encodable, Sendable {
    public enum Verdict: String, Encodable, Sendable {
        /// The same packages, the same NEVRAs.
        case unchanged
        /// Installable on the new base, with other packages (or installable now and not before).
        case changed
        /// Installable on neither base: the reasons say what base it needs.
        case needsNewerBase = "needs-newer-base"
        /// Installable on the old base, not on the new one: the reasons name the new base's package in the way.
        case blockedByNewBase = "blocked-by-new-base"
        /// Could not be checked (a repo, a key, the rpmdb): the reasons say what failed.
        case failed
    }

    public var plugin: String
    public var version: String
    public var verdict: Verdict = .unchanged
    /// The overlay's packages on the old base (NEVRAs); nil when it cannot be installed there.
    public var oldPackages: [String]?
    /// The overlay's packages on the new base; nil when it cannot be installed there.
    public var newPackages: [String]?
    public var changes: [PackageChange] = []
    /// Why it cannot be installed on the new base, or why it could not be checked.
    public var reasons: [String] = []
    /// Why it could not be installed on the old base, when it can be on the new one.
    public var oldReasons: [String] = []
    /// The new base's changes the reasons blame (a package it upgraded or added that is in the way).
    public var blamedChanges: [BaseChange] = []
    /// The error behind a verdict other than unchanged and changed.
    public var failure: PlanError?

    public init(plugin: String, version: String) {
        self.plugin = plugin
        self.version = version
    }

    /// Whether an overlay of it can be built against the new base.
    public var canMove: Bool { verdict == .unchanged || verdict == .changed }

    enum CodingKeys: String, CodingKey {
        case plugin, version, verdict, canMove, oldPackages, newPackages, changes, reasons, oldReasons, blamedChanges
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plugin, forKey: .plugin)
        try container.encode(version, forKey: .version)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(canMove, forKey: .canMove)
        try container.encode(oldPackages, forKey: .oldPackages)
        try container.encode(newPackages, forKey: .newPackages)
        try container.encode(changes, forKey: .changes)
        try container.encode(reasons, forKey: .reasons)
        try container.encode(oldReasons, forKey: .oldReasons)
        try container.encode(blamedChanges, forKey: .blamedChanges)
    }
}

/// How one package of the overlay differs between the old base's plan and the new base's.
public struct PackageChange: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The overlay carried it; the new base has it (`base`), so the overlay no longer does.
        case nowInBase = "now-in-base"
        /// Another version is chosen, newer than before (a newer one is available, or only the new base allows it).
        case newer
        /// An older version is chosen (the new base allows only that one).
        case older
        /// No longer needed, and not in the new base either.
        case dropped
        /// Needed now and not before.
        case added
    }

    public var kind: Kind
    public var name: String
    /// The NEVRA the overlay carried on the old base.
    public var from: String?
    /// The NEVRA it carries on the new base.
    public var to: String?
    /// For `now-in-base`: the new base's package of that name.
    public var base: String?

    public init(kind: Kind, name: String, from: String? = nil, to: String? = nil, base: String? = nil) {
        self.kind = kind
        self.name = name
        self.from = from
        self.to = to
        self.base = base
    }
}

/// How a package of the base differs between two base images.
public struct BaseChange: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case upgraded, downgraded, added, removed }

    public var kind: Kind
    public var name: String
    /// The NEVRA in the old base (nil: added).
    public var from: String?
    /// The NEVRA in the new base (nil: removed).
    public var to: String?

    /// The changes from one sorted NEVRA list to another, by name and arch, sorted by name.
    public static func between(_ old: [String], _ new: [String]) -> [BaseChange] {
        let before = Dictionary(old.compactMap(NEVRA.init).map { ($0.nameArch, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.compactMap(NEVRA.init).map { ($0.nameArch, $0) }, uniquingKeysWith: { a, _ in a })
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            switch (before[key], after[key]) {
            case (let was?, let now?) where was != now:
                BaseChange(kind: now.compareEVR(was) >= 0 ? .upgraded : .downgraded, name: was.name, from: was.description, to: now.description)
            case (let was?, nil): BaseChange(kind: .removed, name: was.name, from: was.description)
            case (nil, let now?): BaseChange(kind: .added, name: now.name, to: now.description)
            default: nil
            }
        }
    }
}
