import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

@Suite struct BundleTests {
    /// Writes a tar with Python's tarfile from `entries`, Python expressions building TarInfo objects with
    /// `t(name, type, **fields)` and data `d`.
    static func hostileTar(_ path: FilePath, _ entries: [String]) throws {
        let script = """
            import io, sys, tarfile
            def t(name, kind=tarfile.REGTYPE, data=b"", **fields):
                info = tarfile.TarInfo(name); info.type = kind; info.size = len(data) if kind == tarfile.REGTYPE else 0
                for k, v in fields.items(): setattr(info, k, v)
                return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)
            with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as out:
                for info, data in [\(entries.joined(separator: ", "))]:
                    out.addfile(info, data)
            """
        try PackFixture.sh("python3 -c \(PackFixture.q(FilePath(script))) \(PackFixture.q(path))")
    }

    /// A plugin directory packed with GNU tar, compressed with gzip or zstd; named without a telling extension.
    @Test(arguments: ["--gzip", "--zstd", ""])
    func goodBundleExtracts(compression: String) throws {
        let dir = try PackFixture.scratch("bundle")
        defer { PackFixture.remove(dir) }
        let q = PackFixture.q
        try PackFixture.sh(
            """
            set -e; cd \(q(dir)); mkdir -p src/vdsm/repos src/vdsm/scripts
            printf 'name = "vdsm"\\n' > src/vdsm/plugin.toml
            printf '[x]\\n' > src/vdsm/repos/x.repo
            printf '#!/bin/sh\\n' > src/vdsm/scripts/run.sh; chmod 4755 src/vdsm/scripts/run.sh
            ln -s repos/x.repo src/vdsm/latest.repo
            ln src/vdsm/repos/x.repo src/vdsm/repos/same.repo
            chown 1234:1234 src/vdsm/plugin.toml
            tar -C src \(compression) -cf bundle.bin vdsm
            """)
        let target = dir.appending("out")
        let cwd = FileManager.default.currentDirectoryPath
        let plugin = try PluginBundle.extract(dir.appending("bundle.bin"), into: target)
        #expect(plugin == target.appending("vdsm"))
        // Extraction moved only its own thread's working directory.
        #expect(FileManager.default.currentDirectoryPath == cwd)
        let listing = try PackFixture.sh("cd \(q(plugin)) && find . -printf '%p %M %U:%G %l\\n' | sort")
        #expect(
            listing == """
                . drwxr-xr-x 0:0 \n./latest.repo lrwxrwxrwx 0:0 repos/x.repo
                ./plugin.toml -rw-r--r-- 0:0 \n./repos drwxr-xr-x 0:0 \n./repos/same.repo -rw-r--r-- 0:0 \n./repos/x.repo -rw-r--r-- 0:0 \n./scripts drwxr-xr-x 0:0 \n./scripts/run.sh -rwxr-xr-x 0:0 \n
                """)
        #expect(try PackFixture.sh("stat -c %h \(q(plugin))/repos/x.repo") == "2\n")
        #expect(try PackFixture.sh("stat -c %a \(q(target))") == "700\n")
        #expect(try PackFixture.sh("cat \(q(plugin))/latest.repo") == "[x]\n")
    }

    /// Tar writers differ: parents may be implicit or come after their children, directories may repeat.
    @Test func implicitAndRepeatedDirectories() throws {
        let dir = try PackFixture.scratch("dirs")
        defer { PackFixture.remove(dir) }
        let bundle = dir.appending("b.tar.gz")
        try Self.hostileTar(
            bundle,
            [
                "t('./p/repos/x.repo', data=b'[x]')", "t('p/plugin.toml', data=b'name = 1')",
                "t('p', tarfile.DIRTYPE, mode=0o755)", "t('p/', tarfile.DIRTYPE, mode=0o755)", "t('p/s', tarfile.SYMTYPE, linkname='repos/x.repo')",
            ])
        let plugin = try PluginBundle.extract(bundle, into: dir.appending("out"))
        #expect(plugin == dir.appending("out/p"))
        #expect(try PackFixture.sh("cat \(PackFixture.q(plugin))/s \(PackFixture.q(plugin))/plugin.toml") == "[x]name = 1")
    }

    @Test func flatBundleIsTheExtractionDirectory() throws {
        let dir = try PackFixture.scratch("flat")
        defer { PackFixture.remove(dir) }
        try PackFixture.sh("cd \(PackFixture.q(dir)) && mkdir src && echo 'name = \"x\"' > src/plugin.toml && tar -C src -czf b.tgz .")
        let target = dir.appending("out")
        #expect(try PluginBundle.extract(dir.appending("b.tgz"), into: target) == target)
        #expect(FileManager.default.fileExists(atPath: target.appending("plugin.toml").string))
        // A plugin directory is used in place.
        #expect(try PluginBundle.extract(dir.appending("src"), into: dir.appending("unused")) == dir.appending("src"))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("unused").string))
    }

    /// Hostile bundles are refused with the bundle and the entry named, and nothing is written anywhere.
    @Test(arguments: [
        (["t('vdsm/plugin.toml', data=b'x')", "t('/tmp/overlay-escape-abs', data=b'evil')"], "/tmp/overlay-escape-abs", "has an absolute path"),
        (
            ["t('vdsm/plugin.toml', data=b'x')", "t('vdsm/../../overlay-escape-dotdot', data=b'evil')"], "vdsm/../../overlay-escape-dotdot",
            "has a \"..\" component"
        ),
        (["t('etc', tarfile.SYMTYPE, linkname='/etc')", "t('etc/overlay-escape-sym', data=b'evil')"], "etc", "is a symlink to the absolute path \"/etc\""),
        (["t('up', tarfile.SYMTYPE, linkname='../..')", "t('up/overlay-escape-sym', data=b'evil')"], "up", "is a symlink to \"../..\", outside the bundle"),
        (
            ["t('real', tarfile.DIRTYPE)", "t('inside', tarfile.SYMTYPE, linkname='real')", "t('inside/x', data=b'evil')"], "inside/x",
            "lies below the symlink \"inside\""
        ),
        (["t('inside/x', data=b'evil')", "t('inside', tarfile.SYMTYPE, linkname='real')"], "inside/x", "lies below the symlink \"inside\""),
        (["t('f', data=b'x')", "t('f', tarfile.SYMTYPE, linkname='g')"], "f", "appears twice in the bundle"),
        (
            ["t('s', tarfile.SYMTYPE, linkname='.')", "t('a', tarfile.SYMTYPE, linkname='s/..')"], "a",
            "is a symlink to \"s/..\", which passes through another symlink"
        ),
        (["t('passwd', tarfile.LNKTYPE, linkname='/etc/passwd')"], "passwd", "is a hardlink to \"/etc/passwd\", outside the bundle"),
        (["t('p', tarfile.LNKTYPE, linkname='../../etc/passwd')"], "p", "is a hardlink to \"../../etc/passwd\", outside the bundle"),
        (
            ["t('later', tarfile.LNKTYPE, linkname='f')", "t('f', data=b'x')"], "later",
            "is a hardlink to \"f\", which is not a file stored earlier in the bundle"
        ),
        (["t('vdsm/plugin.toml', data=b'x')", "t('vdsm/null', tarfile.CHRTYPE, devmajor=1, devminor=3)"], "vdsm/null", "is a character device"),
        (["t('vdsm/fifo', tarfile.FIFOTYPE)"], "vdsm/fifo", "is a FIFO"),
    ])
    func hostileBundleIsRefused(entries: [String], entry: String, reason: String) throws {
        let dir = try PackFixture.scratch("hostile")
        defer { PackFixture.remove(dir) }
        try? FileManager.default.removeItem(atPath: "/tmp/overlay-escape-abs")
        let bundle = dir.appending("evil.tar.gz")
        try Self.hostileTar(bundle, entries)
        let passwd = try PackFixture.sh("sha256sum /etc/passwd")
        let target = dir.appending("work").appending("out")
        try FileManager.default.createDirectory(atPath: dir.appending("work").string, withIntermediateDirectories: false)
        #expect {
            try PluginBundle.extract(bundle, into: target)
        } throws: { error in
            "\(error)" == "the plugin bundle \(bundle) was refused: entry \"\(entry)\" \(reason); nothing was extracted"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.string).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appending("work").string) == ["out"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.string).sorted() == ["evil.tar.gz", "work"])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/overlay-escape-abs"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/overlay-escape-sym"))
        #expect(try PackFixture.sh("sha256sum /etc/passwd") == passwd)
    }

    @Test func notABundleAndBusyDirectory() throws {
        let dir = try PackFixture.scratch("notbundle")
        defer { PackFixture.remove(dir) }
        try PackFixture.sh("cd \(PackFixture.q(dir)) && echo hello > text && mkdir busy && touch busy/x && echo 'a' > a && tar -czf ok.tgz a")
        #expect { try PluginBundle.extract(dir.appending("text"), into: dir.appending("o1")) } throws: {
            "\($0)" == "\(dir)/text is not a plugin bundle: expected a plugin directory or a .tar, .tar.gz or .tar.zst of one"
        }
        #expect { try PluginBundle.extract(dir.appending("ok.tgz"), into: dir.appending("busy")) } throws: {
            "\($0)" == "cannot extract a plugin bundle into \(dir)/busy: the directory is not empty; use a new one"
        }
        try PackFixture.sh("cd \(PackFixture.q(dir)) && head -c 20 ok.tgz > cut.tgz")
        #expect { try PluginBundle.extract(dir.appending("cut.tgz"), into: dir.appending("o2")) } throws: { error in
            "\(error)".hasPrefix("the plugin bundle \(dir)/cut.tgz is damaged (")
        }
    }
}
