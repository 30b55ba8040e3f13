import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// curl's output for `url`; fails the test when curl fails.
package func curl(_ url: String, _ options: String...) throws -> String { try curl(url, options: options) }

/// curl's output for `url` with a list of options; fails the test when curl fails.
package func curl(_ url: String, options: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["--silent", "--show-error", "--max-time", "10"] + options + [url]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    struct CurlFailed: Error, CustomStringConvertible { package let description: String }
    guard process.terminationStatus == 0 else { throw CurlFailed(description: "curl \(url) exited with \(process.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

/// The built `overlay` executable running with its standard output and error in files.
package final class OverlayProcess {
    package let process = Process()
    package let stdoutPath: String
    package let stderrPath: String

    package struct Timeout: Error, CustomStringConvertible { package let description: String }

    package init(_ arguments: [String], in directory: URL) throws {
        let executable = OverlayCommand.executable
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Timeout(description: "\(executable.path) is missing: build the overlay product first (swift build)")
        }
        let id = UUID().uuidString
        stdoutPath = directory.appendingPathComponent("stdout-\(id)").path
        stderrPath = directory.appendingPathComponent("stderr-\(id)").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    package func output() throws -> String { try String(contentsOfFile: stdoutPath, encoding: .utf8) }
    package func events() throws -> String { try String(contentsOfFile: stderrPath, encoding: .utf8) }

    /// The `occurrence`-th line of standard error starting with `prefix`, waiting up to 15 seconds for it.
    package func waitForEvent(_ prefix: String, occurrence: Int = 1) throws -> String {
        for _ in 0..<150 {
            let lines = try events().split(separator: "\n").filter { $0.hasPrefix(prefix) }
            if lines.count >= occurrence { return String(lines[occurrence - 1]) }
            if !process.isRunning { break }
            usleep(100_000)
        }
        throw Timeout(description: "no line starting with \"\(prefix)\" (#\(occurrence)) from overlay; it wrote: \((try? events()) ?? "")")
    }

    package func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    package func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Stops the server with SIGTERM and returns its exit status.
    @discardableResult
    package func terminate() -> Int32 {
        if process.isRunning { signal(SIGTERM) }
        return wait()
    }
}

/// A QEMU x86 machine that network-boots with its iPXE ROM, its serial console in a file.
package final class QEMU {
    package let process = Process()
    package let consolePath: String

    package init(bootfile: String, mac: String, in directory: URL) throws {
        consolePath = directory.appendingPathComponent("console-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: consolePath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-system-x86_64")
        process.arguments = [
            "-m", "256", "-nographic", "-no-reboot", "-netdev", "user,id=n0,bootfile=\(bootfile)",
            "-device", "virtio-net-pci,netdev=n0,mac=\(mac)", "-boot", "n",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: consolePath)
        process.standardError = FileHandle(forWritingAtPath: consolePath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits up to 90 seconds (QEMU without KVM is slow) for `text` on the console.
    package func waitFor(_ text: String) throws {
        for _ in 0..<900 {
            let console = (try? String(decoding: Data(contentsOf: URL(fileURLWithPath: consolePath)), as: UTF8.self)) ?? ""
            if console.contains(text) { return }
            if !process.isRunning { break }
            usleep(100_000)
        }
        let console = (try? String(decoding: Data(contentsOf: URL(fileURLWithPath: consolePath)), as: UTF8.self)) ?? ""
        throw OverlayProcess.Timeout(description: "\"\(text)\" did not appear on the node's console; it shows: \(console.suffix(2000))")
    }

    /// SIGKILL: a process started from a test thread inherits that thread's blocked signals, SIGTERM among them,
    /// and QEMU does not unblock it.
    package func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
