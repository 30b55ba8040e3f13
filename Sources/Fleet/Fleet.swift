import Posix
import SystemPackage
import Formats

#if canImport(Glibc)
    import Glibc
#endif

/// A generated boot file: an iPXE script, a PXELINUX config or a GRUB config.
public struct BootDocument: Sendable, Equatable {
    public var body: String
    public var contentType: String

    public init(body: String, contentType: String = "text/plain; charset=utf-8") {
        self.body = body
        self.contentType = contentType
    }
}

/// A validated fleet.toml: which base every node boots, which overlays each role adds, which MAC has which role,
/// and the boot files (iPXE, PXELINUX, GRUB) generated from that. All paths are relative to the served directory.
///
/// A `Fleet` only exists once everything it boots was found: the kernel and initrds as regular files, each role's
/// overlays through their manifests, built against the base whose `base.json` sits beside the first base initrd.
public struct Fleet: Sendable {
    /// What one boot loads: a kernel, initrds in order (base first, then overlays in role order), a command line.
    public struct Boot: Sendable, Equatable {
        public var kernel: String
        public var initrds: [String]
        public var cmdline: String
        /// For each initrd that is a layer (squashfs, erofs): the file name the boot loader gives it in the node's
        /// initramfs (see `Layer`), where the node's init finds it and mounts it.
        public var layerNames: [String: String] = [:]

        /// The role's initrds that are layers, in the order they are stacked (the last one on top).
        public var layers: [String] { initrds.filter { layerNames[$0] != nil } }
    }

    /// How a layer reaches a node: the boot loader wraps the image in a one-file cpio archive named
    /// `overlay-layer-<NN>-<file>` (iPXE: `initrd URI NAME`; GRUB: `initrd newc:NAME:PATH`), so the kernel leaves it
    /// as a file in the initramfs root, and the node's init mounts every `/overlay-layer-*` in name order with loop
    /// + squashfs/erofs and stacks them with overlayfs over the root, later layers on top. The number keeps the
    /// role's order; the name is in the root directory because older iPXE creates no parent directories.
    public enum Layer {
        public static let prefix = "overlay-layer-"

        /// The name of a role's `index`-th layer (from 1) whose file is `path`.
        public static func name(index: Int, path: String) -> String {
            let file = path.split(separator: "/").last.map(String.init) ?? path
            return prefix + (index < 10 ? "0\(index)" : String(index)) + "-" + file
        }

        /// Whether an overlay manifest's `format` is a layer's.
        public static func isLayer(format: String) -> Bool { format == "squashfs" || format == "erofs" }
    }

    public struct Role: Sendable, Equatable {
        public var name: String
        /// The role's overlays, in the order the node unpacks them.
        public var overlays: [ServedOverlay]
        public var boot: Boot
        /// fleet.toml's `wins`: the plugins whose files win, first one first, where the role's overlays ship one
        /// path with different contents.
        public var wins: [String] = []
        /// The role's `max_initrd` and `max_unpacked`, with `[defaults]` filling in what it leaves unset.
        public var limits = SizeLimits()
        /// Loaded with `acceptingOtherBases`: the role's overlays built for another base than the fleet's, each
        /// the error a strict load throws.
        public var otherBases: [FleetError] = []
    }

    public struct Node: Sendable, Equatable {
        public var mac: MACAddress
        public var role: String
        public var boot: Boot

        public init(mac: MACAddress, role: String, boot: Boot) {
            self.mac = mac
            self.role = role
            self.boot = boot
        }
    }

    /// The fleet file this was read from.
    public let file: FilePath
    public let servedDirectory: FilePath
    /// The `identity` from `base.json` beside the first base initrd, when there is one.
    public let baseIdentity: String?
    /// Sorted by name.
    public let roles: [Role]
    /// Sorted by MAC address.
    public let nodes: [Node]
    /// What a server should tell its operator about the fleet without refusing it (a role's rpmdb that no longer
    /// matches the role's overlays, and so is not handed out).
    public let notes: [String]
    /// What a MAC address not listed in `[[nodes]]` boots; nil means it is refused with a message.
    public let defaultRole: String?

