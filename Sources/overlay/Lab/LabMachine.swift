import Fleet
import Foundation
import Posix

/// One QEMU x86_64 node that network-boots the way a real one does: the distribution's iPXE ROM (BIOS) or OVMF's
/// network stack with iPXE's EFI driver (UEFI), QEMU user networking whose DHCP hands out `bootURL`, a virtio NIC
/// with the node's MAC, the serial console read line by line until the node powers off.
struct LabMachine {
    enum Firmware: String, Sendable {
        case bios = "BIOS"
        case uefi = "UEFI"
    }

    enum Accelerator: String, Sendable, CaseIterable {
        /// KVM when /dev/kvm can be used, TCG otherwise or when KVM does not get the node booted.
        case auto
        case kvm
        case tcg
    }

    let mac: MACAddress
    /// What iPXE loads first, as the guest sees it: the host's loopback is 10.0.2.2.
    let bootURL: String
    var firmware = Firmware.bios
    var accelerator = Accelerator.auto
    var memoryMiB = 512
    var timeoutSeconds = 180
    /// The console goes to the user's terminal too, and a shell is left to them when the node does not power off.
    var interactive = false
    /// How long a node that printed its report may go on before it is stopped (not when interactive).
    var readyGraceSeconds = 20

    struct Outcome: Sendable {
        enum End: Sendable, Equatable {
            case poweredOff
            /// The node printed its report but did not power off (its command line has no `overlay.poweroff`): it
            /// was given `readyGraceSeconds` to send its report, then stopped.
            case stoppedAfterReady
            case timedOut
            /// Under `auto`, KVM had not started the node's kernel after `kvmProbeSeconds`: stopped, to boot with TCG.
            case kvmStalled
            case panicked
            case failed(Int32)
        }
        var end: End
        /// The console without the firmware's terminal drawing.
        var console: String
        /// From QEMU's start to the `OVERLAY-NODE READY` line; nil when it never came.
        var secondsToReady: Double?
        /// Whether the guest ran under KVM (TCG otherwise).
        var kvm: Bool
        var seconds: Double
        /// Said when the boot was tried twice: KVM did not boot the node, TCG did.
        var note: String?

        var report: NodeReport? { NodeReport.parse(console: console) }
    }

    static let qemuPath = "/usr/bin/qemu-system-x86_64"
    /// Debian's ipxe-qemu: the ROM QEMU finds on its own for a virtio NIC (BIOS and EFI images in one file).
    static let romPath = "/usr/lib/ipxe/qemu/efi-virtio.rom"
    static let ovmfPath = "/usr/share/ovmf/OVMF.fd"

    /// Why this machine cannot boot a node, or nil when QEMU, the ROM and (for UEFI) OVMF are all there.
    static func missingParts(for firmware: Firmware) -> String? {
        let fileManager = FileManager.default
        if !fileManager.isExecutableFile(atPath: qemuPath) {
            return "QEMU is not installed (\(qemuPath)): install the qemu-system-x86 package"
        }
        if !fileManager.isReadableFile(atPath: romPath) { return "iPXE's ROM for QEMU is not installed (\(romPath)): install the ipxe-qemu package" }
        if firmware == .uefi && !fileManager.isReadableFile(atPath: ovmfPath) {
            return "OVMF is not installed (\(ovmfPath)): install the ovmf package, or boot with BIOS (without --uefi)"
        }
        return nil
    }

    static var kvmUsable: Bool { access("/dev/kvm", R_OK | W_OK) == 0 }

    func arguments(kvm: Bool, consoleLog: String?) -> [String] {
        var arguments = ["-machine", "accel=" + (kvm ? "kvm" : "tcg"), "-m", String(memoryMiB), "-no-reboot"]
        if let consoleLog {
            // The serial console and QEMU's monitor on the terminal (Ctrl-A X quits), copied to a file.
            arguments += [
                "-display", "none", "-chardev", "stdio,id=console,mux=on,signal=off,logfile=\(consoleLog)", "-serial", "chardev:console",
                "-mon", "chardev=console",
            ]
        } else {
            arguments += ["-nographic"]
        }
        if firmware == .uefi { arguments += ["-bios", Self.ovmfPath] }
        // Commas in an option value are doubled for QEMU's option parser.
        arguments += [
            "-netdev", "user,id=n0,bootfile=" + bootURL.replacingOccurrences(of: ",", with: ",,"),
            "-device", "virtio-net-pci,netdev=n0,mac=\(mac)", "-boot", "n",
        ]
        return arguments
    }

    /// Boots the node and waits until it powers off, panics, or `timeoutSeconds` pass. Under `auto`, a node that KVM
    /// does not get to its report (nested virtualisation that resets the guest in its firmware) is booted again
    /// with TCG.
    func boot(scratch: String) throws(LabError) -> Outcome {
        if let missing = Self.missingParts(for: firmware) { throw .missingTool(missing) }
        switch accelerator {
        case .tcg:
            return try run(kvm: false, scratch: scratch)
        case .kvm:
            guard Self.kvmUsable else { throw .missingTool("KVM cannot be used here (/dev/kvm is missing or not writable): boot with --accel tcg") }
            return try run(kvm: true, scratch: scratch)
        case .auto:
            guard Self.kvmUsable, !interactive else { return try run(kvm: false, scratch: scratch) }
            let first = try run(kvm: true, scratch: scratch, probing: true)
            guard first.report == nil, first.end != .timedOut else { return first }
            var second = try run(kvm: false, scratch: scratch)
            let why = first.end == .kvmStalled ? "its kernel had not started after \(Self.kvmProbeSeconds) s" : "the guest ended with \(first.end)"
            second.note = "KVM did not boot the node (\(why)), so it was booted again with TCG"
            return second
        }
    }

