import Foundation

/// What identifies a base image for overlays built against it: `sha256:` of its sorted NEVRA list,
/// one per line. Two bases with the same package set are the same base to overlay.
public enum BaseIdentity {
    public static func of(packages nevras: [String]) -> String {
        let text = nevras.sorted().map { $0 + "\n" }.joined()
        return "sha256:" + SHA256Digest.bytes(text.utf8)
    }
}

extension BaseImage {
    /// The installed packages as NEVRAs, sorted, read from the rpmdb with libsolv. A broken rpm (its
    /// configuration files unreadable) is named as such, before libsolv asks librpm for the rpmdb.
    public func installedPackages(arch: String = HostArchitecture.current) throws(BaseError) -> [String] {
        do { try RPMLibrary.checkConfiguration() } catch { throw .rpm(error) }
        let pool = SolvPool(arch: arch)
        try pool.loadInstalled(from: self)
        return pool.installedSolvables.map { pool.nevra($0) }.sorted()
    }
}

/// The machine's architecture as rpm names it (`uname -m`).
public enum HostArchitecture {
    public static var current: String {
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
