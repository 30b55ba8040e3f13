import TestSupport

/// Every bad input overlay must refuse, with the exact line a user reads and the exit status. `BadInput` explains
/// the placeholders; the helpers (`toml`, `repo`, `bundle`, `packages`, `base`, `fleet`) set up the common shapes.
enum BadInputCorpus {
    static let cases: [BadInput] = pluginToml + repoFiles + bundles + packages + repodata + bases + fleets + outputs + usage

    // MARK: plugin.toml

    static let pluginToml: [BadInput] = [
        .toml(
            "name is not a string", "name = 1\nversion = \"1.0\"\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:1: "name" must be a string such as name = "…", not an integer"#),
        .toml(
            "version is not a string", "name = \"tool\"\nversion = 1.0\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:2: "version" must be a string such as version = "…", not a floating-point number"#),
        .toml(
            "summary is not a string", "name = \"tool\"\nversion = \"1.0\"\nsummary = [\"x\"]\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:3: "summary" must be a string such as summary = "…", not an array"#),
        .toml(
            "packages is not an array", "name = \"tool\"\nversion = \"1.0\"\npackages = \"tool\"\n",
            #"overlay: plugin/plugin.toml:3: "packages" must be an array of strings such as packages = ["…"], not a string"#),
        .toml(
            "a package is not a string", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\", 2]\n",
            #"overlay: plugin/plugin.toml:3: packages[1] must be a string, not an integer"#),
        .toml(
            "a package is empty", "name = \"tool\"\nversion = \"1.0\"\npackages = [\" \", \"tool\"]\n",
            #"overlay: plugin/plugin.toml:3: packages[0] is an empty string; remove it or fill it in"#),
        .toml(
            "packages is empty", "name = \"tool\"\nversion = \"1.0\"\npackages = []\n",
            #"overlay: plugin/plugin.toml:3: "packages" is empty; name at least one package to install"#),
        .toml(
            "blacklist is not an array", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nblacklist = { doc = \"/usr/share/doc\" }\n",
            #"overlay: plugin/plugin.toml:4: "blacklist" must be an array of strings such as blacklist = ["…"], not a table"#),
        .toml(
            "a blacklist entry is not a string", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nblacklist = [true]\n",
            #"overlay: plugin/plugin.toml:4: blacklist[0] must be a string, not a boolean"#),
        .toml(
            "requires is not an array", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nrequires = \"kernel\"\n",
            #"overlay: plugin/plugin.toml:4: "requires" must be an array of strings such as requires = ["…"], not a string"#),
        .toml(
            "a requirement is a date", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nrequires = [1979-05-27]\n",
            #"overlay: plugin/plugin.toml:4: requires[0] must be a string, not a date"#),
        .toml(
            "an unknown key", "name = \"tool\"\nversion = \"1.0\"\npakages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:3: unknown key "pakages"; plugin.toml knows blacklist, modules, name, packages, requires, summary, version: fix the spelling or remove it"#
        ),
        .toml(
            "an unknown table", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\n[extra]\nx = 1\n",
            #"overlay: plugin/plugin.toml:4: unknown key "extra"; plugin.toml knows blacklist, modules, name, packages, requires, summary, version: fix the spelling or remove it"#
        ),
        .toml("no name", "version = \"1.0\"\npackages = [\"tool\"]\n", #"overlay: plugin/plugin.toml: missing "name"; add a line such as name = "…""#),
        .toml("no version", "name = \"tool\"\npackages = [\"tool\"]\n", #"overlay: plugin/plugin.toml: missing "version"; add a line such as version = "…""#),
        .toml("no packages", "name = \"tool\"\nversion = \"1.0\"\n", #"overlay: plugin/plugin.toml: missing "packages"; add a line such as packages = ["…"]"#),
        .toml(
            "a version with a space", "name = \"tool\"\nversion = \"1 0\"\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:2: version "1 0" may hold only letters, digits, '.', '_', '+' and '-'"#),
        .toml(
            "an empty version", "name = \"tool\"\nversion = \"\"\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:2: version "" may hold only letters, digits, '.', '_', '+' and '-'"#),
        .toml(
            "a name with a path in it", "name = \"../tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:1: name "../tool" may hold only letters, digits, '.', '_', '+' and '-', and must not start with '.' or '-'"#),
        .toml(
            "a name starting with a dash", "name = \"-tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\n",
            #"overlay: plugin/plugin.toml:1: name "-tool" may hold only letters, digits, '.', '_', '+' and '-', and must not start with '.' or '-'"#),
        .toml(
            "a relative blacklist glob", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nblacklist = [\"usr/share/doc/**\"]\n",
            #"overlay: plugin/plugin.toml:4: blacklist entry "usr/share/doc/**" must be an absolute path glob such as "/usr/share/doc/**""#),
        .toml(
            "a blacklist glob with an unclosed bracket", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nblacklist = [\"/usr/[share/doc\"]\n",
            #"overlay: plugin/plugin.toml:4: blacklist entry "/usr/[share/doc" has a "[" without its "]" in "[share"; close the bracket, or write \[ for a literal ["#
        ),
        .toml(
            "a blacklist glob with ** inside a name", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nblacklist = [\"/usr/share/**doc\"]\n",
            #"overlay: plugin/plugin.toml:4: blacklist entry "/usr/share/**doc" has ** inside a path component; ** stands for whole components only, as in "/usr/share/**/*.txt""#
        ),
        .toml(
            "a blacklist glob with ..", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nblacklist = [\"/usr/../etc/*\"]\n",
            #"overlay: plugin/plugin.toml:4: blacklist entry "/usr/../etc/*" contains ".."; write the path without . and .. components"#),
        .toml(
            "a requirement with an unknown operator", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nrequires = [\"kernel => 3.1\"]\n",
            #"overlay: plugin/plugin.toml:4: requirement "kernel => 3.1" has an unknown operator "=>"; use one of < <= = >= >"#),
        .toml(
            "a requirement without a version", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"tool\"]\nrequires = [\"kernel >=\"]\n",
            #"overlay: plugin/plugin.toml:4: requirement "kernel >=" is not of the form "name" or "name >= version""#),
        .toml(
            "TOML: an unterminated array", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"a\",\n",
            "overlay: plugin/plugin.toml:3:18: invalid TOML: error while parsing array: encountered end-of-file; fix the syntax at that position"),
        .toml(
            "TOML: a key given twice", "name = \"tool\"\nname = \"other\"\nversion = \"1.0\"\npackages = [\"tool\"]\n",
            "overlay: plugin/plugin.toml:2:8: invalid TOML: error while parsing key-value pair: cannot redefine existing string 'name'; fix the syntax at that position"
        ),
        .toml(
            "TOML: text after a value", "name = \"tool\"\nversion = \"1.0\"\npackages = [\"a\"] x\n",
            "overlay: plugin/plugin.toml:3:18: invalid TOML: error while parsing key-value pair: expected a comment or whitespace, saw 'x'; fix the syntax at that position"
        ),
        BadInput(
            name: "plugin.toml: not UTF-8", setup: { try $0.sh(#"mkdir plugin && printf 'name = "\377"\n' > plugin/plugin.toml"#) },
            arguments: BadInput.build(), status: 1, stderr: "overlay: plugin/plugin.toml:1:9: the byte 0xFF is not UTF-8 text; save the file as UTF-8"),
        BadInput(
            name: "plugin.toml: missing", setup: { try $0.sh("mkdir -p plugin/rpms") }, arguments: BadInput.build(), status: 1,
            stderr: "overlay: plugin has no plugin.toml; a plugin directory holds plugin.toml, and optionally repos/*.repo, rpms/ and keys/"),
        BadInput(
            name: "plugin.toml: a directory", setup: { try $0.sh("mkdir -p plugin/plugin.toml") }, arguments: BadInput.build(), status: 1,
            stderr: "overlay: plugin/plugin.toml is a directory; plugin.toml must be a TOML file naming the plugin and its packages"),
        BadInput(
            name: "plugin: does not exist", setup: { _ in }, arguments: BadInput.build("nowhere"), status: 1,
            stderr: "overlay: plugin nowhere does not exist; give a plugin directory or a .tar, .tar.gz or .tar.zst bundle of one"),
        BadInput(
            name: "plugin: two with one name", setup: { try $0.plugin(rpms: true, then: "cp -r plugin again") },
            arguments: BadInput.build() + ["--plugin", "again"], status: 1,
            stderr: #"overlay: again: plugin name "tool" is already used by plugin; plugin names must be unique"#),
    ]

    // MARK: .repo files

    static let repoFiles: [BadInput] = [
        .repo(
            "a relative baseurl", "[x]\nbaseurl=repos/x\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" baseurl "repos/x" is not a file://, http:// or https:// URL; write an absolute URL such as file:///srv/repo or https://host/path"#
        ),
        .repo(
            "an unknown scheme", "[x]\nbaseurl=ftp://mirror.example/x\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" baseurl "ftp://mirror.example/x" is not a file://, http:// or https:// URL; write an absolute URL such as file:///srv/repo or https://host/path"#
        ),
        .repo(
            "an empty baseurl", "[x]\nname=X\nbaseurl=\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" has an empty baseurl; write baseurl=file:///path or baseurl=https://host/path"#),
        .repo(
            "a mirrorlist only", "[x]\nmirrorlist=https://mirrors.example/list?repo=x\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" has only a mirrorlist, which overlay does not support; pick a mirror and give its URL as baseurl=https://mirror.example/path"#
        ),
        .repo(
            "a metalink only", "[x]\nmetalink=https://mirrors.example/metalink?repo=x\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" has only a metalink, which overlay does not support; pick a mirror and give its URL as baseurl=https://mirror.example/path"#
        ),
        .repo(
            "no baseurl", "[x]\nname=X\nenabled=1\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" has no baseurl; add baseurl=file:///path or http://host/path"#),
        .repo(
            "a key before any section", "baseurl=file:///srv/x\n[x]\nbaseurl=file:///srv/x\n",
            #"overlay: plugin/repos/x.repo:1: "baseurl" stands before any [repo-id] section; start the repo with a line such as [myrepo] above it"#),
        .repo(
            "a section id twice", "[x]\nbaseurl=file:///srv/x\n\n[x]\nbaseurl=file:///srv/y\n",
            #"overlay: plugin/repos/x.repo:4: repo id "x" is already defined at plugin/repos/x.repo:1; give each repo an id of its own"#),
        BadInput(
            name: ".repo: one id in two files",
            setup: { try $0.plugin(rpms: true, repos: ["a.repo": "[x]\nbaseurl=file:///srv/a\n", "b.repo": "[x]\nbaseurl=file:///srv/b\n"]) },
            arguments: BadInput.build(), status: 1,
            stderr: #"overlay: plugin/repos/b.repo:1: repo id "x" is already defined at plugin/repos/a.repo:1; give each repo an id of its own"#),
        .repo(
            "a line without =", "[x]\nbaseurl file:///srv/x\n",
            #"overlay: plugin/repos/x.repo:2: expected key=value or [repo-id], found "baseurl file:///srv/x"; fix the line or start it with # to make it a comment"#
        ),
        .repo("an unclosed section header", "[x\nbaseurl=file:///srv/x\n", #"overlay: plugin/repos/x.repo:1: malformed section header "[x"; write [repo-id]"#),
        .repo(
            "a section id with a space", "[my repo]\nbaseurl=file:///srv/x\n",
            #"overlay: plugin/repos/x.repo:1: repo id "my repo" may hold only letters, digits, '-', '_', '.' and ':'; rename the section"#),
        .repo(
            "a variable overlay does not expand", "[x]\nbaseurl=https://mirror.example/$releasever/x\n",
            #"overlay: plugin/repos/x.repo:1: repo "x" baseurl uses $releasever, which overlay does not expand; write the value out"#),
        BadInput(
            name: ".repo: not UTF-8", setup: { try $0.plugin(rpms: true, then: #"mkdir plugin/repos && printf '[x]\nname=\351\n' > plugin/repos/x.repo"#) },
            arguments: BadInput.build(), status: 1, stderr: "overlay: plugin/repos/x.repo:2:6: the byte 0xE9 is not UTF-8 text; save the file as UTF-8"),
        .repo(
            "--enablerepo names no repo", "[x]\nbaseurl=file:///srv/x\n",
            "overlay: --enablerepo nosuch: no plugin defines a repo with that id; defined repos: x",
            arguments: BadInput.build("plugin", ["--enablerepo", "nosuch"])),
        .repo(
            "an --enablerepo glob matches no repo", "[x]\nbaseurl=file:///srv/x\n",
            "overlay: --enablerepo 'mon*': no plugin defines a repo whose id matches it; defined repos: x",
            arguments: BadInput.build("plugin", ["--enablerepo", "x,mon*"])),
        .repo(
            "--disablerepo names no repo", "[x]\nbaseurl=file:///srv/x\n",
            "overlay: --disablerepo nosuch: no plugin defines a repo with that id; defined repos: x",
            arguments: BadInput.build("plugin", ["--disablerepo", "nosuch"])),
        .repo(
            "an enabled repo without metadata", "[x]\nbaseurl=file:///nonexistent/x\n",
            #"plugin "tool": repo "x": there is no repo metadata at /nonexistent/x/repodata/repomd.xml; run createrepo_c on the repo directory, or fix the repo's baseurl"#,
            arguments: BadInput.build("plugin", ["--enablerepo", "x"])),
    ]

    // MARK: plugin bundles

    /// A good plugin, as a directory `plugin` to pack.
    static let goodPlugin = #"mkdir plugin && printf 'name = "tool"\nversion = "1.0"\npackages = ["tool"]\n' > plugin/plugin.toml && cp -r "$REPO" plugin/rpms"#
    /// A plugin directory `plugin` of fixed bytes, and `tar` options that pack it the same way every time: a byte
    /// changed at a fixed offset of its compressed form meets the decompressor at the same spot on every run.
    static let fixedPlugin =
        #"mkdir plugin && printf 'name = "tool"\nversion = "1.0"\npackages = ["tool"]\n' > plugin/plugin.toml && seq 1 20000 > plugin/data"#
    static let fixedTar = "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu"

    static let bundles: [BadInput] = [
        .bundle(
            "a .. entry", "evil.tar", #"python3 "$TAR" evil.tar tar "t('plugin/plugin.toml', data=b'x'), t('plugin/../../escaped', data=b'evil')""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/../../escaped" has a ".." component; nothing was extracted"#),
        .bundle(
            "an absolute path", "evil.tar.gz", #"python3 "$TAR" evil.tar.gz gz "t('plugin/plugin.toml', data=b'x'), t('/tmp/escaped', data=b'evil')""#,
            #"overlay: the plugin bundle evil.tar.gz was refused: entry "/tmp/escaped" has an absolute path; nothing was extracted"#),
        .bundle(
            "a symlink out, then a file through it", "evil.tar.zst",
            #"python3 "$TAR" evil.tar.zst zst "t('plugin/etc', tarfile.SYMTYPE, linkname='../../../etc'), t('plugin/etc/cron.d/evil', data=b'evil')""#,
            #"overlay: the plugin bundle evil.tar.zst was refused: entry "plugin/etc" is a symlink to "../../../etc", outside the bundle; nothing was extracted"#
        ),
        .bundle(
            "an absolute symlink, then a file through it", "evil.tar",
            #"python3 "$TAR" evil.tar tar "t('plugin/etc', tarfile.SYMTYPE, linkname='/etc'), t('plugin/etc/evil', data=b'evil')""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/etc" is a symlink to the absolute path "/etc"; nothing was extracted"#),
        .bundle(
            "a file below a symlink inside", "evil.tar",
            #"python3 "$TAR" evil.tar tar "t('plugin/real', tarfile.DIRTYPE), t('plugin/in', tarfile.SYMTYPE, linkname='real'), t('plugin/in/x', data=b'x')""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/in/x" lies below the symlink "plugin/in"; nothing was extracted"#),
        .bundle(
            "a hardlink out", "evil.tar", #"python3 "$TAR" evil.tar tar "t('plugin/passwd', tarfile.LNKTYPE, linkname='/etc/passwd')""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/passwd" is a hardlink to "/etc/passwd", outside the bundle; nothing was extracted"#
        ),
        .bundle(
            "a hardlink up", "evil.tar.gz", #"python3 "$TAR" evil.tar.gz gz "t('plugin/shadow', tarfile.LNKTYPE, linkname='../../etc/shadow')""#,
            #"overlay: the plugin bundle evil.tar.gz was refused: entry "plugin/shadow" is a hardlink to "../../etc/shadow", outside the bundle; nothing was extracted"#
        ),
        .bundle(
            "a character device", "evil.tar", #"python3 "$TAR" evil.tar tar "t('plugin/mem', tarfile.CHRTYPE, devmajor=1, devminor=1)""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/mem" is a character device; nothing was extracted"#),
        .bundle(
            "a block device", "evil.tar", #"python3 "$TAR" evil.tar tar "t('plugin/sda', tarfile.BLKTYPE, devmajor=8, devminor=0)""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/sda" is a block device; nothing was extracted"#),
        .bundle(
            "a FIFO", "evil.tar", #"python3 "$TAR" evil.tar tar "t('plugin/pipe', tarfile.FIFOTYPE)""#,
            #"overlay: the plugin bundle evil.tar was refused: entry "plugin/pipe" is a FIFO; nothing was extracted"#),
        .bundle(
            "a truncated gzip", "cut.tar.gz",
            goodPlugin + " && tar -czf full.tar.gz plugin && head -c 300 full.tar.gz > cut.tar.gz && rm -r plugin full.tar.gz",
            "overlay: the plugin bundle cut.tar.gz is damaged (truncated gzip input): rebuild or download it again"),
        .bundle(
            "a corrupt gzip", "bad.tar.gz",
            fixedPlugin
                + " && \(fixedTar) -cf - plugin | gzip -n > bad.tar.gz && rm -r plugin && printf '\\377\\377\\377\\377\\377\\377\\377\\377' | dd of=bad.tar.gz bs=1 seek=100 conv=notrunc 2>/dev/null",
            "overlay: the plugin bundle bad.tar.gz is damaged (gzip decompression failed): rebuild or download it again"),
        .bundle(
            "a truncated zstd", "cut.tar.zst",
            goodPlugin + " && tar --zstd -cf full.tar.zst plugin && head -c 300 full.tar.zst > cut.tar.zst && rm -r plugin full.tar.zst",
            "overlay: the plugin bundle cut.tar.zst is damaged (Truncated zstd input): rebuild or download it again"),
        .bundle(
            "a corrupt zstd", "bad.tar.zst",
            fixedPlugin
                + " && \(fixedTar) -cf - plugin | zstd -q -o bad.tar.zst && rm -r plugin && printf '\\377\\377\\377\\377\\377\\377\\377\\377' | dd of=bad.tar.zst bs=1 seek=100 conv=notrunc 2>/dev/null",
            "overlay: the plugin bundle bad.tar.zst is damaged (Zstd decompression failed: Restored data doesn't match checksum): rebuild or download it again"
        ),
        .bundle(
            "a truncated tar", "cut.tar", goodPlugin + " && tar -cf full.tar plugin && head -c 2000 full.tar > cut.tar && rm -r plugin full.tar",
            "overlay: the plugin bundle cut.tar is damaged (Truncated tar archive): rebuild or download it again"),
        .bundle(
            "0 bytes", "empty.tar.gz", ": > empty.tar.gz",
            "overlay: the plugin bundle empty.tar.gz is damaged (it is empty, 0 bytes): rebuild or download it again"),
        .bundle(
            "not an archive", "notes.tar", "echo 'plugin notes' > notes.tar",
            "overlay: notes.tar is not a plugin bundle: expected a plugin directory or a .tar, .tar.gz or .tar.zst of one"),
        .bundle(
            "no plugin.toml inside", "docs.tar.gz", "mkdir docs && echo hello > docs/README && tar -czf docs.tar.gz docs && rm -r docs",
            "overlay: docs.tar.gz has no plugin.toml; a plugin directory holds plugin.toml, and optionally repos/*.repo, rpms/ and keys/"),
    ]

    // MARK: packages in the bundled repo

    static let rpm = "plugin/rpms/tool-1.0-1.noarch.rpm"

    static let packages: [BadInput] = [
        .packages(
            "RPM: truncated (metadata agreeing)", #"head -c 3000 \#(rpm) > cut && mv cut \#(rpm) && python3 "$RECHECKSUM" plugin/rpms"#,
            #"plugin "tool": the package file {case}/\#(rpm) is not a usable RPM (its header or signature header is damaged; rpm: signature hdr blob(4388): BAD, read returned 0): download it again or check the repository it came from"#
        ),
        .packages(
            "RPM: bad header digest (metadata agreeing)", #"python3 "$FLIP" \#(rpm) header && python3 "$RECHECKSUM" plugin/rpms"#,
            #"plugin "tool": the package file {case}/\#(rpm) is not a usable RPM (its header or signature header is damaged; rpm: Header SHA256 digest: BAD (Expected {sha256} != {sha256}); Header SHA1 digest: BAD (Expected {sha1} != {sha1})): download it again or check the repository it came from"#
        ),
        .packages(
            "RPM: bad payload digest (metadata agreeing)", #"python3 "$FLIP" \#(rpm) payload && python3 "$RECHECKSUM" plugin/rpms"#,
            #"plugin "tool": the package file {case}/\#(rpm) is not a usable RPM (package tool-1.0-1.noarch does not verify: Payload SHA256 ALT digest: BAD (Expected {sha256} != {sha256})): download it again or check the repository it came from"#
        ),
        .packages(
            "RPM: not an RPM at all (metadata agreeing)", #"echo 'not a package' > \#(rpm) && python3 "$RECHECKSUM" plugin/rpms"#,
            #"plugin "tool": the package file {case}/\#(rpm) is not a usable RPM (it has no RPM lead and header): download it again or check the repository it came from"#
        ),
        .packages(
            "RPM: checksum differs from primary.xml", #"python3 "$FLIP" \#(rpm) payload"#,
            #"plugin "tool": tool-1.0-1.noarch (\#(rpm)) has checksum {sha256}, but the repo metadata says {sha256}; the repo changed or the file is corrupt: refresh the repo"#
        ),
        .packages(
            "RPM: listed but missing", "rm \(rpm)",
            #"plugin "tool": cannot read \#(rpm): the repo metadata lists it, but the file does not exist; regenerate the repo with createrepo_c"#),
        .packages(
            "RPM: built for another architecture", #"rm -r plugin/rpms && cp -r "$ARMREPO" plugin/rpms"#,
            #"plugin "tool": package "armtool" is in tool-bundled only for aarch64, which cannot be installed on x86_64; add a noarch or x86_64 build of it, or solve for that architecture with --arch aarch64"#,
            status: 3, toml: "name = \"tool\"\nversion = \"1.0\"\npackages = [\"armtool\"]\n"),
    ]

    // MARK: repo metadata

    static let repodata: [BadInput] = [
        .packages(
            "repodata: primary.xml.gz holds no XML",
            #"f=$(echo plugin/rpms/repodata/*-primary.xml.gz) && echo garbage | gzip > $f && python3 "$RECHECKSUM" plugin/rpms"#,
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/{sha256}-primary.xml.gz: repo_rpmmd: syntax error at line 1:0; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: primary.xml.gz is not gzip",
            #"f=$(echo plugin/rpms/repodata/*-primary.xml.gz) && head -c 64 \#(rpm) > $f && python3 "$RECHECKSUM" plugin/rpms"#,
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/{sha256}-primary.xml.gz: repo_rpmmd: not well-formed (invalid token) at line 1:0; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: primary.xml.gz differs from repomd.xml",
            #"f=$(echo plugin/rpms/repodata/*-primary.xml.gz) && zcat $f | sed 's/test package/changed/' | gzip > new && mv new $f"#,
            #"plugin "tool": repo "tool-bundled": plugin/rpms/repodata/{sha256}-primary.xml.gz has checksum {sha256}, but the repo metadata says {sha256}; the repo changed or the file is corrupt: refresh the repo"#
        ),
        .packages(
            "repodata: filelists missing", "rm plugin/rpms/repodata/*-filelists.xml.gz",
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/repomd.xml: it lists repodata/{sha256}-filelists.xml.gz, which does not exist; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: primary missing", "rm plugin/rpms/repodata/*-primary.xml.gz",
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/repomd.xml: it lists repodata/{sha256}-primary.xml.gz, which does not exist; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: repomd.xml is not XML", "echo 'not xml at all' > plugin/rpms/repodata/repomd.xml",
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/repomd.xml: repo_repomdxml: syntax error at line 1:0; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: repomd.xml is empty", ": > plugin/rpms/repodata/repomd.xml",
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/repomd.xml: repomd.xml is empty; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: repomd.xml lists no primary", #"sed -i '/<data type="primary">/,/<\/data>/d' plugin/rpms/repodata/repomd.xml"#,
            #"plugin "tool": repo "tool-bundled": cannot read repo metadata plugin/rpms/repodata/repomd.xml: repomd.xml lists no primary metadata; regenerate it with createrepo_c"#
        ),
        .packages(
            "repodata: missing altogether", "rm -r plugin/rpms/repodata",
            "overlay: cannot read plugin/rpms: the bundled repo has no repodata/repomd.xml; run createrepo_c plugin/rpms"),
    ]

    // MARK: base images

    static let bases: [BadInput] = [
        .base(
            "no rpmdb", "mkdir -p base/etc",
            "overlay: base {case}/base has no rpmdb (looked for rpmdb.sqlite, Packages or Packages.db in usr/lib/sysimage/rpm and var/lib/rpm); --base takes an unpacked image root"
        ),
        .base(
            "an empty rpmdb", "mkdir base && rpm --root \"$PWD/base\" --dbpath /var/lib/rpm --define '_db_backend sqlite' --initdb 2>/dev/null",
            "overlay: the rpmdb of base {case}/base (/var/lib/rpm) lists no installed packages; a base image must have its package set recorded"),
        .base(
            "an rpmdb.sqlite that is not sqlite", "mkdir -p base/var/lib/rpm && head -c 8192 /dev/urandom > base/var/lib/rpm/rpmdb.sqlite",
            "overlay: cannot read the rpmdb of base {case}/base: /var/lib/rpm/rpmdb.sqlite: file is not a database; the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root {case}/base --rebuilddb)"
        ),
        .base(
            "an rpmdb.sqlite of 0 bytes", "mkdir -p base/var/lib/rpm && : > base/var/lib/rpm/rpmdb.sqlite",
            "overlay: cannot read the rpmdb of base {case}/base: /var/lib/rpm/rpmdb.sqlite is empty (0 bytes); the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root {case}/base --rebuilddb)"
        ),
        .base(
            "an rpmdb.sqlite that is a directory", "mkdir -p base/usr/lib/sysimage/rpm/rpmdb.sqlite",
            "overlay: cannot read the rpmdb of base {case}/base: /usr/lib/sysimage/rpm/rpmdb.sqlite is not a regular file; the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root {case}/base --rebuilddb)"
        ),
        .base(
            "a Packages file that is not Berkeley DB", "mkdir -p base/var/lib/rpm && head -c 16384 /dev/urandom > base/var/lib/rpm/Packages",
            "overlay: cannot read the rpmdb of base {case}/base: /var/lib/rpm/Packages: not a berkeley db hash/btree database; the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root {case}/base --rebuilddb)"
        ),
        .base(
            "a Berkeley DB rpmdb (build)", #"cp -a "$BDB" base"#,
            #"plugin "tool": the base image at {case}/base has no usable rpm database at /var/lib/rpm (it is a Berkeley DB rpmdb, which this rpm can read but not update): convert it in a copy of the image with rpm --root COPY --dbpath /var/lib/rpm --define '_db_backend sqlite' --rebuilddb, or use a base with an sqlite rpmdb (RHEL 9, CentOS Stream 9, Fedora 33 and later)"#
        ),
        .base(
            "an ndb rpmdb", "mkdir -p base/usr/lib/sysimage/rpm && head -c 4096 /dev/urandom > base/usr/lib/sysimage/rpm/Packages.db",
            "overlay: cannot read the rpmdb of base {case}/base: /usr/lib/sysimage/rpm/Packages.db is an ndb rpmdb (openSUSE), which this rpm cannot read; the image's rpm database is damaged or in a format rpm cannot read: unpack the image again or rebuild its rpmdb (rpm --root {case}/base --rebuilddb)",
            command: "plan"),
        BadInput(
            name: "base: does not exist", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build(base: "nowhere"), status: 1,
            stderr:
                "overlay: base nowhere does not exist; --base takes a root directory, an initramfs (cpio newc, plain or gzip/xz/zstd-compressed, several concatenated), a squashfs image or a live ISO"
        ),
        BadInput(
            name: "base: a file", setup: { try $0.plugin(rpms: true, then: "echo image > base.img") }, arguments: BadInput.build(base: "base.img"), status: 1,
            stderr:
                "overlay: base base.img is unknown data (first bytes 69 6d 61 67 65 0a); --base takes a root directory, an initramfs (cpio newc, plain or gzip/xz/zstd-compressed, several concatenated), a squashfs image or a live ISO"
        ),
    ]

    // MARK: fleet.toml

    static let fleets: [BadInput] = [
        .fleet(
            "TOML syntax", "[base]\nkernel = \"vmlinuz\"\ninitrd = [\"base.cpio.zst\"\n",
            "overlay: fleet.toml:3:27: invalid TOML: error while parsing array: encountered end-of-file; fix the syntax at that spot"),
        .fleet(
            "an unknown top-level key", BadInput.fleetBase + "[[node]]\nmac = \"52:54:00:12:34:56\"\n",
            "overlay: fleet.toml: unknown key node: the keys allowed there are base, roles, nodes, defaults; fix the spelling or remove it"),
        .fleet(
            "an unknown key in a role", BadInput.fleetBase + "[roles.compute]\nplugin = [\"cim\"]\n",
            "overlay: fleet.toml: unknown key roles.compute.plugin: the keys allowed there are plugins, cmdline, wins, max_initrd, max_unpacked; fix the spelling or remove it"
        ),
        .fleet(
            "an unknown key in a node", BadInput.fleetBase + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"compute\"\nhost = \"a\"\n",
            "overlay: fleet.toml: unknown key nodes[0].host: the keys allowed there are mac, role, cmdline; fix the spelling or remove it"),
        .fleet(
            "an unknown key in base", "[base]\ninitrd = [\"base.cpio.zst\"]\nkernels = \"vmlinuz\"\n",
            "overlay: fleet.toml: unknown key base.kernels: the keys allowed there are kernel, initrd, cmdline; fix the spelling or remove it"),
        .fleet(
            "an unknown key in defaults", BadInput.fleetBase + "[roles.compute]\n[defaults]\nrol = \"compute\"\n",
            "overlay: fleet.toml: unknown key defaults.rol: the keys allowed there are role, max_initrd, max_unpacked; fix the spelling or remove it"),
        .fleet("no [base]", "[roles.compute]\n", "overlay: fleet.toml: [base] is missing: add a [base] table with the kernel and initrd the nodes boot"),
        .fleet("base is not a table", "base = \"vmlinuz\"\n", "overlay: fleet.toml: base must be a table, not a string"),
        .fleet(
            "no initrd", "[base]\nkernel = \"vmlinuz\"\n",
            #"overlay: fleet.toml: base.initrd is missing: list the base initrd files, for example initrd = ["base.cpio.zst"]"#),
        .fleet(
            "an empty initrd list", "[base]\nkernel = \"vmlinuz\"\ninitrd = []\n",
            #"overlay: fleet.toml: base.initrd: the list is empty; list at least the base initrd, for example initrd = ["base.cpio.zst"]"#),
        .fleet("initrd is a string", "[base]\ninitrd = \"base.cpio.zst\"\n", "overlay: fleet.toml: base.initrd must be an array of strings, not a string"),
        .fleet("an initrd is a number", "[base]\ninitrd = [\"base.cpio.zst\", 2]\n", "overlay: fleet.toml: base.initrd[1] must be a string, not an integer"),
        .fleet("a role is not a table", BadInput.fleetBase + "[roles]\ncompute = 1\n", "overlay: fleet.toml: roles.compute must be a table, not an integer"),
        .fleet(
            "a role name with a space", BadInput.fleetBase + "[roles.\"my role\"]\n",
            #"overlay: fleet.toml: roles."my role": a role name may contain only letters, digits and . _ - + ~ @; rename the role"#),
        .fleet(
            "an empty plugin name", BadInput.fleetBase + "[roles.compute]\nplugins = [\"\"]\n",
            #"overlay: fleet.toml: roles.compute.plugins[0]: the plugin name is empty; write the plugin's name, for example "vdsm""#),
        .fleet(
            "a cmdline with ;", BadInput.fleetBase + "[roles.compute]\ncmdline = \"quiet; reboot\"\n",
            #"overlay: fleet.toml: roles.compute.cmdline: the command line contains ';', which iPXE, PXELINUX or GRUB would interpret; write plain kernel parameters without " ' ` $ ; & | < > \ # { } or control characters"#
        ),
        .fleet(
            "a cmdline with a control character", "[base]\nkernel = \"vmlinuz\"\ninitrd = [\"base.cpio.zst\"]\ncmdline = \"quiet\\tdebug\"\n",
            #"overlay: fleet.toml: base.cmdline: the command line contains a control character, which iPXE, PXELINUX or GRUB would interpret; write plain kernel parameters without " ' ` $ ; & | < > \ # { } or control characters"#
        ),
        .fleet(
            "a cmdline that is not a string", BadInput.fleetBase + "[roles.compute]\ncmdline = [\"quiet\"]\n",
            "overlay: fleet.toml: roles.compute.cmdline must be a string, not an array"),
        .fleet(
            "nodes as a table", BadInput.fleetBase + "[nodes]\nmac = \"52:54:00:12:34:56\"\n",
            "overlay: fleet.toml: nodes must be an array of tables, written [[nodes]], not a table"),
        .fleet(
            "a node without mac", BadInput.fleetBase + "[roles.compute]\n[[nodes]]\nrole = \"compute\"\n",
            #"overlay: fleet.toml: nodes[0].mac is missing: give each node its MAC address, for example mac = "52:54:00:12:34:56""#),
        .fleet(
            "a malformed MAC", BadInput.fleetBase + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34\"\nrole = \"compute\"\n",
            #"overlay: fleet.toml: nodes[0].mac "52:54:00:12:34" is not a MAC address: write six two-digit hex bytes such as 52:54:00:12:34:56 or 52-54-00-12-34-56"#
        ),
        .fleet(
            "a MAC twice",
            BadInput.fleetBase
                + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"compute\"\n[[nodes]]\nmac = \"52-54-00-12-34-56\"\nrole = \"compute\"\n",
            "overlay: fleet.toml: nodes[1].mac 52:54:00:12:34:56 is already listed at nodes[0].mac: list each node once"),
        .fleet(
            "a node with an unknown role", BadInput.fleetBase + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\nrole = \"compte\"\n",
            #"overlay: fleet.toml: nodes[0].role names role "compte", which has no [roles.compte] table (defined roles: compute); add the role or fix the name"#
        ),
        .fleet(
            "a default role that does not exist", BadInput.fleetBase + "[defaults]\nrole = \"compute\"\n",
            #"overlay: fleet.toml: defaults.role names role "compute", which has no [roles.compute] table (the file defines no roles); add the role or fix the name"#
        ),
        .fleet(
            "a node without a role and no default", BadInput.fleetBase + "[roles.compute]\n[[nodes]]\nmac = \"52:54:00:12:34:56\"\n",
            "overlay: fleet.toml: nodes[0].role is missing: give the node a role, or set one for all nodes with [defaults] role"),
        .fleet(
            "the kernel is missing", "[base]\nkernel = \"bzImage\"\ninitrd = [\"base.cpio.zst\"]\n",
            "overlay: fleet.toml: base.kernel: bzImage does not exist (served directory srv); put the kernel there or fix the path"),
        .fleet(
            "the kernel is outside", "[base]\nkernel = \"../vmlinuz\"\ninitrd = [\"base.cpio.zst\"]\n",
            #"overlay: fleet.toml: base.kernel: ../vmlinuz contains ".." (served directory srv); put the kernel there or fix the path"#),
        .fleet(
            "the kernel is a symlink", "[base]\nkernel = \"linux\"\ninitrd = [\"base.cpio.zst\"]\n",
            "overlay: fleet.toml: base.kernel: srv/linux is a symbolic link, which the server does not follow (served directory srv); put the kernel there or fix the path",
            more: "ln -s vmlinuz srv/linux"),
        .fleet(
            "an initrd is absolute", "[base]\nkernel = \"vmlinuz\"\ninitrd = [\"/boot/initrd.img\"]\n",
            "overlay: fleet.toml: base.initrd[0]: /boot/initrd.img is absolute (served directory srv); put the base initrd there (overlay base create writes it) or fix the path"
        ),
        .fleet(
            "no kernel named anywhere", "[base]\ninitrd = [\"base.cpio.zst\"]\n",
            #"overlay: fleet.toml: base.kernel is missing: name the kernel file, for example kernel = "vmlinuz""#, more: #"sed -i '/"kernel"/d' srv/base.json"#
        ),
        .fleet(
            "base.json describes another initrd", "[base]\nkernel = \"vmlinuz\"\ninitrd = [\"other.cpio.zst\"]\n",
            "overlay: fleet.toml: base.initrd[0]: srv/base.json describes the base initrd base.cpio.zst, not other.cpio.zst; list base.cpio.zst first or recreate the base",
            more: "echo other > srv/other.cpio.zst"),
        .fleet(
            "an overlay that is not there", BadInput.fleetBase + "[roles.compute]\nplugins = [\"vdsmx\"]\n",
            #"overlay: fleet.toml: roles.compute.plugins[0]: no overlay for plugin "vdsmx" in srv (overlays found: cim-1.0, foreign-1.0, stale-1.0, vdsm-1.2, vdsm-1.3); build it with overlay build into that directory or fix the name"#
        ),
        .fleet(
            "an overlay in two versions", BadInput.fleetBase + "[roles.compute]\nplugins = [\"vdsm\"]\n",
            #"overlay: fleet.toml: roles.compute.plugins[0]: plugin "vdsm" is present in several versions (1.2, 1.3); pin one, for example "vdsm@1.2", "vdsm@1.3""#
        ),
        .fleet(
            "an overlay built against another base", BadInput.fleetBase + "[roles.compute]\nplugins = [\"foreign\"]\n",
            "overlay: fleet.toml: roles.compute.plugins[0]: overlay foreign-1.0 was built against base sha256:\(String(repeating: "2", count: 64)), but the fleet boots base \(FleetFixture.baseIdentity) (srv/base.json); rebuild the overlay against this base or boot the base it was built for"
        ),
        .fleet(
            "an overlay whose file is gone", BadInput.fleetBase + "[roles.compute]\nplugins = [\"stale\"]\n",
            "overlay: fleet.toml: roles.compute.plugins[0]: overlays/stale-1.0.cpio.zst does not exist (served directory srv); the manifest overlays/stale-1.0.json names it: rebuild the overlay or remove the stale manifest"
        ),
        .fleet(
            "an overlay listed twice", BadInput.fleetBase + "[roles.compute]\nplugins = [\"cim\", \"cim@1.0\"]\n",
            "overlay: fleet.toml: roles.compute.plugins[1]: overlay cim-1.0 is listed twice in the role; list each plugin once"),
        .fleet(
            "a broken overlay manifest", BadInput.fleetBase + "[roles.compute]\nplugins = [\"cim\"]\n",
            #"overlay: manifest srv/overlays/broken-1.json cannot be read: the key "version" is missing; rebuild it or remove it from the served directory"#,
            more: #"echo '{"kind": "overlay", "name": "broken"}' > srv/overlays/broken-1.json"#),
        .fleet(
            "base.json is not JSON", BadInput.fleetBase,
            "overlay: manifest srv/base.json cannot be read: it is not valid JSON; rebuild it or remove it from the served directory",
            more: "echo '{\"kind\": \"base\"' > srv/base.json"),
        .fleet(
            "no base.json beside the initrd", BadInput.fleetBase + "[roles.compute]\nplugins = [\"cim\"]\n",
            "overlay: fleet.toml: roles.compute.plugins[0]: base.json does not exist beside the base initrd, so overlay cim-1.0 cannot be checked against the base (served directory srv); create the base with overlay base create, which writes base.json beside the initrd",
            more: "rm srv/base.json"),
        .fleet(
            "the fleet file does not exist", BadInput.fleetBase,
            "overlay: cannot read fleet file nowhere.toml: No such file or directory; check the path given with --fleet",
            arguments: ["boot-config", "--dir", "srv", "--fleet", "nowhere.toml", "--out", "boot"]),
        .fleet(
            "the fleet file is a directory", BadInput.fleetBase, "overlay: cannot read fleet file fleets: Is a directory; check the path given with --fleet",
            more: "mkdir fleets", arguments: ["boot-config", "--dir", "srv", "--fleet", "fleets", "--out", "boot"]),
        .fleet(
            "the fleet file is not UTF-8", BadInput.fleetBase,
            "overlay: cannot read fleet file fleet.toml: it is not UTF-8 text; check the path given with --fleet",
            more: #"printf '[base]\nkernel = "\377"\n' > fleet.toml"#),
        .fleet(
            "the served directory does not exist", BadInput.fleetBase,
            "overlay: the served directory nowhere does not exist; give --dir the directory that holds the kernel, the base initrd and the overlays",
            arguments: ["boot-config", "--dir", "nowhere", "--fleet", "fleet.toml", "--out", "boot"]),
        .fleet(
            "serve: a fleet that does not validate", BadInput.fleetBase + "[roles.compute]\nplugins = [\"vdsm\"]\n",
            #"overlay: fleet.toml: roles.compute.plugins[0]: plugin "vdsm" is present in several versions (1.2, 1.3); pin one, for example "vdsm@1.2", "vdsm@1.3""#,
            arguments: ["serve", "--dir", "srv", "--fleet", "fleet.toml", "--http", "127.0.0.1:0"]),
    ]

    // MARK: --out

    static let outputs: [BadInput] = [
        BadInput(
            name: "--out: build into a file", setup: { try $0.plugin(rpms: true, then: "echo keep > out") }, arguments: BadInput.build(), status: 1,
            stderr:
                "overlay: cannot write to the output directory out: it is a file, not a directory; give --out a directory that can be written (it is created when missing)"
        ),
        BadInput(
            name: "--out: build below a file", setup: { try $0.plugin(rpms: true, then: "echo keep > file") },
            arguments: ["build", "--base", "{base}", "--plugin", "plugin", "--out", "file/out", "--cachedir", "cache"], status: 1,
            stderr:
                "overlay: cannot write to the output directory file/out: Not a directory; give --out a directory that can be written (it is created when missing)"
        ),
        BadInput(
            name: "--out: build into a read-only filesystem", setup: { try $0.plugin(rpms: true) },
            arguments: ["build", "--base", "{base}", "--plugin", "plugin", "--out", "{ro}/out", "--cachedir", "cache"], status: 1,
            stderr:
                "overlay: cannot write to the output directory {case}/ro/out: Read-only file system; give --out a directory that can be written (it is created when missing)"
        ),
        BadInput(
            name: "--out: build into a read-only directory", setup: { try $0.plugin(rpms: true) },
            arguments: ["build", "--base", "{base}", "--plugin", "plugin", "--out", "{ro}", "--cachedir", "cache"], status: 1,
            stderr:
                "overlay: cannot write to the output directory {case}/ro: Read-only file system; give --out a directory that can be written (it is created when missing)"
        ),
        BadInput(
            name: "--out: base create into a file", setup: { try $0.sh(#"cp -r "$REPO" repo && echo keep > out"#) },
            arguments: ["base", "create", "--repo", "repo", "--package", "tool", "--out", "out", "--cachedir", "cache"], status: 1,
            stderr:
                "overlay: cannot write to the output directory out: it is a file, not a directory; give --out a directory that can be written (it is created when missing)"
        ),
        BadInput(
            name: "--out: base create into a read-only filesystem", setup: { try $0.sh(#"cp -r "$REPO" repo"#) },
            arguments: ["base", "create", "--repo", "repo", "--package", "tool", "--out", "{ro}/base", "--cachedir", "cache"], status: 1,
            stderr:
                "overlay: cannot write to the output directory {case}/ro/base: Read-only file system; give --out a directory that can be written (it is created when missing)"
        ),
        .fleet(
            "boot-config --out is a file", BadInput.fleetBase,
            "overlay: cannot write the boot files to boot: it is a file, not a directory; give --out a directory that can be written",
            more: "echo keep > boot"),
        .fleet(
            "boot-config --out holds a file where a directory belongs", BadInput.fleetBase,
            "overlay: cannot write the boot files to boot: boot/ipxe is a file where a directory belongs; give --out a directory that can be written",
            more: "mkdir boot && echo keep > boot/ipxe"),
        .fleet(
            "boot-config --out on a read-only filesystem", BadInput.fleetBase,
            "overlay: cannot write the boot files to {case}/ro/boot: mkdir {case}/ro/boot failed: Read-only file system; give --out a directory that can be written",
            arguments: ["boot-config", "--dir", "srv", "--fleet", "fleet.toml", "--out", "{ro}/boot"]),
        .fleet(
            "boot-config --out is a read-only directory", BadInput.fleetBase,
            "overlay: cannot write the boot files to {case}/ro: Read-only file system; give --out a directory that can be written",
            arguments: ["boot-config", "--dir", "srv", "--fleet", "fleet.toml", "--out", "{ro}"]),
    ]

    // MARK: command-line usage

    static let usage: [BadInput] = [
        BadInput(
            name: "usage: no plugin", setup: { _ in }, arguments: ["build", "--base", "{base}", "--out", "out"], status: 64,
            stderr: "overlay: name at least one plugin with --plugin PATH; see 'overlay build --help'"),
        BadInput(
            name: "usage: no --out", setup: { try $0.plugin(rpms: true) }, arguments: ["build", "--base", "{base}", "--plugin", "plugin"], status: 64,
            stderr: "overlay: missing expected argument '--out <dir>'; see 'overlay build --help'"),
        BadInput(
            name: "usage: an unknown option", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build() + ["--enable-repo", "x"], status: 64,
            stderr: "overlay: unknown option '--enable-repo' (did you mean '--enablerepo'?); see 'overlay build --help'"),
        BadInput(
            name: "usage: an unknown command", setup: { _ in }, arguments: ["biuld"], status: 64,
            stderr: "overlay: unexpected argument 'biuld'; see 'overlay --help'"),
        BadInput(
            name: "usage: --level out of range", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build() + ["--level", "30"], status: 64,
            stderr: "overlay: --level takes a zstd level from 1 to 22; see 'overlay build --help'"),
        BadInput(
            name: "usage: --level that is not a number", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build() + ["--level", "max"], status: 64,
            stderr: "overlay: the value 'max' is invalid for '--level <n>'; see 'overlay build --help'"),
        BadInput(
            name: "usage: an unknown --format", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build() + ["--format", "iso"], status: 64,
            stderr: "overlay: the value 'iso' is invalid for '--format <format>': give one of 'cpio', 'squashfs' or 'erofs'; see 'overlay build --help'"),
        BadInput(
            name: "usage: an empty --enablerepo", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build() + ["--enablerepo", ","], status: 64,
            stderr: "overlay: the value ',' is invalid for '--enablerepo <id,glob>': give a repo id or glob, such as 'mon*'; see 'overlay build --help'"),
        BadInput(
            name: "usage: --quiet and --verbose", setup: { try $0.plugin(rpms: true) }, arguments: BadInput.build() + ["-q", "-v"], status: 64,
            stderr: "overlay: --quiet and --verbose exclude each other; give one of them; see 'overlay build --help'"),
        BadInput(
            name: "usage: list with --root and --dir", setup: { _ in }, arguments: ["list", "--root", "/", "--dir", "out"], status: 64,
            stderr: "overlay: --root lists a node's plugins and --dir the overlays in a directory; give one of them; see 'overlay list --help'"),
        BadInput(
            name: "list: --dir does not exist", setup: { _ in }, arguments: ["list", "--dir", "out"], status: 1,
            stderr: "overlay: out does not exist; give the directory overlay build --out wrote to"),
        BadInput(
            name: "list: a damaged manifest", setup: { try $0.write(#"{"kind": "overlay", "name": "tool"}"#, to: "out/tool-1.0.json") },
            arguments: ["list", "--dir", "out"], status: 1,
            stderr: #"overlay: out/tool-1.0.json is not a readable manifest (it has no "version"); rebuild the overlay or remove the file"#),
        BadInput(
            name: "inspect: a JSON file that is no manifest", setup: { try $0.write(#"{"name": "tool"}"#, to: "tool.json") },
            arguments: ["inspect", "tool.json"], status: 1,
            stderr:
                "overlay: tool.json is not a manifest overlay wrote (<name>-<version>.json or base.json naming its file): give the overlay or base image file itself"
        ),
        BadInput(
            name: "usage: base create without a repo", setup: { _ in }, arguments: ["base", "create", "--package", "tool", "--out", "out"], status: 64,
            stderr: "overlay: name at least one repo with --repo DIR; see 'overlay base create --help'"),
    ]
}