    /// Where `overlay rpmdb` writes the roles' rpmdbs, relative to the served directory: `rpmdb/` beside the base
    /// initrd, so that fleets of two bases served from one directory each have their own.
    public let roleDatabaseDirectory: String
    /// Where the boot files tell nodes to send their reports (`overlay.report=`); nil: they do not say.
    public private(set) var report: ReportAddress?
    private(set) var documents: [String: BootDocument]
    let digests: [String: String]

    /// Reads and validates `file` against the manifests and files in `servedDirectory`. `acceptingOtherBases`
    /// keeps an overlay built for another base than the fleet's, noting it in its role's `otherBases`, where a
    /// server refuses the fleet: `overlay check` reports it beside the role's other problems.
    public static func load(file: FilePath, servedDirectory: FilePath, acceptingOtherBases: Bool = false) throws(FleetError) -> Fleet {
        let text = try readText(file)
        return try Fleet(parsing: text, file: file, servedDirectory: servedDirectory, acceptingOtherBases: acceptingOtherBases)
    }

    /// Validates fleet.toml text; `file` is the name used in messages.
    public init(parsing text: String, file: FilePath, servedDirectory: FilePath, acceptingOtherBases: Bool = false) throws(FleetError) {
        let parsed = try FleetFile.parse(text, file: file)
        let check = Validation(file: file, directory: servedDirectory, acceptingOtherBases: acceptingOtherBases)
        try check.servedDirectory()
        let base = try check.base(parsed.base)
        let served = try ServedManifests.scan(servedDirectory)
        var digests: [String: String] = [:]
        if let manifest = base.manifest { digests[parsed.base.initrds[0]] = manifest.sha256 }
        var roles: [Role] = []
        var notes: [String] = []
        let roleDatabases = Self.roleDatabaseFolder(parsed.base.initrds[0])
        for role in parsed.roles {
            let (overlays, otherBases) = try check.overlays(of: role, base: base, served: served)
            for overlay in overlays { digests[overlay.path] = overlay.manifest.sha256 }
            var boot = Boot(
                kernel: base.kernel, initrds: parsed.base.initrds + overlays.map(\.path),
                cmdline: Self.joined(parsed.base.cmdline, role.cmdline, Self.reportParameters(role: role.name, overlays: overlays)))
            for (index, overlay) in overlays.filter({ Layer.isLayer(format: $0.manifest.format) }).enumerated() {
                boot.layerNames[overlay.path] = Layer.name(index: index + 1, path: overlay.path)
            }
            switch RoleDatabase.find(
                role: role.name, overlays: overlays, baseIdentity: base.manifest?.identity, folder: roleDatabases,
                in: servedDirectory)
            {
            case .none:
                break
            case .current(let path, let manifest):
                boot.initrds.append(path)
                digests[path] = manifest.sha256
            case .stale(let reason):
                notes.append("role \(role.name): \(reason)")
            }
            roles.append(
                Role(
                    name: role.name, overlays: overlays, boot: boot, wins: role.wins, limits: role.limits.over(parsed.defaultLimits),
                    otherBases: otherBases))
        }
        var nodes: [Node] = []
        for node in parsed.nodes {
            guard let role = roles.first(where: { $0.name == node.role }) else { continue }
            var boot = role.boot
            boot.cmdline = Self.joined(boot.cmdline, node.cmdline)
            nodes.append(Node(mac: node.mac, role: node.role, boot: boot))
        }
        nodes.sort { $0.mac < $1.mac }

        self.file = file
        self.servedDirectory = servedDirectory
        self.baseIdentity = base.manifest?.identity
        self.roles = roles
        self.nodes = nodes
        self.defaultRole = parsed.defaultRole
        self.notes = notes
        self.roleDatabaseDirectory = roleDatabases
        self.digests = digests
        self.report = nil
        self.documents = BootFiles(fleetName: Self.displayName(file), roles: roles, nodes: nodes, defaultRole: parsed.defaultRole).all()
    }

