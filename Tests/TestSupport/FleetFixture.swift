import Fleet
import Formats
import Foundation
import SystemPackage

/// A served directory the way `overlay base create` and `overlay build` leave it: a kernel, a base initrd with
/// `base.json`, and overlays with their `<name>-<version>.json` manifests (the overlay files are stand-ins: the
/// fleet only reads manifests and checks that the files exist).
package struct FleetFixture {
    package static let baseIdentity = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
    package let root: URL

    package var served: FilePath { FilePath(root.path).appending("srv") }
    package var fleetFile: FilePath { FilePath(root.path).appending("fleet.toml") }

    package init(kernelInManifest: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: FilePath(root.path).appending("srv/overlays").string, withIntermediateDirectories: true)
        try write("kernel image", at: "vmlinuz")
        try write("base initrd", at: "base.cpio.zst")
        let base = BaseManifest(
            identity: Self.baseIdentity, file: "base.cpio.zst", size: 11, sha256: String(repeating: "b", count: 64),
            kernel: kernelInManifest ? "vmlinuz" : nil, packages: ["bash-5.1-1.x86_64"])
        try write(String(decoding: try JSONEncoder.manifest.encode(base), as: UTF8.self), at: "base.json")
    }

    package func remove() { try? FileManager.default.removeItem(at: root) }

    package func write(_ text: String, at relative: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: served.appending(relative).string))
    }

    /// Writes `<folder>/<name>-<version>.json` and, unless `withFile` is false, the overlay file it names; with
    /// `headers`, also the `<name>-<version>.rpmheaders` it names (stand-in bytes too).
    package func addOverlay(
        _ name: String, _ version: String, base: String = FleetFixture.baseIdentity, folder: String = "overlays", withFile: Bool = true,
        format: String = "cpio.zst", headers: Bool = false
    ) throws {
        let file = "\(name)-\(version).\(format)"
        var manifest = OverlayManifest(
            name: name, version: version, summary: "\(name) plugin", format: format, file: file, size: 7,
            sha256: "\(name)\(version)".unicodeScalars.map { String($0.value, radix: 16) }.joined(), base: base,
            packages: ["\(name)-\(version)-1.noarch"], removed: [], requires: ["ovirt-node >= 3.0"])
        if headers { manifest.headers = "\(name)-\(version).rpmheaders" }
        try FileManager.default.createDirectory(atPath: served.appending(folder).string, withIntermediateDirectories: true)
        try write(String(decoding: try JSONEncoder.manifest.encode(manifest), as: UTF8.self), at: "\(folder)/\(name)-\(version).json")
        if withFile { try write("overlay", at: "\(folder)/\(file)") }
        if headers { try write("headers", at: "\(folder)/\(name)-\(version).rpmheaders") }
    }

    package func writeFleet(_ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: fleetFile.string))
    }

    package func load(_ text: String) throws -> Fleet {
        try writeFleet(text)
        return try Fleet.load(file: fleetFile, servedDirectory: served)
    }

    /// The message a user sees for `text`, or nil if it loads.
    package func error(_ text: String) throws -> String? {
        try writeFleet(text)
        do {
            _ = try Fleet.load(file: fleetFile, servedDirectory: served)
            return nil
        } catch {
            return error.description
        }
    }

    package static let header = """
        [base]
        kernel  = "vmlinuz"
        initrd  = ["base.cpio.zst"]
        cmdline = "console=ttyS0"

        """

    /// One node, 52:54:00:12:34:56, in role compute with the cim and vdsm overlays.
    package static let computeFleet =
        header + """
            [roles.compute]
            plugins = ["cim", "vdsm"]

            [[nodes]]
            mac  = "52:54:00:12:34:56"
            role = "compute"

            """

    /// What most serving tests start from: cim 1.0 and vdsm 1.2 built, `computeFleet` as the fleet file.
    package static func computeRole() throws -> FleetFixture {
        let fixture = try FleetFixture()
        try fixture.addOverlay("cim", "1.0")
        try fixture.addOverlay("vdsm", "1.2")
        try fixture.writeFleet(computeFleet)
        return fixture
    }
}
