import Foundation
import SystemPackage

/// Runs a program of squashfs-tools (the one place this module starts processes) and collects its output.
struct ExternalTool {
    let name: String
    let arguments: [String]
    /// Environment variables removed for the child (mksquashfs refuses SOURCE_DATE_EPOCH next to -mkfs-time).
    var removedEnvironment: [String] = []

    struct Output {
        let status: Int32
        let stdout: Data
        let stderr: String
    }

    /// Runs the program and waits for it. Throws only when it cannot be started.
    func run(subject: FilePath) throws -> Output {
        let process = Process()
        guard let executable = Self.locate(name) else {
            throw PackError.tool(name: name, path: subject, status: 127, stderr: "\(name) is not installed (Debian package squashfs-tools)")
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in removedEnvironment { environment.removeValue(forKey: key) }
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw PackError.tool(name: name, path: subject, status: 127, stderr: "\(error)")
        }
        // Read stderr on another thread so neither pipe can fill up and stall the child.
        let errorBox = ErrorText()
        let group = DispatchGroup()
        group.enter()
        let errorHandle = err.fileHandleForReading
        Thread.detachNewThread {
            errorBox.set(errorHandle.readDataToEndOfFile())
            group.leave()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: errorBox.text)
    }

    private static func locate(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private final class ErrorText: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
    }
}
