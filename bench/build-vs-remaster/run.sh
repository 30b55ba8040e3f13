#!/usr/bin/env bash
# Adding a plugin to a big base: `overlay build` (only the plugin's delta, packed as cpio.zst) against
#   (a) remastering the base image: unsquashfs + rpm -i + mksquashfs with the base's compression, and
#   (b) the floor: rpm-installing the same package into an empty root + find | cpio -o -H newc | zstd at
#       the level overlay uses (19, one thread), i.e. the least any tool can do to ship the same delta.
# All three run in the same run, RUNS times each (default 3); medians and ratios are printed.
#
# Environment: SIZE_MB (base payload, default 1024), PLUGIN_MB (default 20), RUNS (default 3),
# OVERLAY (default .build/release/overlay), ZSTD_LEVEL (default 19, OverlayPacker's default; overlay build
# gets it as --level, the floor as zstd -N).
# Never fails on a number; exits non-zero only when something could not run at all.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OVERLAY=${OVERLAY:-$ROOT/.build/release/overlay}
SIZE_MB=${SIZE_MB:-1024}
PLUGIN_MB=${PLUGIN_MB:-20}
RUNS=${RUNS:-3}
ZSTD_LEVEL=${ZSTD_LEVEL:-19}
SQUASH_OPTS=(-comp zstd -Xcompression-level 15 -noappend -quiet -no-progress)

die() { echo "build-vs-remaster: $*" >&2; exit 1; }

need=()
for tool in rpmbuild:rpm createrepo_c:createrepo-c mksquashfs:squashfs-tools cpio:cpio zstd:zstd openssl:openssl python3:python3; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
        || die "could not install ${need[*]}"
fi
[[ -x $OVERLAY ]] || die "no overlay binary at $OVERLAY; run 'swift build -c release' first (or set OVERLAY)"
[[ $(id -u) == 0 ]] || die "needs root (overlay build mounts an overlayfs; rpm --root installs)"

TMP=$(mktemp -d /var/tmp/overlay-bench-remaster.XXXXXX)
trap 'umount -R "$TMP"/* 2>/dev/null || true; rm -rf "$TMP"' EXIT
free_mb=$(df -Pm "$TMP" | awk 'NR==2 {print $4}')
((free_mb > SIZE_MB * 4 + 500)) || die "needs about $((SIZE_MB * 4 + 500)) MB free under /var/tmp, has $free_mb MB (lower SIZE_MB)"

# Deterministic payload: $1 MB into directory $2 as 4 MiB files, seeded by $3: three of every four are AES-CTR
# keystream (incompressible, like already-compressed content), the fourth is a hex dump of it (compresses about
# 2.3:1, and slowly: zstd manages about 1 MB/s on it, at level 15 as at 19).
payload() {
    local mb=$1 dir=$2 seed=$3 i n
    mkdir -p "$dir"
    n=$(((mb + 3) / 4))
    for ((i = 0; i < n; i++)); do
        if ((i % 4 != 3)); then
            head -c 4194304 /dev/zero | openssl enc -aes-128-ctr -nosalt -pass "pass:$seed-$i" -pbkdf2 >"$dir/blob$i.bin"
        else
            head -c 1398101 /dev/zero | openssl enc -aes-128-ctr -nosalt -pass "pass:$seed-$i" -pbkdf2 | od -An -tx1 -v >"$dir/text$i.txt"
        fi
    done
}

# spec NAME DATADIR INSTALLDIR: an uncompressed-payload package holding DATADIR's files under INSTALLDIR.
spec() {
    cat >"$TMP/rpmbuild/SPECS/$1.spec" <<SPEC
%define _binary_payload w.ufdio
%define __os_install_post %{nil}
%define _build_id_links none
%define debug_package %{nil}
Name: $1
Version: 1.0
Release: 1
Summary: Benchmark payload $1
License: MIT
BuildArch: noarch
%description
Benchmark payload.
%install
mkdir -p %{buildroot}$3
cp -a $2/. %{buildroot}$3/
%files
$3
SPEC
    rpmbuild --quiet -bb --define "_topdir $TMP/rpmbuild" --define "_rpmdir $TMP/rpms" \
        "$TMP/rpmbuild/SPECS/$1.spec" >"$TMP/rpmbuild-$1.log" 2>&1 || { tail "$TMP/rpmbuild-$1.log"; die "rpmbuild $1 failed"; }
}

echo "setup: ${SIZE_MB} MB base, ${PLUGIN_MB} MB plugin (not timed)"
mkdir -p "$TMP/rpmbuild/SPECS" "$TMP/rpms"
payload "$SIZE_MB" "$TMP/filler-data" base
payload "$PLUGIN_MB" "$TMP/plugin-data" plugin
spec bench-filler "$TMP/filler-data" /usr/share/bench-filler
spec bench-plugin "$TMP/plugin-data" /usr/share/bench-plugin
rm -rf "$TMP/filler-data" "$TMP/plugin-data"
FILLER=$TMP/rpms/noarch/bench-filler-1.0-1.noarch.rpm
PLUGIN_RPM=$TMP/rpms/noarch/bench-plugin-1.0-1.noarch.rpm

