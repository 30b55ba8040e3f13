import Foundation
import Posix
import SystemPackage

/// Runs a file system image tool (squashfs-tools, erofs-utils: the one place this module starts processes) and
/// collects its output.
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
            let package = name.hasSuffix("erofs") ? "erofs-utils" : "squashfs-tools"
            throw PackError.tool(name: name, path: subject, status: 127, stderr: "\(name) is not installed (Debian package \(package))")
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
        let errorHandle = err.fileHandleForReading
        let errorReader: PosixThread<Data>
        do {
            errorReader = try PosixThread(name: "\(name) stderr") { errorHandle.readDataToEndOfFile() }
        } catch {
            process.terminate()
            process.waitUntilExit()
            throw PackError.tool(name: name, path: subject, status: 127, stderr: error.description)
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = (try? errorReader.join()) ?? Data()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
    }

    private static func locate(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
