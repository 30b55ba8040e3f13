internal import CRPM

/// A package's `name-[epoch:]version-release.arch`, split into its parts, as libsolv and rpm write it.
public struct NEVRA: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var epoch: String?
    public var version: String
    public var release: String
    public var arch: String

    /// Splits a NEVRA from the right (a name may hold dashes and dots; version, release and arch never hold a dash).
    /// nil for text that is not one.
    public init?(_ text: String) {
        guard let dot = text.lastIndex(of: "."), let releaseDash = text[..<dot].lastIndex(of: "-"),
            let versionDash = text[..<releaseDash].lastIndex(of: "-")
        else { return nil }
        name = String(text[..<versionDash])
        arch = String(text[text.index(after: dot)...])
        release = String(text[text.index(after: releaseDash)..<dot])
        var evr = text[text.index(after: versionDash)..<releaseDash]
        if let colon = evr.firstIndex(of: ":") {
            epoch = String(evr[..<colon])
            evr = evr[evr.index(after: colon)...]
        }
        version = String(evr)
        guard !name.isEmpty, !version.isEmpty, !release.isEmpty, !arch.isEmpty else { return nil }
    }

    public var description: String { "\(name)-\(epoch.map { "\($0):" } ?? "")\(version)-\(release).\(arch)" }

    /// `name.arch`: what one installed package is keyed by (a name may be installed once per arch, multilib).
    public var nameArch: String { "\(name).\(arch)" }

    /// rpm's order of two builds' epoch, version and release (`rpmvercmp` on each part, a missing epoch being 0):
    /// negative when `self` is older than `other`, 0 when equal, positive when newer.
    public func compareEVR(_ other: NEVRA) -> Int {
        for (a, b) in [(epoch ?? "0", other.epoch ?? "0"), (version, other.version), (release, other.release)] {
            let order = Int(rpmvercmp(a, b))
            if order != 0 { return order }
        }
        return 0
    }

    /// rpm's order of two version strings (`rpmvercmp`: `1.10` is newer than `1.9`, `1.0~rc1` older than `1.0`):
    /// negative when `a` is older, 0 when equal, positive when newer. Plugin versions are ordered this way too.
    public static func compareVersions(_ a: String, _ b: String) -> Int { Int(rpmvercmp(a, b)) }
}
