#!/usr/bin/env bash
# `overlay plan` against a vendor-style live ISO (about SIZE_MB of root filesystem in LiveOS/squashfs.img)
# against the same plan on the ISO's root unpacked, in the same run: reading the base from the image must not
# cost an unpack. overlay reads the ISO's directory with libarchive and, inside the squashfs (read in place at its
# offset with libsquashfs), only the rpmdb and the module-state files.
# Each plan is run RUNS times (default 3), --no-cache (every plan solves); medians and the ratio are printed.
#
# Environment: SIZE_MB (filler in the root, default 1024), RUNS (default 3), OVERLAY (default
# .build/release/overlay). Never fails on a number; exits non-zero only when something could not run at all.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OVERLAY=${OVERLAY:-$ROOT/.build/release/overlay}
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-3}

die() { echo "base-import: $*" >&2; exit 1; }

need=()
for tool in rpmbuild:rpm createrepo_c:createrepo-c mksquashfs:squashfs-tools xorriso:xorriso openssl:openssl python3:python3; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
        || die "could not install ${need[*]}"
fi
[[ -x $OVERLAY ]] || die "no overlay binary at $OVERLAY; run 'swift build -c release' first (or set OVERLAY)"

TMP=$(mktemp -d /var/tmp/overlay-bench-base-import.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
free_mb=$(df -Pm "$TMP" | awk 'NR==2 {print $4}')
((free_mb > SIZE_MB * 3 + 500)) || die "needs about $((SIZE_MB * 3 + 500)) MB free under /var/tmp, has $free_mb MB (lower SIZE_MB)"

# spec NAME: a one-file noarch package.
spec() {
    mkdir -p "$TMP/rpmbuild/SPECS"
    cat >"$TMP/rpmbuild/SPECS/$1.spec" <<SPEC
%define _build_id_links none
%define debug_package %{nil}
Name: $1
Version: 1.0
Release: 1
Summary: Benchmark package $1
License: MIT
BuildArch: noarch
%description
Benchmark package.
%install
mkdir -p %{buildroot}/usr/share/$1
echo $1 > %{buildroot}/usr/share/$1/marker
%files
/usr/share/$1
SPEC
    rpmbuild --quiet -bb --define "_topdir $TMP/rpmbuild" --define "_rpmdir $TMP/rpms" \
        "$TMP/rpmbuild/SPECS/$1.spec" >"$TMP/rpmbuild-$1.log" 2>&1 || { tail "$TMP/rpmbuild-$1.log"; die "rpmbuild $1 failed"; }
}

echo "setup: a root with a real rpmdb and ${SIZE_MB} MB of incompressible filler, its squashfs, a live ISO (not timed)"
spec bench-marker
spec bench-plugin
mkdir -p "$TMP/root"
rpm --root "$TMP/root" --dbpath /var/lib/rpm --define '_db_backend sqlite' --initdb
rpm --root "$TMP/root" --dbpath /var/lib/rpm --define '_db_backend sqlite' -i --nodeps "$TMP/rpms/noarch/bench-marker-1.0-1.noarch.rpm" 2>/dev/null \
    || die "rpm -i of the marker failed"
# Filler: 4 MiB files of AES-CTR keystream, which no compressor shrinks (like a vendor's already-compressed content).
mkdir -p "$TMP/root/usr/share/filler"
for ((i = 0; i < (SIZE_MB + 3) / 4; i++)); do
    head -c 4194304 /dev/zero | openssl enc -aes-128-ctr -nosalt -pass "pass:filler-$i" -pbkdf2 >"$TMP/root/usr/share/filler/blob$i.bin"
done
mkdir -p "$TMP/iso/LiveOS" "$TMP/iso/images/pxeboot"
mksquashfs "$TMP/root" "$TMP/iso/LiveOS/squashfs.img" -comp zstd -processors 1 -noappend -quiet -no-progress >/dev/null || die "mksquashfs failed"
echo "a kernel" >"$TMP/iso/images/pxeboot/vmlinuz"
(cd "$TMP/root" && find . -path ./usr/share/filler -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet | zstd -q) >"$TMP/iso/images/pxeboot/initrd.img"
xorriso -as mkisofs -quiet -o "$TMP/live.iso" -R -J -V BENCH_LIVE "$TMP/iso" 2>/dev/null || die "xorriso failed"
rm -rf "$TMP/iso"
echo "root: $(du -sm "$TMP/root" | cut -f1) MB tree; live ISO $(($(stat -c %s "$TMP/live.iso") / 1048576)) MB"

mkdir -p "$TMP/plugin/rpms"
mv "$TMP/rpms/noarch/bench-plugin-1.0-1.noarch.rpm" "$TMP/plugin/rpms/"
createrepo_c -q "$TMP/plugin/rpms" || die "createrepo_c failed"
printf 'name = "bench-plugin"\nversion = "1.0"\npackages = ["bench-plugin"]\n' >"$TMP/plugin/plugin.toml"

now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.3f}')"; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "$@"; }
plan() { "$OVERLAY" plan --base "$1" --plugin "$TMP/plugin" --no-cache >"$TMP/plan-$2.txt" 2>&1 || { cat "$TMP/plan-$2.txt"; die "plan against $1 failed"; }; }

# The page cache holds both (the ISO was just written, the root too): both are timed warm, which is fair to
# each and what a build server running plans over and over sees.
iso=(); dir=()
for i in $(seq "$RUNS"); do
    start=$(now); plan "$TMP/root" root; dir+=("$(since "$start")")
    start=$(now); plan "$TMP/live.iso" iso; iso+=("$(since "$start")")
    echo "run $i/$RUNS: unpacked root ${dir[-1]} s, live ISO ${iso[-1]} s"
done
cmp -s "$TMP/plan-root.txt" "$TMP/plan-iso.txt" || { diff "$TMP/plan-root.txt" "$TMP/plan-iso.txt" || true; die "the two plans differ"; }

d=$(median "${dir[@]}"); s=$(median "${iso[@]}")
echo
echo "base-import: overlay plan against a $(($(stat -c %s "$TMP/live.iso") / 1048576)) MB live ISO vs its unpacked root"
echo "median of $RUNS runs, wall seconds; $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %8s\n' "plan --base ROOT (unpacked)" "$d" "plan --base live.iso" "$s"
echo "the live ISO takes $(python3 -c "print(f'{$s / $d:.2f}x')") the unpacked root's time (goal at most 1.5x); the plans are identical"
