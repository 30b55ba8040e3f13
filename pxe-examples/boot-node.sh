#!/bin/bash
# boot-node.sh URL MAC [TIMEOUT]
#
# Network-boots one QEMU x86_64 node (SeaBIOS + iPXE, TCG, 512 MiB, virtio-net
# with the given MAC, QEMU user networking) whose DHCP boot file is URL, and
# prints its serial console on stdout until the guest powers off or TIMEOUT
# seconds (default 120) pass.
#
#   URL      what iPXE loads first, as the guest sees it: the host's 127.0.0.1
#            is 10.0.2.2, e.g. http://10.0.2.2:8080/boot.ipxe or
#            tftp://10.0.2.2:6969/boot.ipxe (not port 69: QEMU owns it).
#   MAC      the node's MAC address, e.g. 52:54:00:12:34:56.
#   TIMEOUT  seconds before QEMU is killed.
#
# stdout     the serial console (SeaBIOS, iPXE, the kernel, /init) line by
#            line as it comes, without the carriage returns, ANSI escape
#            sequences and backspaces that SeaBIOS and iPXE draw with; QEMU's
#            own messages (stderr) are mixed in.
# exit       0   the guest powered off (or rebooted: -no-reboot ends QEMU too)
#            124 TIMEOUT passed, QEMU was killed
#            3   the guest kernel panicked (QEMU is stopped at once)
#            2   bad arguments
#            other: QEMU's own failure status
# env        BOOT_LOG   also write the console to this file (truncated first)
#            BOOT_ACCEL QEMU accelerator (default tcg; kvm where available)
#            BOOT_MEM   guest memory in MiB (default 512)
#            BOOT_FIRMWARE bios (default: SeaBIOS, iPXE's PCI ROM) or uefi
#                       (OVMF, iPXE's EFI driver; the kernel's EFI stub loads
#                       the initrds named by initrd= on its command line)
#            BOOT_OVMF  the OVMF image for uefi (default /usr/share/ovmf/OVMF.fd)
#            QEMU       the QEMU binary (default qemu-system-x86_64)
set -u

usage() {
    echo "usage: $0 URL MAC [TIMEOUT]" >&2
    exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage
url=$1 mac=$2 timeout=${3:-120}
case $url in
http://* | https://* | tftp://*) ;;
*) echo "error: URL '$url' must start with http://, https:// or tftp://" >&2; exit 2 ;;
esac
if ! [[ $mac =~ ^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$ ]]; then
    echo "error: MAC '$mac' is not of the form 52:54:00:12:34:56" >&2
    exit 2
fi
if ! [[ $timeout =~ ^[0-9]+$ ]] || [ "$timeout" -eq 0 ]; then
    echo "error: TIMEOUT '$timeout' must be a positive number of seconds" >&2
    exit 2
fi
qemu=${QEMU:-qemu-system-x86_64}
if ! command -v "$qemu" >/dev/null; then
    echo "error: $qemu not found; install qemu-system-x86 and ipxe-qemu (make deps)" >&2
    exit 2
fi

firmware=()
case ${BOOT_FIRMWARE:-bios} in
bios) ;;
uefi)
    ovmf=${BOOT_OVMF:-/usr/share/ovmf/OVMF.fd}
    if [ ! -r "$ovmf" ]; then
        echo "error: no OVMF image at $ovmf; install ovmf (make deps) or set BOOT_OVMF" >&2
        exit 2
    fi
    firmware=(-bios "$ovmf")
    ;;
*) echo "error: BOOT_FIRMWARE '$BOOT_FIRMWARE' must be bios or uefi" >&2; exit 2 ;;
esac

if [ -n "${BOOT_LOG:-}" ]; then : >"$BOOT_LOG" || exit 2; fi

# Commas in an option value are doubled for QEMU's option parser.
bootfile=${url//,/,,}

work=$(mktemp -d)
qemu_pid=
# Never leave a guest behind, whatever ends this script.
cleanup() {
    if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkfifo "$work/console"

timeout --kill-after=5 "$timeout" "$qemu" \
    -machine accel="${BOOT_ACCEL:-tcg}" -m "${BOOT_MEM:-512}" \
    -nographic -no-reboot "${firmware[@]}" \
    -netdev "user,id=n0,bootfile=$bootfile" \
    -device "virtio-net-pci,netdev=n0,mac=$mac" \
    -boot n </dev/null >"$work/console" 2>&1 &
qemu_pid=$!

# Console text without the terminal drawing: CR, ANSI sequences, backspaces.
# A kernel panic ends the boot at once (the guest would hang until TIMEOUT).
panicked=0
while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line"
    if [ -n "${BOOT_LOG:-}" ]; then printf '%s\n' "$line" >>"$BOOT_LOG"; fi
    case $line in
    *"Kernel panic - not syncing"*)
        panicked=1
        sleep 1 # let the panic's trace reach the console
        kill "$qemu_pid" 2>/dev/null
        ;;
    esac
done < <(sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' \
    -e 's/\x08 \x08//g' -e 's/\x08//g' <"$work/console")

wait "$qemu_pid"
status=$?
qemu_pid=
if [ "$panicked" -eq 1 ]; then
    exit 3
fi
# timeout(1) reports 124 on timeout, 137 when it had to send KILL as well.
[ "$status" -eq 137 ] && status=124
exit "$status"