    /// The same fleet with boot files whose kernel command lines name `report` as `overlay.report=` (or none, for
    /// nil).
    public func reporting(to report: ReportAddress?) -> Fleet {
        guard report != self.report else { return self }
        var copy = self
        copy.report = report
        copy.documents = copy.bootFiles.all()
        return copy
    }

    private var bootFiles: BootFiles {
        BootFiles(fleetName: Self.displayName(file), roles: roles, nodes: nodes, defaultRole: defaultRole, report: report)
    }

    private static func roleDatabaseFolder(_ firstInitrd: String) -> String {
        let folder = FilePath(firstInitrd).removingLastComponent()
        return folder.isEmpty ? RoleDatabase.directory : folder.appending(RoleDatabase.directory).string
    }

    /// The checks of a parsed fleet against the served directory: the files it names exist there, and the overlays
    /// it lists were built for its base.
    private struct Validation {
        let file: FilePath
        let directory: FilePath
        var acceptingOtherBases = false

        /// The base as served: its kernel, and `base.json` (beside the first base initrd) when there is one.
        struct ResolvedBase {
            var kernel: String
            var manifest: BaseManifest?
            /// Where base.json is or would be, relative to the served directory and in full.
            var manifestRelative: String
            var manifestPath: FilePath
        }

        func servedDirectory() throws(FleetError) {
            var status = stat()
            if directory.withPlatformString({ stat($0, &status) }) != 0 {
                throw .servedDirectory(directory: directory, reason: "does not exist")
            } else if status.st_mode & S_IFMT != S_IFDIR {
                throw .servedDirectory(directory: directory, reason: "is a file, not a directory")
            }
        }

        func requireFile(_ path: String, key: String, hint: String) throws(FleetError) {
            if let reason = ServedPath.problem(with: path, in: directory) {
                throw .missingFile(file: file, key: key, reason: reason, directory: directory, hint: hint)
            }
        }

        func base(_ base: FleetFile.Base) throws(FleetError) -> ResolvedBase {
            for (index, initrd) in base.initrds.enumerated() {
                try requireFile(initrd, key: "base.initrd[\(index)]", hint: "put the base initrd there (overlay base create writes it) or fix the path")
            }
            // base.json sits beside the first base initrd; it names the base identity overlays must match.
            let firstInitrd = FilePath(base.initrds[0])
            let baseFolder = firstInitrd.removingLastComponent()
            let manifestRelative = baseFolder.isEmpty ? "base.json" : baseFolder.appending("base.json").string
            let manifestPath = directory.appending(manifestRelative)
            let manifest = try ServedManifests.readBase(manifestPath)
            if let manifest, manifest.file != firstInitrd.lastComponent?.string {
                throw .invalidValue(
                    file: file, key: "base.initrd[0]",
                    reason: "\(manifestPath) describes the base initrd \(manifest.file), not \(base.initrds[0])",
                    hint: "list \(baseFolder.isEmpty ? manifest.file : baseFolder.appending(manifest.file).string) first or recreate the base")
            }
            let kernel: String
            if let named = base.kernel {
                kernel = named
            } else if let shipped = manifest?.kernel {
                kernel = baseFolder.isEmpty ? shipped : baseFolder.appending(shipped).string
            } else {
                throw .missingKey(file: file, key: "base.kernel", hint: "name the kernel file, for example kernel = \"vmlinuz\"")
            }
            try requireFile(kernel, key: "base.kernel", hint: "put the kernel there or fix the path")
            return ResolvedBase(kernel: kernel, manifest: manifest, manifestRelative: manifestRelative, manifestPath: manifestPath)
        }

