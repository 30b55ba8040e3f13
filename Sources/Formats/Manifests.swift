import Foundation

/// What `overlay build` writes beside each overlay as `<name>-<version>.json`: enough for a server or a
/// fleet file to pick the overlay by plugin name and check it against the base it was built for.
public struct OverlayManifest: Codable, Sendable, Equatable {
    public var kind = "overlay"
    public var name: String
    public var version: String
    public var summary: String
    /// `cpio.zst`, `cpio.gz`, `cpio`, `squashfs` or `erofs`.
    public var format: String
    /// The overlay's file name, beside the manifest.
    public var file: String
    public var size: Int64
    public var sha256: String
    /// The identity of the base image the overlay was solved and installed against.
    public var base: String
    /// The packages the overlay adds, as NEVRAs (`name-[epoch:]version-release.arch`), sorted.
    public var packages: [String]
    /// Paths dropped from the delta by the plugin's blacklist, sorted.
    public var removed: [String]
    /// The plugin's requirements on the base, as written in plugin.toml.
    public var requires: [String]
    /// For a layer (squashfs, erofs): the systemd-sysext extension-release file it carries and what it matches
    /// on the base; nil for cpio overlays, and for layers of a base whose os-release has no `ID`.
    public var extensionRelease: ExtensionRelease?
    /// `<name>-<version>.rpmheaders` beside the overlay: the installed headers of `packages` (rpm's header list
    /// format), from which `overlay rpmdb` makes a role's rpmdb; nil when the overlay adds no package.
    public var headers: String?

    /// `usr/lib/extension-release.d/extension-release.<name>` inside a layer: systemd-sysext accepts the image on a
    /// host whose os-release has this `ID` and this `SYSEXT_LEVEL` (when set) or else this `VERSION_ID`.
    public struct ExtensionRelease: Codable, Sendable, Equatable {
        public var file: String
        public var id: String
        public var versionID: String?
        public var sysextLevel: String?

        public init(file: String, id: String, versionID: String?, sysextLevel: String?) {
            self.file = file
            self.id = id
            self.versionID = versionID
            self.sysextLevel = sysextLevel
        }
    }

    public init(
        name: String, version: String, summary: String, format: String, file: String, size: Int64, sha256: String,
        base: String, packages: [String], removed: [String], requires: [String], extensionRelease: ExtensionRelease? = nil,
        headers: String? = nil
    ) {
        self.name = name
        self.version = version
        self.summary = summary
        self.format = format
        self.file = file
        self.size = size
        self.sha256 = sha256
        self.base = base
        self.packages = packages
        self.removed = removed
        self.requires = requires
        self.extensionRelease = extensionRelease
        self.headers = headers
    }
}

/// What `overlay base create` writes as `base.json` beside the base initrd.
public struct BaseManifest: Codable, Sendable, Equatable {
    public var kind = "base"
    /// The base identity overlays record: `sha256:` of the sorted NEVRA list, one per line.
    public var identity: String
    /// The base initrd's file name, beside the manifest.
    public var file: String
    public var size: Int64
    public var sha256: String
    /// The kernel shipped in the base (`vmlinuz`, beside the manifest) when the base has one.
    public var kernel: String?
    public var packages: [String]

    public init(identity: String, file: String, size: Int64, sha256: String, kernel: String?, packages: [String]) {
        self.identity = identity
        self.file = file
        self.size = size
        self.sha256 = sha256
        self.kernel = kernel
        self.packages = packages
    }
}

extension JSONEncoder {
    /// Sorted keys and pretty printing: manifests are diffed and read by people.
    public static var manifest: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// What `overlay rpmdb` writes as `rpmdb/<role>.json` beside `rpmdb/<role>-rpmdb.cpio.zst` (in the base initrd's folder): the rpmdb a node of the role
/// gets as its last initrd (the base's packages and every package of the role's overlays), and what it was made
/// from, so that a server appends it only while the role's overlays are still those.
public struct RoleDatabaseManifest: Codable, Sendable, Equatable {
    public var kind = "rpmdb"
    public var role: String
    /// The base identity of the base whose rpmdb it extends.
    public var base: String
    /// The role's overlays it records, in role order: `file` (relative to the served directory) and `sha256`.
    public var overlays: [Source]
    /// The initrd's file name, beside the manifest.
    public var file: String
    public var size: Int64
    public var sha256: String
    /// Where the rpmdb is inside the initrd (`usr/lib/sysimage/rpm`).
    public var dbPath: String
    /// Every package it lists (NEVRAs, sorted): the base's and the overlays'.
    public var packages: [String]

    public struct Source: Codable, Sendable, Equatable {
        public var file: String
        public var sha256: String

        public init(file: String, sha256: String) {
            self.file = file
            self.sha256 = sha256
        }
    }

    public init(
        role: String, base: String, overlays: [Source], file: String, size: Int64, sha256: String, dbPath: String, packages: [String]
    ) {
        self.role = role
        self.base = base
        self.overlays = overlays
        self.file = file
        self.size = size
        self.sha256 = sha256
        self.dbPath = dbPath
        self.packages = packages
    }
}
