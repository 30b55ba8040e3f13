#!/usr/bin/env bash
# Differential test: `overlay plan` against dnf 4 on real CentOS Stream 9 metadata (BaseOS + AppStream). Requests
# are package names sampled from AppStream's primary.xml with a fixed seed; each one is a plugin of its own, and
# every plugin is planned by the release binary in one `overlay plan --json` run (a few runs of CHUNK plugins for
# big samples). dnf gets the same repos, the same installed set (a copy of the same base root and rpmdb), weak
# dependencies off (install_weak_deps=False) and module_platform_id platform:el9, through its Python API: one
# sack, then for each request `Base.install(name)` + `Base.resolve()`.
#
# Fails (exit 1) when a request's verdict (installable or not) differs, or when fewer than MIN_AGREEMENT percent
# of the requests both find installable get the same package set (name-[epoch:]version-release.arch). Prints
# every disagreement. `make test` runs it with the default sample; SAMPLE=all plans every AppStream name.
#
# Environment: CS9_REPOS (default ../shared/data/cs9-repos beside the checkout), OVERLAY (default
# .build/release/overlay), SAMPLE (default 120, or "all"), SEED (default 20261201), MIN_AGREEMENT (default 95),
# CHUNK (plugins per overlay run, default 500).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OVERLAY=${OVERLAY:-$ROOT/.build/release/overlay}
REPOS=${CS9_REPOS:-$ROOT/../shared/data/cs9-repos}
SAMPLE=${SAMPLE:-120}
SEED=${SEED:-20261201}
MIN_AGREEMENT=${MIN_AGREEMENT:-95}
CHUNK=${CHUNK:-500}

die() { echo "plan-vs-dnf: $*" >&2; exit 1; }

# dnf's Python API is Debian's python3-dnf, for the system Python (not whichever python3 is first on PATH).
PY=/usr/bin/python3
need=()
"$PY" -c 'import dnf' 2>/dev/null || need+=(dnf python3-dnf)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
        || die "could not install ${need[*]}"
fi
[[ -x $OVERLAY ]] || die "no overlay binary at $OVERLAY; run 'swift build -c release' first (or set OVERLAY)"
[[ -f $REPOS/baseos/repodata/repomd.xml && -f $REPOS/appstream/repodata/repomd.xml ]] \
    || die "no CentOS Stream 9 metadata at $REPOS (set CS9_REPOS to a directory holding baseos/ and appstream/)"
[[ $SAMPLE == all || $SAMPLE =~ ^[1-9][0-9]*$ ]] || die "SAMPLE must be a number or 'all', not '$SAMPLE'"
REPOS=$(cd "$REPOS" && pwd)

