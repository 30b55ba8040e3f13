import Foundation

/// Runs the `overlay` executable the way a user does, capturing what it prints and its exit status.
package enum OverlayCommand {
    package typealias Output = Command.Output

    /// The binary under test. `make test` points `OVERLAY_BIN` at `.build/release/overlay`, the binary users run
    /// (a release-only miscompile once crashed it while a debug build passed every test); the sanitizer runs
    /// point it at their instrumented build. Without it, the executable built beside the test bundle.
    package static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["OVERLAY_BIN"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("overlay")
    }

    @discardableResult
    package static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> Output {
        try Command.capture(executable, arguments, environment: environment, in: directory)
    }
}