        /// The role's overlays in order: each found among the served manifests, built for the base (or, accepting
        /// other bases, the mismatches), present, listed once.
        func overlays(of role: FleetFile.Role, base: ResolvedBase, served: ServedManifests) throws(FleetError) -> ([ServedOverlay], [FleetError]) {
            var overlays: [ServedOverlay] = []
            var otherBases: [FleetError] = []
            for (index, selector) in role.plugins.enumerated() {
                let key = "roles.\(role.name).plugins[\(index)]"
                let overlay = try Fleet.resolve(selector, in: served, base: base.manifest?.identity, key: key, file: file, directory: directory)
                guard let manifest = base.manifest else {
                    throw .missingFile(
                        file: file, key: key,
                        reason:
                            "\(base.manifestRelative) does not exist beside the base initrd, so overlay \(overlay.label) cannot be checked against the base",
                        directory: directory, hint: "create the base with overlay base create, which writes base.json beside the initrd")
                }
                if overlay.manifest.base != manifest.identity {
                    let mismatch = FleetError.baseMismatch(
                        file: file, key: key, overlay: overlay.label, overlayBase: overlay.manifest.base, fleetBase: manifest.identity,
                        baseManifest: base.manifestPath)
                    guard acceptingOtherBases else { throw mismatch }
                    otherBases.append(mismatch)
                }
                try requireFile(overlay.path, key: key, hint: "the manifest \(overlay.manifestPath) names it: rebuild the overlay or remove the stale manifest")
                guard !overlays.contains(where: { $0.path == overlay.path }) else {
                    throw .invalidValue(file: file, key: key, reason: "overlay \(overlay.label) is listed twice in the role", hint: "list each plugin once")
                }
                overlays.append(overlay)
            }
            return (overlays, otherBases)
        }
    }

    /// Every generated boot file, keyed by its path relative to the served directory (`boot.ipxe`,
    /// `ipxe/52-54-00-12-34-56`, `pxelinux.cfg/01-52-54-00-12-34-56`, `grub.cfg`, ...).
    public func bootDocuments() -> [String: BootDocument] { documents }

    /// The boot file a client asks for at `path` (a leading `/` is ignored). Besides the files of
    /// `bootDocuments()`, `ipxe/<any MAC>` answers for MACs not in the fleet with the default role's script, or with
    /// a script that names the MAC and fails when there is no default role. PXELINUX and GRUB fall back to their
    /// `default` and `grub.cfg` by themselves, so unknown MACs get nil there.
    public func document(at path: String) -> BootDocument? {
        let key = String(path.drop(while: { $0 == "/" }))
        if let document = documents[key] { return document }
        if key.hasPrefix("ipxe/"), let mac = MACAddress(String(key.dropFirst("ipxe/".count))) {
            return documents["ipxe/\(mac.hyphenated)"] ?? bootFiles.ipxeUnknown(mac: mac)
        }
        if key.hasPrefix("pxelinux.cfg/01-"), let mac = MACAddress(String(key.dropFirst("pxelinux.cfg/01-".count))) {
            return documents["pxelinux.cfg/01-\(mac.hyphenated)"]
        }
        if key.hasPrefix("grub.cfg-01-"), let mac = MACAddress(String(key.dropFirst("grub.cfg-01-".count))) {
            return documents["grub.cfg-01-\(mac.hyphenated)"]
        }
        return nil
    }

    /// The role whose boot a per-node boot file starts (`ipxe/<mac>`, `pxelinux.cfg/01-<mac>`, `grub.cfg-01-<mac>`, or
    /// the `default` ones for MACs not listed), nil for other paths and for refusals.
    public func bootRole(at path: String) -> String? {
        let key = String(path.drop(while: { $0 == "/" }))
        if key == "ipxe/default" || key == "pxelinux.cfg/default" { return defaultRole }
        for prefix in ["ipxe/", "pxelinux.cfg/01-", "grub.cfg-01-"] where key.hasPrefix(prefix) {
            guard let mac = MACAddress(String(key.dropFirst(prefix.count))) else { return nil }
            return node(mac)?.role ?? (prefix == "ipxe/" ? defaultRole : nil)
        }
        return nil
    }

