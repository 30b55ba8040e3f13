import Foundation
import Fleet
import Formats
import SystemPackage

/// fleet.toml as `overlay serve` and `overlay boot-config` read it (`Fleet.load` reads UTF-8 text, else refuses
/// it, then `Fleet(parsing:file:servedDirectory:)`), against a served directory laid out the way `overlay base
/// create` and `overlay build` leave it. A fleet that loads has its boot files generated and answers lookups.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFleetTOML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    let fleet: Fleet
    do {
        fleet = try Fleet(parsing: text, file: "fleet.toml", servedDirectory: served)
    } catch {
        precondition(!error.description.isEmpty && !error.description.contains("\n"))
        return 0
    }
    let documents = fleet.bootDocuments()
    precondition(documents["boot.ipxe"] != nil && documents["ipxe/default"] != nil && documents["grub.cfg"] != nil)
    for node in fleet.nodes {
        precondition(fleet.document(at: "ipxe/\(node.mac.hyphenated)") != nil)
        precondition(fleet.document(at: "/pxelinux.cfg/01-\(node.mac.hyphenated)") != nil)
        checkBoot(node.boot)
    }
    for role in fleet.roles { checkBoot(role.boot) }
    _ = fleet.document(at: "ipxe/52-54-00-ff-ff-ff")
    _ = fleet.digest(of: "base.cpio.zst")
    return 0
}

/// Everything a boot loader reads from a fleet: relative plain paths and a command line without the characters
/// iPXE, PXELINUX or GRUB would interpret.
private func checkBoot(_ boot: Fleet.Boot) {
    for path in [boot.kernel] + boot.initrds {
        precondition(!path.isEmpty && !path.hasPrefix("/") && !path.split(separator: "/").contains { $0 == ".." || $0 == "." })
    }
    let refused: Set<Unicode.Scalar> = ["\"", "'", "`", "$", ";", "&", "|", "<", ">", "\\", "#", "{", "}"]
    precondition(
        !boot.cmdline.unicodeScalars.contains { refused.contains($0) || $0.value < 0x20 || $0.value == 0x7f }, "cmdline \(boot.cmdline.debugDescription)")
}

/// The served directory, made once per process and removed at exit: a kernel, a base initrd with its base.json,
/// and overlays with manifests (two versions of vdsm, one overlay in a sub-directory, one built for another base).
private let served: FilePath = {
    let root = FilePath(FileManager.default.temporaryDirectory.path).appending("overlay-fuzz-fleet-\(getpid())")
    let identity = "sha256:" + String(repeating: "1", count: 64)
    func write(_ relative: String, _ bytes: Data) {
        let path = root.appending(relative)
        try? FileManager.default.createDirectory(atPath: path.removingLastComponent().string, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path.string, contents: bytes) else { fatalError("cannot write \(path)") }
    }
    func json(_ value: some Encodable) -> Data {
        guard let data = try? JSONEncoder.manifest.encode(value) else { fatalError("cannot encode a manifest") }
        return data
    }
    write("vmlinuz", Data("kernel".utf8))
    write("base.cpio.zst", Data("base".utf8))
    write(
        "base.json",
        json(
            BaseManifest(
                identity: identity, file: "base.cpio.zst", size: 4, sha256: String(repeating: "b", count: 64), kernel: "vmlinuz",
                packages: ["bash-5.1-1.x86_64"])))
    for (folder, name, version, base) in [
        ("", "vdsm", "1.0", identity), ("", "vdsm", "1.1", identity), ("", "cim", "1.0", identity), ("overlays", "monitor", "2.0", identity),
        ("", "old", "0.9", "sha256:" + String(repeating: "2", count: 64)),
    ] {
        let file = "\(name)-\(version).cpio.zst"
        let prefix = folder.isEmpty ? "" : folder + "/"
        write(prefix + file, Data("overlay".utf8))
        write(
            prefix + "\(name)-\(version).json",
            json(
                OverlayManifest(
                    name: name, version: version, summary: name, format: "cpio.zst", file: file, size: 7,
                    sha256: String(repeating: "c", count: 64), base: base, packages: ["\(name)-\(version)-1.noarch"], removed: [], requires: [])))
    }
    atexit { try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("overlay-fuzz-fleet-\(getpid())").path) }
    return root
}()
