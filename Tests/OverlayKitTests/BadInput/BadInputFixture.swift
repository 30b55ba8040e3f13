import Foundation
import SystemPackage

@testable import OverlayKit
import TestSupport

/// What every bad-input case starts from, built once per test run: a real base image (sqlite rpmdb, and the same
/// package set as a Berkeley DB rpmdb), a good bundled repo of one real RPM, a repo of a package built for another
/// architecture, a served directory for fleets, and the two helper scripts the cases use to damage things.
/// Cases see these through environment variables in their shell set-up (`$BASE`, `$REPO`, …).
struct BadInputFixture: Sendable {
    let root: URL
    /// A base image root with an sqlite rpmdb at /var/lib/rpm.
    let base: URL

    /// The one fixture of the run; built by the first case that asks, removed when the test process exits.
    static let shared: Result<BadInputFixture, any Error> = Result {
        let fixture = try BadInputFixture()
        atexit {
            if case .success(let fixture) = BadInputFixture.shared { try? FileManager.default.removeItem(at: fixture.root) }
        }
        return fixture
    }

    static let tool = SpecPackage(name: "tool", files: ["/usr/share/tool/readme": "tool\n"])
    static let armTool = SpecPackage(name: "armtool", arch: "aarch64", files: ["/usr/share/armtool/readme": "arm\n"])

    /// The shell variables a case's set-up script sees.
    var environment: [String: String] {
        [
            "BASE": base.path, "REPO": path("repo"), "ARMREPO": path("armrepo"), "BDB": path("bdb-base"), "SRV": path("served"),
            "TAR": path("tools/tar.py"), "RECHECKSUM": path("tools/rechecksum.py"), "FLIP": path("tools/flip.py"),
        ]
    }

    private func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    private init() throws {
        root = try RPMFixture.temporaryDirectory("badinput")
        base = try RPMFixture.base(BaseFixture.packages, at: root.appendingPathComponent("base"))
        try RPMFixture.repo([Self.tool], at: root.appendingPathComponent("repo"))
        try Self.buildForeign(Self.armTool, into: root.appendingPathComponent("armrepo"))
        try RPMFixture.run(["createrepo_c", "--quiet", "--no-database", path("armrepo")])
        try Self.berkeleyDBCopy(of: base, at: root.appendingPathComponent("bdb-base"))
        try Self.servedDirectory(at: root.appendingPathComponent("served"))
        let tools = root.appendingPathComponent("tools")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        try Self.tarScript.write(to: tools.appendingPathComponent("tar.py"), atomically: true, encoding: .utf8)
        try Self.rechecksumScript.write(to: tools.appendingPathComponent("rechecksum.py"), atomically: true, encoding: .utf8)
        try Self.flipScript.write(to: tools.appendingPathComponent("flip.py"), atomically: true, encoding: .utf8)
    }