# The base: the filler installed with rpm (rpmdb at /var/lib/rpm), and its squashfs image.
mkdir -p "$TMP/base"
rpm --root "$TMP/base" --dbpath /var/lib/rpm --initdb
rpm --root "$TMP/base" --dbpath /var/lib/rpm -i --nodeps "$FILLER" 2>/dev/null || die "rpm -i of the filler failed"
rm -f "$FILLER"
mksquashfs "$TMP/base" "$TMP/base.squashfs" "${SQUASH_OPTS[@]}" >/dev/null || die "mksquashfs of the base failed"
echo "base: $(du -sm "$TMP/base" | cut -f1) MB tree, squashfs $(($(stat -c %s "$TMP/base.squashfs") / 1048576)) MB"

# The plugin: a bundled repo holding the plugin package.
mkdir -p "$TMP/plugin/rpms"
mv "$PLUGIN_RPM" "$TMP/plugin/rpms/"
createrepo_c -q "$TMP/plugin/rpms" || die "createrepo_c failed"
printf 'name = "bench-plugin"\nversion = "1.0"\npackages = ["bench-plugin"]\n' >"$TMP/plugin/plugin.toml"
PLUGIN_RPM=$TMP/plugin/rpms/bench-plugin-1.0-1.noarch.rpm

now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.2f}')"; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

remaster() {
    rm -rf "$TMP/remaster" "$TMP/remastered.squashfs"
    unsquashfs -q -n -d "$TMP/remaster" "$TMP/base.squashfs" >/dev/null &&
        rpm --root "$TMP/remaster" --dbpath /var/lib/rpm -i "$PLUGIN_RPM" 2>/dev/null &&
        mksquashfs "$TMP/remaster" "$TMP/remastered.squashfs" "${SQUASH_OPTS[@]}" >/dev/null
}
overlay_build() { # extra arguments: e.g. --compress none
    rm -rf "$TMP/out" "$TMP/cache"
    "$OVERLAY" build --base "$TMP/base" --plugin "$TMP/plugin" --cachedir "$TMP/cache" --out "$TMP/out" "$@" >"$TMP/build.log" 2>&1
}
floor() {
    rm -rf "$TMP/empty" "$TMP/floor.cpio.zst"
    mkdir -p "$TMP/empty"
    rpm --root "$TMP/empty" --dbpath /var/lib/rpm --initdb &&
        rpm --root "$TMP/empty" --dbpath /var/lib/rpm -i --nodeps "$PLUGIN_RPM" 2>/dev/null &&
        (cd "$TMP/empty" && find . -path ./var/lib/rpm -prune -o -print | LC_ALL=C sort |
            cpio -o -H newc --quiet | zstd -q -T1 "-$ZSTD_LEVEL" -o "$TMP/floor.cpio.zst")
}

re=(); ov=(); fl=(); raw=()
for i in $(seq "$RUNS"); do
    sync; start=$(now); remaster || die "remastering failed"; re+=("$(since "$start")")
    # Where overlay's time goes: the same build without compression (solve + install + cpio only).
    sync; start=$(now); overlay_build --compress none || { cat "$TMP/build.log"; die "overlay build --compress none failed"; }; raw+=("$(since "$start")")
    raw_file=$(ls "$TMP"/out/*.cpio)
    raw_mb=$(($(stat -c %s "$raw_file") / 1048576))
    sync; start=$(now); overlay_build --level "$ZSTD_LEVEL" || { cat "$TMP/build.log"; die "overlay build failed"; }; ov+=("$(since "$start")")
    sync; start=$(now); floor || die "the floor (rpm -i + cpio | zstd) failed"; fl+=("$(since "$start")")
    echo "run $i/$RUNS: remaster ${re[-1]} s, overlay build ${ov[-1]} s (uncompressed ${raw[-1]} s), floor ${fl[-1]} s"
done
overlay_file=$(ls "$TMP"/out/*.cpio.zst)

r=$(median "${re[@]}"); o=$(median "${ov[@]}"); f=$(median "${fl[@]}"); u=$(median "${raw[@]}")
ratio() { python3 -c "print(f'{$1 / $2:.1f}x')"; }
echo
echo "build-vs-remaster: add a ${PLUGIN_MB} MB plugin to a ${SIZE_MB} MB base"
echo "median of $RUNS runs, wall seconds; $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %8s %10s\n' "" seconds "output MB"
printf '%-44s %8s %10s\n' "remaster (unsquashfs + rpm -i + mksquashfs)" "$r" "$(($(stat -c %s "$TMP/remastered.squashfs") / 1048576))"
printf '%-44s %8s %10s\n' "overlay build (cpio, zstd -$ZSTD_LEVEL)" "$o" "$(($(stat -c %s "$overlay_file") / 1048576))"
printf '%-44s %8s %10s\n' "floor (rpm -i + cpio | zstd -$ZSTD_LEVEL -T1)" "$f" "$(($(stat -c %s "$TMP/floor.cpio.zst") / 1048576))"
printf '%-44s %8s %10s\n' "overlay build --compress none (for scale)" "$u" "$raw_mb"
echo "overlay build is $(ratio "$r" "$o") faster than remastering (goal 20x)"
echo "overlay build takes $(ratio "$o" "$f") the floor's time (goal at most 1.5x)"
