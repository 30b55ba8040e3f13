#!/bin/bash
# `overlay lab matrix` end to end on the example: 4 plugins (vdsm, cim, hwinfo, monitor), 15 combinations, each
# built (into an empty cache), checked and booted in QEMU (2 at a time on this 2-core machine); the time per
# boot and the part spent in QEMU (booting) vs in overlay (building, checking). Then P6, the same run: time to
# the node's report of a role with 3 overlays (vdsm, cim, monitor) vs the base alone, `overlay lab boot` each,
# interleaved (goal: at most 1.2x).
#
# Settings: RUNS (3 boots per P6 case, the median is printed), JOBS (2), ACCEL (tcg; auto tries KVM first),
# OVERLAY (the binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ex=$top/pxe-examples
overlay=${OVERLAY:-$top/.build/release/overlay}
runs=${RUNS:-3}
jobs=${JOBS:-2}
accel=${ACCEL:-tcg}
[ -x "$overlay" ] || { echo "lab-matrix: $overlay is missing: run make build first" >&2; exit 1; }
if [ ! -f "$ex/build/base.json" ] || [ ! -f "$ex/build/plugins/hwinfo/.stamp" ] || [ ! -f "$ex/build/plugins/monitor/.stamp" ]; then
    make -C "$ex" example OVERLAY="$overlay" >/dev/null
fi
scratch=$(mktemp -d /var/tmp/lab-matrix.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export SOURCE_DATE_EPOCH=1767225600

# monitor's packages come from an online repo: the example's HTTP repo, up for the whole matrix.
status=0
"$ex/with-http.sh" "$ex/build/repos/monitor" 8631 "$overlay" lab matrix --base "$ex/build" \
    --plugin "$ex/build/plugins/vdsm" --plugin "$ex/build/plugins/cim" --plugin "$ex/build/plugins/hwinfo" \
    --plugin "$ex/build/plugins/monitor" --enablerepo monitor --cache "$scratch/cache" --jobs "$jobs" --accel "$accel" \
    --json --quiet >"$scratch/matrix.json" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    echo "lab-matrix: overlay lab matrix failed with exit $status" >&2
    exit 1
fi

python3 - "$scratch/matrix.json" "$jobs" <<'PY'
import json, statistics, sys
report = json.load(open(sys.argv[1]))
rows = report["combinations"]
booted = [r for r in rows if r["boot"] == "ok"]
failed_check = [r for r in rows if r["check"] == "failed"]
phases = report["phases"]
print(f"\noverlay lab matrix, 4 plugins: {len(rows)} combinations, {len(booted)} booted, "
      f"{len(failed_check)} refused by check, {sum(1 for r in rows if r['boot'] == 'failed')} failed to boot; "
      f"{sys.argv[2]} nodes at a time\n")
print(f"  total          {report['seconds']:7.1f} s")
print(f"  in overlay     {phases['build'] + phases['check']:7.1f} s  (build {phases['build']:.1f} s, check {phases['check']:.1f} s)")
print(f"  in QEMU        {phases['boot']:7.1f} s  (booting, with overlay serve)")
if booted:
    times = [r["seconds"] for r in booted]
    print(f"  per boot       {statistics.median(times):7.1f} s median to the report, {min(times):.1f}-{max(times):.1f} s")
    print(f"  per combination {report['seconds'] / len(rows):6.1f} s end to end")
expected_refused = {r["name"] for r in rows if "cim" in r["plugins"] and "hwinfo" in r["plugins"]}
if {r["name"] for r in failed_check} != expected_refused or len(booted) != len(rows) - len(expected_refused):
    print("lab-matrix: unexpected results: " + json.dumps(rows), file=sys.stderr)
    sys.exit(1)
PY

# P6: the base alone vs the base + vdsm, cim and monitor's overlays, from the matrix's cache.
cat >"$scratch/p6.toml" <<TOML
[base]
kernel = "vmlinuz"
initrd = ["base.cpio.zst"]
cmdline = "console=ttyS0 overlay.poweroff"
[roles.base]
plugins = []
[roles.three]
plugins = ["vdsm", "cim", "monitor"]
TOML
declare -A times
for run in $(seq "$runs"); do
    for role in base three; do
        "$overlay" lab boot --fleet "$scratch/p6.toml" --dir "$scratch/cache" --role "$role" --accel "$accel" --json \
            >"$scratch/$role-$run.json" 2>/dev/null || { echo "lab-matrix: role $role did not pass:" >&2; cat "$scratch/$role-$run.json" >&2; exit 1; }
        times[$role]+="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secondsToReady"])' "$scratch/$role-$run.json") "
    done
done
median() { printf '%s\n' $1 | sort -n | sed -n "$(((runs + 1) / 2))p"; }
base=$(median "${times[base]}")
three=$(median "${times[three]}")
printf '\nP6: time to the node report (QEMU start to OVERLAY-NODE READY), median of %s, lab boot (%s)\n\n' "$runs" "$accel"
printf '  base alone             %6.1f s   (the peer)\n' "$base"
printf '  base + 3 overlays      %6.1f s   %.2fx the base alone (goal <= 1.2x)\n' "$three" "$(awk -v a="$three" -v b="$base" 'BEGIN { print a / b }')"
