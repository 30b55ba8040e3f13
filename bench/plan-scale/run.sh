#!/usr/bin/env bash
# Solving at scale: `overlay plan` of a plugin asking for podman against CentOS Stream 9 BaseOS + AppStream
# (18.8k packages), compared with dnf 4 (`dnf --installroot … --assumeno install podman`) on the same metadata,
# the same installed set and the same repos, in the same run. Cold = empty caches for both; warm = caches
# filled by a previous run. Prints medians of RUNS runs (default 3) and the ratios.
#
# Environment: CS9_REPOS (default: ../shared/data/cs9-repos beside the checkout), OVERLAY (default:
# .build/release/overlay), RUNS (default 3), PACKAGE (default podman).
# Never fails on a number; exits non-zero only when something could not run at all.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OVERLAY=${OVERLAY:-$ROOT/.build/release/overlay}
REPOS=${CS9_REPOS:-$ROOT/../shared/data/cs9-repos}
RUNS=${RUNS:-3}
PACKAGE=${PACKAGE:-podman}

die() { echo "plan-scale: $*" >&2; exit 1; }

need=()
command -v dnf >/dev/null || need+=(dnf)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
        || die "could not install ${need[*]}"
fi
[[ -x $OVERLAY ]] || die "no overlay binary at $OVERLAY; run 'swift build -c release' first (or set OVERLAY)"
[[ -f $REPOS/baseos/repodata/repomd.xml && -f $REPOS/appstream/repodata/repomd.xml ]] \
    || die "no CentOS Stream 9 metadata at $REPOS (set CS9_REPOS to a directory holding baseos/ and appstream/)"
REPOS=$(cd "$REPOS" && pwd)

TMP=$(mktemp -d /tmp/overlay-bench-plan.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# --- a base holding one trivial package --------------------------------------------------------------------
mkdir -p "$TMP/rpmbuild/SPECS" "$TMP/tiny-repo"
cat >"$TMP/rpmbuild/SPECS/bench-marker.spec" <<'SPEC'
Name: bench-marker
Version: 1.0
Release: 1
Summary: A trivial package so the base's rpmdb is not empty
License: MIT
BuildArch: noarch
%description
Marks a benchmark base image.
%install
mkdir -p %{buildroot}/etc
echo bench > %{buildroot}/etc/bench-marker
%files
/etc/bench-marker
SPEC
rpmbuild --quiet -bb --define "_topdir $TMP/rpmbuild" --define "_rpmdir $TMP/tiny-repo" \
    "$TMP/rpmbuild/SPECS/bench-marker.spec" >"$TMP/rpmbuild.log" 2>&1 || { cat "$TMP/rpmbuild.log"; die "rpmbuild failed"; }
createrepo_c -q "$TMP/tiny-repo" || die "createrepo_c failed"
"$OVERLAY" base create --repo "$TMP/tiny-repo" --package bench-marker --out "$TMP/base" \
    --cachedir "$TMP/base-cache" --compress none >"$TMP/base.log" 2>&1 || { cat "$TMP/base.log"; die "overlay base create failed"; }
BASE=$TMP/base/rootfs
[[ -d $BASE/var/lib/rpm ]] || die "the base has no rpmdb at /var/lib/rpm"

# --- the plugin: two file:// repos ---------------------------------------------------------------------------
mkdir -p "$TMP/plugin/repos"
cat >"$TMP/plugin/plugin.toml" <<TOML
name = "bench-$PACKAGE"
version = "1.0"
packages = ["$PACKAGE"]
TOML
cat >"$TMP/plugin/repos/cs9.repo" <<REPO
[cs9-baseos]
name=CentOS Stream 9 BaseOS
baseurl=file://$REPOS/baseos

[cs9-appstream]
name=CentOS Stream 9 AppStream
baseurl=file://$REPOS/appstream
REPO

# --- dnf: same repos (and only those), same installed set, weak deps off --------------------------------------
mkdir -p "$TMP/dnf-repos" "$TMP/dnf-home"
cp "$TMP/plugin/repos/cs9.repo" "$TMP/dnf-repos/"
# Debian's rpm keeps its rpmdb in ~/.rpmdb; the base (like RHEL) keeps it in /var/lib/rpm.
echo "%_dbpath /var/lib/rpm" >"$TMP/dnf-home/.rpmmacros"

# Runs a command, stores its wall time in seconds in the variable named by $1 and its stdout in $2.
timed() {
    local __t=$1 out=$2; shift 2
    local start end
    start=$(date +%s.%N)
    if ! "$@" >"$out" 2>"$out.err"; then
        # dnf --assumeno exits 1 after printing the transaction; that is the expected end.
        if ! grep -q "Operation aborted" "$out" "$out.err" 2>/dev/null; then
            cat "$out" "$out.err" >&2; return 1
        fi
    fi
    end=$(date +%s.%N)
    printf -v "$__t" '%s' "$(python3 -c "print(f'{$end - $start:.3f}')")"
}

overlay_plan() { # $1: cache dir
    "$OVERLAY" plan --base "$BASE" --plugin "$TMP/plugin" --enablerepo '*' --cachedir "$1" --json
}
dnf_install() { # $1: install root
    HOME=$TMP/dnf-home dnf --installroot "$1" --releasever 9 --assumeno \
        --setopt=reposdir="$TMP/dnf-repos" --setopt=cachedir="$1.cache" \
        --setopt=install_weak_deps=False --setopt=module_platform_id=platform:el9 \
        --setopt=logdir="$1.log" --nogpgcheck --noplugins \
        install "$PACKAGE"
}

median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "$@"; }