    /// The sha256 a manifest records for a served file (a base initrd or an overlay), for ETags; nil for files no
    /// manifest describes.
    public func digest(of file: String) -> String? {
        digests[String(file.drop(while: { $0 == "/" }))]
    }

    /// The node with this MAC address, if the fleet lists it.
    public func node(_ mac: MACAddress) -> Node? { nodes.first { $0.mac == mac } }

    // MARK: - Resolving plugins

    /// `"vdsm"` is the only overlay named vdsm; `"vdsm@1.2"` or `"vdsm-1.2"` pins a version. An exact name wins over
    /// a pinned reading, so a plugin whose name ends in a version-like part is still found by its name. Overlays built
    /// for another base than `base` are not candidates when one built for it is there: the overlays of an old and a
    /// new base can be served side by side, and the fleet's base picks among them.
    static func resolve(
        _ selector: String, in served: ServedManifests, base: String? = nil, key: String, file: FilePath, directory: FilePath
    ) throws(FleetError) -> ServedOverlay {
        let overlays = served.overlays
        var matches = overlays.filter { $0.manifest.name == selector }
        if matches.isEmpty, let at = selector.lastIndex(of: "@") {
            let name = String(selector[..<at])
            let version = String(selector[selector.index(after: at)...])
            matches = overlays.filter { $0.manifest.name == name && $0.manifest.version == version }
        }
        if matches.isEmpty {
            matches = overlays.filter { $0.label == selector }
        }
        if matches.count > 1, let base, matches.contains(where: { $0.manifest.base == base }) {
            matches = matches.filter { $0.manifest.base == base }
        }
        switch matches.count {
        case 0:
            throw .missingOverlay(file: file, key: key, plugin: selector, directory: directory, available: Array(Set(overlays.map(\.label))).sorted())
        case 1:
            return matches[0]
        default:
            let versions = matches.map(\.manifest.version)
            if Set(versions).count == versions.count {
                throw .ambiguousOverlay(file: file, key: key, plugin: matches[0].manifest.name, versions: versions.sorted())
            }
            throw .invalidValue(
                file: file, key: key, reason: "overlay \(matches[0].label) has several manifests (\(matches.map(\.manifestPath).joined(separator: ", ")))",
                hint: "remove all but one from the served directory")
        }
    }

    /// The fleet file's name as generated files mention it, safe inside any boot loader's quoting.
    static func displayName(_ file: FilePath) -> String {
        let name = file.lastComponent?.string ?? "fleet.toml"
        return ServedPath.isPlainName(name) ? name : "the fleet file"
    }

    /// What the node's init puts in its report (see `NodeReport`): the role it was booted as and the plugins it
    /// should have, `overlay.role=compute overlay.expect=cim@1.0,vdsm@1.0`.
    static func reportParameters(role: String, overlays: [ServedOverlay]) -> String {
        let expected = overlays.map { NodeReport.Plugin(name: $0.manifest.name, version: $0.manifest.version).description }
        return "overlay.role=\(role) overlay.expect=\(expected.joined(separator: ","))"
    }

    static func joined(_ parts: String...) -> String { parts.filter { !$0.isEmpty }.joined(separator: " ") }

    static func readText(_ path: FilePath) throws(FleetError) -> String {
        var bytes: [UInt8] = []
        do {
            let fd = try OwnedFileDescriptor.open(path, .readOnly, options: [.closeOnExec])
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try fd.descriptor.read(into: $0) }
                if count == 0 { break }
                bytes += chunk[0..<count]
                if bytes.count > 16 << 20 { throw FleetError.unreadable(file: path, reason: "it is larger than 16 MiB, which no fleet file needs") }
            }
        } catch let error as FleetError {
            throw error
        } catch let errno as Errno {
            throw .unreadable(file: path, reason: errno.posixDescription)
        } catch {
            throw .unreadable(file: path, reason: ErrorText.reason(error))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadable(file: path, reason: "it is not UTF-8 text")
        }
        return text
    }
}