    /// How long KVM gets, under `auto`, to start the node's kernel (TCG takes a few seconds).
    static let kvmProbeSeconds = 30

    private func run(kvm: Bool, scratch: String, probing: Bool = false) throws(LabError) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.qemuPath)
        let consoleLog = interactive ? scratch + "/console-\(mac.hyphenated).log" : nil
        process.arguments = arguments(kvm: kvm, consoleLog: consoleLog)
        let output = Pipe()
        if !interactive {
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
        }
        let started = ContinuousClock.now
        do { try process.run() } catch { throw .cannotStart("QEMU", ErrorText.describe(error)) }

        let watch = ConsoleWatch(started: started)
        let timer: PosixThread<Void>
        do {
            timer = try PosixThread(name: "QEMU timeout") { [timeoutSeconds, interactive, readyGraceSeconds] in
                // Stops a guest that runs too long or panicked; returns once QEMU is gone.
                let deadline = started + .seconds(timeoutSeconds)
                while process.isRunning {
                    if ContinuousClock.now >= deadline {
                        watch.timedOut()
                        process.terminate()
                        return
                    }
                    if probing, !watch.kernelStarted, ContinuousClock.now >= started + .seconds(Self.kvmProbeSeconds) {
                        watch.kvmStalled()
                        process.terminate()
                        return
                    }
                    if !interactive, let ready = watch.readyAt, ContinuousClock.now >= ready + .seconds(readyGraceSeconds) {
                        watch.stoppedAfterReady()
                        process.terminate()
                        return
                    }
                    if watch.hasPanicked {
                        usleep(500_000)  // the panic's trace reaches the console
                        process.terminate()
                        return
                    }
                    usleep(50_000)
                }
            }
        } catch {
            process.terminate()
            process.waitUntilExit()
            throw .cannotStart("a thread", error.description)
        }
        if interactive {
            process.waitUntilExit()
            if let consoleLog, let data = FileManager.default.contents(atPath: consoleLog) {
                for line in Self.lines(data) { watch.take(line) }
            }
        } else {
            var pending = Data()
            let handle = output.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    watch.take(Self.clean(pending[pending.startIndex..<newline]))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { watch.take(Self.clean(pending[...])) }
            process.waitUntilExit()
        }
        try? timer.join()
        let seconds = (ContinuousClock.now - started).inSeconds
        let state = watch.state
        let end: Outcome.End =
            state.panicked
            ? .panicked
            : state.kvmStalled
                ? .kvmStalled
                : state.stoppedAfterReady
                    ? .stoppedAfterReady : state.timedOut ? .timedOut : process.terminationStatus == 0 ? .poweredOff : .failed(process.terminationStatus)
        return Outcome(end: end, console: state.lines.joined(separator: "\n"), secondsToReady: state.ready, kvm: kvm, seconds: seconds)
    }

    private static func lines(_ data: Data) -> [String] {
        data.split(separator: 0x0A, omittingEmptySubsequences: false).map { clean($0) }
    }

    /// A console line without what SeaBIOS and iPXE draw with: carriage returns, ANSI sequences, backspaces.
    static func clean(_ bytes: Data.SubSequence) -> String {
        var text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
        while let escape = text.range(of: "\u{1B}") {
            var end = text.index(after: escape.lowerBound)
            if end < text.endIndex, text[end] == "[" {
                end = text.index(after: end)
                while end < text.endIndex, !(text[end].isLetter) { end = text.index(after: end) }
                if end < text.endIndex { end = text.index(after: end) }
            } else if end < text.endIndex {
                end = text.index(after: end)
            }
            text.removeSubrange(escape.lowerBound..<end)
        }
        return text.replacingOccurrences(of: "\u{8} \u{8}", with: "").replacingOccurrences(of: "\u{8}", with: "")
    }
}

/// What the console said so far, shared by the reader and the timer.
private final class ConsoleWatch: Sendable {
    struct State {
        var lines: [String] = []
        var ready: Double?
        var panicked = false
        var timedOut = false
        var stoppedAfterReady = false
        var kvmStalled = false
        /// The kernel printed its first line.
        var kernelStarted = false
        var readyAt: ContinuousClock.Instant?
    }
    private let locked = Locked(State())
    private let started: ContinuousClock.Instant

    init(started: ContinuousClock.Instant) { self.started = started }

    var state: State { locked.withLock { $0 } }
    var hasPanicked: Bool { locked.withLock { $0.panicked } }

    var readyAt: ContinuousClock.Instant? { locked.withLock { $0.readyAt } }

    func timedOut() { locked.withLock { $0.timedOut = true } }
    var kernelStarted: Bool { locked.withLock { $0.kernelStarted } }
    func kvmStalled() { locked.withLock { $0.kvmStalled = true } }
    func stoppedAfterReady() { locked.withLock { $0.stoppedAfterReady = true } }

    func take(_ line: String) {
        let now = ContinuousClock.now
        let elapsed = now - started
        locked.withLock { state in
            state.lines.append(line)
            if line == NodeReport.readyLine, state.ready == nil {
                state.readyAt = now
                state.ready = elapsed.inSeconds
            }
            if line.contains("Kernel panic - not syncing") { state.panicked = true }
            // The kernel's banner, or (under `quiet`) the report's first lines.
            if line.contains("Linux version ") || line.hasPrefix("NODE ") || line == NodeReport.readyLine { state.kernelStarted = true }
        }
    }
}