    /// rpmbuild refuses `BuildArch:` of an architecture this machine cannot build for; `--target` makes a package
    /// of any architecture from files alone.
    private static func buildForeign(_ package: SpecPackage, into directory: URL) throws {
        let top = try RPMFixture.temporaryDirectory("rpmbuild-foreign")
        defer { try? FileManager.default.removeItem(at: top) }
        let sources = top.appendingPathComponent("SOURCES")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        for (path, content) in package.files {
            try content.write(
                to: sources.appendingPathComponent("\(package.name)\(path.replacingOccurrences(of: "/", with: "_"))"), atomically: true, encoding: .utf8)
        }
        let spec = top.appendingPathComponent("\(package.name).spec")
        let text = package.specText(sourceDir: sources.path).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("BuildArch:") }.joined(separator: "\n")
        try text.write(to: spec, atomically: true, encoding: .utf8)
        try RPMFixture.run(
            [
                "rpmbuild", "--quiet", "--nodeps", "--target", package.arch, "--define", "_topdir \(top.path)", "--define", "_rpmdir \(directory.path)",
                "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", "-bb", spec.path,
            ],
            environment: ["SOURCE_DATE_EPOCH": "1700000000"])
    }

    /// The base's package set as a Berkeley DB rpmdb (RHEL 8 and older): the header blobs of the sqlite rpmdb,
    /// keyed by their record numbers, loaded into a hash database with db_load.
    private static func berkeleyDBCopy(of base: URL, at root: URL) throws {
        let dump = root.appendingPathExtension("dump")
        try RPMFixture.run(["mkdir", "-p", root.appendingPathComponent("var/lib/rpm").path])
        try RPMFixture.run([
            "python3", "-c",
            """
            import sqlite3, struct, sys
            db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
            with open(sys.argv[2], "w") as out:
                out.write("VERSION=3\\nformat=bytevalue\\ntype=hash\\nHEADER=END\\n")
                for hnum, blob in db.execute("SELECT hnum, blob FROM Packages"):
                    out.write(" %s\\n %s\\n" % (struct.pack("<I", hnum).hex(), bytes(blob).hex()))
                out.write("DATA=END\\n")
            """, base.appendingPathComponent("var/lib/rpm/rpmdb.sqlite").path, dump.path,
        ])
        try RPMFixture.run(["db5.3_load", "-f", dump.path, root.appendingPathComponent("var/lib/rpm/Packages").path])
    }

    /// A served directory as `overlay base create` and `overlay build` leave it (the files are stand-ins: a fleet
    /// reads manifests and checks that files exist): cim 1.0, vdsm 1.2 and 1.3, "foreign" built against another
    /// base, and "stale" whose overlay file is gone.
    private static func servedDirectory(at root: URL) throws {
        let fleet = try FleetFixture()
        defer { fleet.remove() }
        try fleet.addOverlay("cim", "1.0")
        try fleet.addOverlay("vdsm", "1.2")
        try fleet.addOverlay("vdsm", "1.3", folder: "overlays/newer")
        try fleet.addOverlay("foreign", "1.0", base: "sha256:" + String(repeating: "2", count: 64))
        try fleet.addOverlay("stale", "1.0", withFile: false)
        try FileManager.default.copyItem(atPath: fleet.served.string, toPath: root.path)
    }

    /// `python3 $TAR OUT tar|gz|zst "t(name, kind, data=…, **TarInfo fields), …"`: a tar with exactly the entries
    /// given, hostile ones included (Python's tarfile writes what it is told).
    static let tarScript = """
        import io, subprocess, sys, tarfile
        def t(name, kind=tarfile.REGTYPE, data=b"", **fields):
            info = tarfile.TarInfo(name); info.type = kind; info.size = len(data) if kind == tarfile.REGTYPE else 0
            for key, value in fields.items(): setattr(info, key, value)
            return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        out, compression = sys.argv[1], sys.argv[2]
        entries = eval("[" + sys.argv[3] + "]")
        raw = out + ".raw" if compression == "zst" else out
        with tarfile.open(raw, {"tar": "w", "gz": "w:gz", "zst": "w"}[compression], format=tarfile.GNU_FORMAT) as archive:
            for info, data in entries: archive.addfile(info, data)
        if compression == "zst":
            subprocess.run(["zstd", "-q", "--rm", "-f", raw, "-o", out], check=True)
        """

    /// `python3 $RECHECKSUM REPO`: makes a repo's metadata agree with its files as they now are (each package's
    /// sha256 and size in primary.xml when it can be read, each metadata file's checksums and sizes in
    /// repomd.xml), the way a repo that ships a broken file with consistent metadata looks. createrepo_c itself
    /// leaves out packages whose header is bad.
    static let rechecksumScript = """
        import glob, gzip, hashlib, os, re, sys
        repo = sys.argv[1]
        sha = lambda data: hashlib.sha256(data).hexdigest()
        def unpacked(path):
            try: return gzip.open(path).read()
            except Exception: return None
        primary = glob.glob(os.path.join(repo, "repodata", "*-primary.xml.gz"))[0]
        xml = unpacked(primary)
        if xml is not None and b"<package " in xml:
            def package(match):
                block = match.group(0)
                data = open(os.path.join(repo, re.search(r'<location href="([^"]+)"', block).group(1)), "rb").read()
                block = re.sub(r'(<checksum type="sha256" pkgid="YES">)[0-9a-f]+', lambda m: m.group(1) + sha(data), block)
                return re.sub(r'<size package="\\d+"', '<size package="%d"' % len(data), block)
            xml = re.sub(r"<package .*?</package>", package, xml.decode(), flags=re.S).encode()
            with gzip.GzipFile(primary, "wb", mtime=0) as out: out.write(xml)
        repomd_path = os.path.join(repo, "repodata", "repomd.xml")
        def entry(match):
            block = match.group(0)
            path = os.path.join(repo, re.search(r'<location href="([^"]+)"', block).group(1))
            if not os.path.exists(path): return block
            packed = open(path, "rb").read()
            block = re.sub(r'(<checksum type="sha256">)[0-9a-f]+', lambda m: m.group(1) + sha(packed), block)
            block = re.sub(r"<size>\\d+</size>", "<size>%d</size>" % len(packed), block)
            opened = unpacked(path)
            if opened is not None:
                block = re.sub(r'(<open-checksum type="sha256">)[0-9a-f]+', lambda m: m.group(1) + sha(opened), block)
                block = re.sub(r"<open-size>\\d+</open-size>", "<open-size>%d</open-size>" % len(opened), block)
            return block
        repomd = re.sub(r'<data type=".*?</data>', entry, open(repomd_path).read(), flags=re.S)
        open(repomd_path, "w").write(repomd)
        """

    /// `python3 $FLIP RPM header|payload`: inverts one byte in the middle of an RPM's main header (its data store)
    /// or of its payload, which rpm's header or payload digest then catches.
    static let flipScript = """
        import struct, sys
        path, part = sys.argv[1], sys.argv[2]
        data = bytearray(open(path, "rb").read())
        def header(offset):
            entries, store = struct.unpack(">II", data[offset + 8:offset + 16])
            return offset + 16 + 16 * entries, offset + 16 + 16 * entries + store
        signature_end = header(96)[1]
        store, header_end = header(signature_end + (8 - signature_end % 8) % 8)
        at = (store + header_end) // 2 if part == "header" else (header_end + len(data)) // 2
        data[at] ^= 0xFF
        open(path, "wb").write(data)
        """
}
