import Foundation

/// Runs the built `overlay` executable the way a user does, capturing what it prints and its exit status.
enum OverlayCommand {
    typealias Output = Command.Output

    /// The executable beside the test bundle (`swift build --build-tests` builds both into one directory).
    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("overlay")
    }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> Output {
        try Command.capture(executable, arguments, environment: environment, in: directory)
    }
}
