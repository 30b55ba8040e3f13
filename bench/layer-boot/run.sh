#!/bin/bash
# Boot time of the example base alone vs the base + 3 cpio overlays vs the base + 3 squashfs layers, the same
# run, from QEMU start to the node's power-off (iPXE over HTTP from `overlay serve`, TCG unless BOOT_ACCEL says
# otherwise). The plugins are the example's vdsm, cim and monitor; the base and the plugin directories come from
# `make example` (run first when missing).
#
# Settings: RUNS (3 boots per case, the median is printed), OVERLAY (the binary), BOOT_ACCEL (tcg).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ex=$top/pxe-examples
overlay=${OVERLAY:-$top/.build/release/overlay}
runs=${RUNS:-3}
[ -x "$overlay" ] || { echo "layer-boot: $overlay is missing: run make build first" >&2; exit 1; }
if [ ! -f "$ex/build/base.json" ] || [ ! -f "$ex/build/plugins/monitor/.stamp" ]; then
    make -C "$ex" example OVERLAY="$overlay" >/dev/null
fi

scratch=$(mktemp -d /var/tmp/layer-boot.XXXXXX)
servers=()
cleanup() { rm -rf "$scratch"; }
trap 'cleanup' EXIT
export SOURCE_DATE_EPOCH=1767225600

# The three served directories: base only, cpio overlays, squashfs layers.
for case in base cpio squashfs; do
    mkdir -p "$scratch/$case"
    cp "$ex/build/vmlinuz" "$ex/build/base.cpio.zst" "$ex/build/base.json" "$scratch/$case/"
done
for format in cpio squashfs; do
    out=$scratch/$format
    "$overlay" build --cachedir "$scratch/cache" --base "$ex/build/rootfs" --plugin "$ex/build/plugins/vdsm" \
        --plugin "$ex/build/plugins/cim" --format "$format" --out "$out" >/dev/null
    "$ex/with-http.sh" "$ex/build/repos/monitor" 8631 "$overlay" build --cachedir "$scratch/cache" --base "$ex/build/rootfs" \
        --plugin "$ex/build/plugins/monitor" --enablerepo monitor --format "$format" --out "$out" >/dev/null
done
fleet() {  # fleet PLUGINS...
    printf '[base]\nkernel = "vmlinuz"\ninitrd = ["base.cpio.zst"]\ncmdline = "console=ttyS0 overlay.poweroff"\n'
    local list=""
    [ $# -gt 0 ] && list=$(printf '"%s",' "$@" | sed 's/,$//')
    printf '[roles.node]\nplugins = [%s]\n[defaults]\nrole = "node"\n' "$list"
}
fleet >"$scratch/base.toml"
fleet vdsm cim monitor >"$scratch/cpio.toml"
fleet vdsm cim monitor >"$scratch/squashfs.toml"

# All three servers at once, and the boots interleaved (base, cpio, squashfs, base, ...), so a change of load on
# the machine falls on every case alike.
declare -A median bytes port times
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$scratch"
}
for case in base cpio squashfs; do
    "$overlay" serve --dir "$scratch/$case" --fleet "$scratch/$case.toml" --http 127.0.0.1:0 >"$scratch/$case.log" 2>&1 &
    servers+=($!)
    for _ in $(seq 100); do
        port[$case]=$(sed -n 's/.*HTTP on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$scratch/$case.log")
        [ -n "${port[$case]}" ] && break
        sleep 0.1
    done
    [ -n "${port[$case]}" ] || { echo "layer-boot: overlay serve did not start:" >&2; cat "$scratch/$case.log" >&2; exit 1; }
    bytes[$case]=$(find "$scratch/$case" -maxdepth 1 \( -name '*.cpio.zst' -o -name '*.squashfs' \) -exec cat {} + | wc -c)
done
for run in $(seq "$runs"); do
    for case in base cpio squashfs; do
        console=$scratch/$case-$run.console
        start=$(date +%s.%N)
        BOOT_LOG=$console "$ex/boot-node.sh" "http://10.0.2.2:${port[$case]}/boot.ipxe" 52:54:00:12:34:99 240 >/dev/null
        end=$(date +%s.%N)
        grep -qx "OVERLAY-NODE READY" "$console" || { echo "layer-boot: the $case node did not boot; console:" >&2; tail -20 "$console" >&2; exit 1; }
        times[$case]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') "
    done
done
for case in base cpio squashfs; do
    median[$case]=$(printf '%s\n' ${times[$case]} | sort -n | sed -n "$(((runs + 1) / 2))p")
done

printf '\nBoot to power-off, median of %s (QEMU %s, iPXE over HTTP from overlay serve)\n\n' "$runs" "${BOOT_ACCEL:-tcg}"
printf '| %-36s | %9s | %14s | %12s |\n' "node boots" "seconds" "initrds, bytes" "vs base alone"
printf '|%s|%s|%s|%s|\n' "--------------------------------------" "-----------" "----------------" "--------------"
for case in base cpio squashfs; do
    label=$(case $case in base) echo "base alone";; cpio) echo "base + 3 cpio overlays";; squashfs) echo "base + 3 squashfs layers";; esac)
    printf '| %-36s | %9.2f | %14s | %11.2fx |\n' "$label" "${median[$case]}" "${bytes[$case]}" "$(awk -v a="${median[$case]}" -v b="${median[base]}" 'BEGIN { print a / b }')"
done