TMP=$(mktemp -d /tmp/overlay-plan-vs-dnf.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# --- a base holding one trivial package (CS9's glibc conflicts with kernel < 3.2: no kernel here) ------------------
mkdir -p "$TMP/rpmbuild/SPECS" "$TMP/tiny-repo"
cat >"$TMP/rpmbuild/SPECS/base-marker.spec" <<'SPEC'
Name: base-marker
Version: 1.0
Release: 1
Summary: A trivial package so the base's rpmdb is not empty
License: MIT
BuildArch: noarch
%description
Marks a test base image.
%install
mkdir -p %{buildroot}/etc
echo base > %{buildroot}/etc/base-marker
%files
/etc/base-marker
SPEC
rpmbuild --quiet -bb --define "_topdir $TMP/rpmbuild" --define "_rpmdir $TMP/tiny-repo" \
    "$TMP/rpmbuild/SPECS/base-marker.spec" >"$TMP/rpmbuild.log" 2>&1 || { cat "$TMP/rpmbuild.log"; die "rpmbuild failed"; }
createrepo_c -q "$TMP/tiny-repo" || die "createrepo_c failed"
"$OVERLAY" base create --repo "$TMP/tiny-repo" --package base-marker --out "$TMP/base" \
    --cachedir "$TMP/base-cache" --compress none >"$TMP/base.log" 2>&1 || { cat "$TMP/base.log"; die "overlay base create failed"; }
BASE=$TMP/base/rootfs

# --- the requests: AppStream's binary package names, sampled with a fixed seed, base names left out ---------------
"$PY" - "$REPOS/appstream" "$TMP/base/base.json" "$SAMPLE" "$SEED" >"$TMP/requests" <<'PY'
import glob, gzip, json, random, sys
import xml.etree.ElementTree as ET
repo, base_json, sample, seed = sys.argv[1:5]
ns = "{http://linux.duke.edu/metadata/common}"
names = set()
(primary,) = glob.glob(repo + "/repodata/*-primary.xml.gz")
for _, element in ET.iterparse(gzip.open(primary), events=("end",)):
    if element.tag == ns + "package":
        if element.findtext(ns + "arch") not in ("src", "nosrc"):
            names.add(element.findtext(ns + "name"))
        element.clear()
base = {nevra.rsplit("-", 2)[0] for nevra in json.load(open(base_json))["packages"]}
names = sorted(names - base)
chosen = names if sample == "all" else random.Random(int(seed)).sample(names, min(int(sample), len(names)))
print("\n".join(chosen))
PY
count=$(wc -l <"$TMP/requests")
((count >= 1)) || die "no package names in $REPOS/appstream"

# --- overlay: one plugin per request, all planned by one run per CHUNK plugins -------------------------------------
cat >"$TMP/cs9.repo" <<REPO
[cs9-baseos]
name=CentOS Stream 9 BaseOS
baseurl=file://$REPOS/baseos

[cs9-appstream]
name=CentOS Stream 9 AppStream
baseurl=file://$REPOS/appstream
REPO
"$PY" - "$TMP/requests" "$TMP/cs9.repo" "$TMP/plugins" <<'PY'
import os, shutil, sys
requests, repo_file, plugins = sys.argv[1:4]
for index, name in enumerate(open(requests).read().split(), start=1):
    directory = os.path.join(plugins, "r%05d" % index)
    os.makedirs(os.path.join(directory, "repos"))
    with open(os.path.join(directory, "plugin.toml"), "w") as toml:
        toml.write('name = "r%05d"\nversion = "1.0"\npackages = ["%s"]\n' % (index, name))
    shutil.copy(repo_file, os.path.join(directory, "repos", "cs9.repo"))
PY

start=$(date +%s.%N)
find "$TMP/plugins" -mindepth 1 -maxdepth 1 -type d | sort | split -l "$CHUNK" - "$TMP/chunk."
for list in "$TMP"/chunk.*; do
    args=()
    while read -r dir; do args+=(--plugin "$dir"); done <"$list"
    status=0
    "$OVERLAY" plan --base "$BASE" "${args[@]}" --enablerepo '*' --cachedir "$TMP/overlay-cache" --json \
        >"$list.json" 2>"$list.err" || status=$?
    # 0: every plugin planned; 3: some cannot be installed (reported in the JSON). Anything else is a failure.
    ((status == 0 || status == 3)) || { cat "$list.err" >&2; die "overlay plan exited $status"; }
done
overlay_seconds=$("$PY" -c "print(f'{$(date +%s.%N) - $start:.1f}')")

# --- dnf: the same repos, installed set and rules --------------------------------------------------------------
mkdir -p "$TMP/dnf-home" "$TMP/dnf-root.log"
cp -a "$BASE" "$TMP/dnf-root"
# Debian's rpm keeps its rpmdb in ~/.rpmdb; the base (like RHEL) keeps it in /var/lib/rpm.
echo "%_dbpath /var/lib/rpm" >"$TMP/dnf-home/.rpmmacros"
start=$(date +%s.%N)
HOME=$TMP/dnf-home "$PY" - "$TMP/dnf-root" "$REPOS" "$TMP/requests" >"$TMP/dnf.json" 2>"$TMP/dnf.err" <<'PY' \
    || { cat "$TMP/dnf.err" >&2; die "the dnf side failed"; }
import json, sys
import dnf, dnf.exceptions
root, repos, requests = sys.argv[1:4]
base = dnf.Base()
conf = base.conf
conf.installroot = root
conf.cachedir = root + ".cache"
conf.logdir = root + ".log"
conf.reposdir = []
conf.install_weak_deps = False
conf.module_platform_id = "platform:el9"
conf.gpgcheck = False
conf.substitutions["releasever"] = "9"
for repo_id, directory in (("cs9-baseos", "baseos"), ("cs9-appstream", "appstream")):
    base.repos.add_new_repo(repo_id, conf, baseurl=["file://%s/%s" % (repos, directory)])
base.fill_sack(load_system_repo=True)
result = {}
for name in open(requests).read().split():
    base.reset(goal=True)
    try:
        base.install(name)
        base.resolve()
        result[name] = {"ok": True, "packages": sorted(str(p) for p in base.transaction.install_set)}
    except dnf.exceptions.Error as error:
        result[name] = {"ok": False, "packages": [], "error": str(error).strip().replace("\n", " ")}
json.dump(result, sys.stdout)
PY
dnf_seconds=$("$PY" -c "print(f'{$(date +%s.%N) - $start:.1f}')")

# --- compare -------------------------------------------------------------------------------------------------------
"$PY" - "$TMP/requests" "$TMP/dnf.json" "$MIN_AGREEMENT" "$overlay_seconds" "$dnf_seconds" "$TMP"/chunk.*.json <<'PY'
import json, sys
requests_file, dnf_file, minimum, overlay_seconds, dnf_seconds = sys.argv[1:6]
requests = open(requests_file).read().split()
ours = {}
for report in sys.argv[6:]:
    for entry in json.load(open(report))["plugins"]:
        index = int(entry["plugin"][1:]) - 1
        ours[requests[index]] = {"ok": entry["ok"], "packages": sorted(p["nevra"] for p in entry["packages"]),
                                 "error": " ".join(entry["errors"])}
theirs = json.load(open(dnf_file))
verdicts, sets, both = [], [], 0
for name in requests:
    o, d = ours[name], theirs[name]
    if o["ok"] != d["ok"]:
        verdicts.append((name, o, d))
    elif o["ok"]:
        both += 1
        if o["packages"] != d["packages"]:
            sets.append((name, o, d))
agreeing = both - len(sets)
percent = 100.0 * agreeing / both if both else 100.0
print(f"plan-vs-dnf: {len(requests)} requests from CentOS Stream 9 AppStream; overlay plan {overlay_seconds} s, dnf {dnf_seconds} s")
print(f"  installable for both: {both}; for neither: {len(requests) - both - len(verdicts)}; verdicts that differ: {len(verdicts)}")
print(f"  same package set: {agreeing} of {both} ({percent:.1f}%; at least {minimum}% required)")
for name, o, d in verdicts:
    print(f"verdict differs for {name}: overlay {'installable' if o['ok'] else 'not installable'}, dnf {'installable' if d['ok'] else 'not installable'}")
    print(f"  overlay: {o['error'] or len(o['packages'])} ")
    print(f"  dnf: {d.get('error') or len(d['packages'])}")
for name, o, d in sets:
    only_ours = sorted(set(o["packages"]) - set(d["packages"]))
    only_dnf = sorted(set(d["packages"]) - set(o["packages"]))
    print(f"package sets differ for {name} (overlay {len(o['packages'])}, dnf {len(d['packages'])}):")
    for p in only_ours: print(f"  only overlay: {p}")
    for p in only_dnf: print(f"  only dnf:     {p}")
sys.exit(1 if verdicts or percent < float(minimum) else 0)
PY