ov_cold=(); ov_warm=(); dnf_cold=(); dnf_warm=()
for i in $(seq "$RUNS"); do
    # overlay: a fresh cache directory, then the same one again.
    rm -rf "$TMP/ov-cache"
    timed t "$TMP/ov-cold.json" overlay_plan "$TMP/ov-cache" || die "overlay plan failed"; ov_cold+=("$t")
    timed t "$TMP/ov-warm.json" overlay_plan "$TMP/ov-cache" || die "overlay plan (warm) failed"; ov_warm+=("$t")
    # dnf: a fresh copy of the base (its rpmdb) with empty caches, then the same root again.
    rm -rf "$TMP/dnf-root" "$TMP/dnf-root.cache" "$TMP/dnf-root.log"
    cp -a "$BASE" "$TMP/dnf-root"; mkdir -p "$TMP/dnf-root.log"
    timed t "$TMP/dnf-cold.txt" dnf_install "$TMP/dnf-root" || die "dnf failed"; dnf_cold+=("$t")
    timed t "$TMP/dnf-warm.txt" dnf_install "$TMP/dnf-root" || die "dnf (warm) failed"; dnf_warm+=("$t")
    echo "run $i/$RUNS: overlay cold ${ov_cold[-1]} s, warm ${ov_warm[-1]} s; dnf cold ${dnf_cold[-1]} s, warm ${dnf_warm[-1]} s"
done

# --- do they agree? --------------------------------------------------------------------------------------------
python3 - "$TMP/ov-warm.json" >"$TMP/ov-list" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for p in report["plugins"][0]["packages"]:
    print(p["nevra"])
PY
# dnf's transaction table: " name  arch  [epoch:]version-release  repo  size" lines under "Installing".
python3 - "$TMP/dnf-warm.txt" >"$TMP/dnf-list" <<'PY'
import re, sys
on = False
for line in open(sys.argv[1]):
    if not line.startswith(" "):
        on = bool(re.match(r"^Installing.*:$", line.rstrip()))
        continue
    f = line.split()
    if on and len(f) >= 5:
        print(f"{f[0]}-{f[2]}.{f[1]}")
PY
ov_n=$(sort -u "$TMP/ov-list" | sed 's/-[0-9]*:/-/' | sort -u | tee "$TMP/ov-sorted" | wc -l)
dnf_n=$(sort -u "$TMP/dnf-list" | sed 's/-[0-9]*:/-/' | sort -u | tee "$TMP/dnf-sorted" | wc -l)
only_ov=$(comm -23 "$TMP/ov-sorted" "$TMP/dnf-sorted")
only_dnf=$(comm -13 "$TMP/ov-sorted" "$TMP/dnf-sorted")

oc=$(median "${ov_cold[@]}"); ow=$(median "${ov_warm[@]}")
dc=$(median "${dnf_cold[@]}"); dw=$(median "${dnf_warm[@]}")
ratio() { python3 -c "print(f'{$1 / $2:.1f}x' if $2 > 0 else 'n/a')"; }

echo
echo "plan-scale: '$PACKAGE' against CentOS Stream 9 BaseOS + AppStream ($REPOS), base = 1 installed package"
echo "median of $RUNS runs, wall seconds; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %12s %12s %16s %8s\n' "" "overlay" "dnf $(dnf --version 2>/dev/null | head -1)" "overlay faster" "goal"
printf '%-8s %12s %12s %16s %8s\n' cold "$oc" "$dc" "$(ratio "$dc" "$oc")" "1.5x"
printf '%-8s %12s %12s %16s %8s\n' warm "$ow" "$dw" "$(ratio "$dw" "$ow")" "4x"
echo "packages to install: overlay $ov_n, dnf $dnf_n (weak deps off)"
if [[ -z $only_ov && -z $only_dnf ]]; then
    echo "the two package sets are identical (name-version-release.arch)"
else
    [[ -n $only_ov ]] && { echo "only in overlay's plan:"; sed 's/^/  /' <<<"$only_ov"; }
    [[ -n $only_dnf ]] && { echo "only in dnf's transaction:"; sed 's/^/  /' <<<"$only_dnf"; }
fi
