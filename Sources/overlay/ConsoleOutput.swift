// What commands print for people: notices and step details by verbosity, a progress line on a terminal, sizes
// and counts in words.
import ArgumentParser
import Foundation
import Posix

/// `-q/--quiet` and `-v/--verbose`, which every command takes.
struct ConsoleOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print only errors and the result lines: no notices, no progress line.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Also print each step on standard error as it ends, with what it did and how long it took.")
    var verbose = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other; give one of them.") }
    }

    /// The console for this run.
    func console() -> Console { Console(quiet ? .quiet : verbose ? .verbose : .normal) }
}

/// Where a command's words go besides its results (standard output) and errors (always printed): notices for the
/// normal and verbose levels, step details for verbose only, and the progress line, all on standard error.
final class Console: Sendable {
    enum Level: Int, Comparable {
        case quiet, normal, verbose
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    let level: Level
    /// The self-overwriting status line; shown only on a terminal, never with --quiet.
    let progress: ProgressLine

    init(_ level: Level) {
        self.level = level
        progress = ProgressLine(enabled: level != .quiet)
    }

    /// A notice: something the user should know that is not the result (waiting for a lock, leftovers removed).
    func note(_ message: String) {
        if level >= .normal { progress.interject(message) }
    }

    /// A step's detail, printed with --verbose only.
    func detail(_ message: @autoclosure () -> String) {
        if level == .verbose { progress.interject(message()) }
    }

    /// An error line, whatever the level; the progress line is cleared first.
    func error(_ message: String) { progress.interject(message) }
}

/// One self-overwriting status line on standard error, shown only when standard error is a terminal (never when
/// it is piped, so logs and tests stay clean), and only for a step that has lasted a second: short steps do not
/// flicker. While a step runs the line is redrawn four times a second with its elapsed time and, when the step
/// knows its total, a percentage.
final class ProgressLine: Sendable {
    private struct State {
        var step = ""
        var text = ""
        var fraction: Double?
        var started = ContinuousClock.now
        var shown = false
        var ticking = false
        var stopped = false
    }

    private let enabled: Bool
    /// Held while writing, so the redraw and the commands' lines never interleave.
    private let state = Locked(State())

    init(enabled: Bool = true) {
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    /// The state of the running step: `step` names it (a new name restarts the clock), `text` is what the line
    /// says, `fraction` (0...1) how much of it is done when that is known.
    func update(step: String, _ text: String, fraction: Double? = nil) {
        guard enabled else { return }
        let startTicking = state.withLock { state in
            if step != state.step || state.text.isEmpty {
                state.step = step
                state.started = .now
            }
            state.text = text
            state.fraction = fraction.map { min(max($0, 0), 1) }
            Self.drawIfDue(&state)
            guard !state.ticking, !state.stopped else { return false }
            state.ticking = true
            return true
        }
        if startTicking { tick() }
    }

    /// A status line for a step that has no finer state.
    func update(_ text: String) { update(step: text, text) }

    /// Clears the line: the step is over.
    func finish() {
        guard enabled else { return }
        state.withLock { state in
            Self.clear(&state)
            state.text = ""
            state.step = ""
        }
    }

    /// Stops redrawing and clears the line; the command is done with it.
    func stop() {
        guard enabled else { return }
        state.withLock { state in
            state.stopped = true
            Self.clear(&state)
            state.text = ""
        }
    }

    /// Prints a whole line on standard error without mixing it into the status line, which is redrawn below it.
    func interject(_ message: String) {
        state.withLock { state in
            Self.clear(&state)
            printError(message)
            Self.drawIfDue(&state)
        }
    }

    /// Redraws the line and comes back in a quarter of a second, until `stop`.
    private func tick() {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .milliseconds(250)) { [weak self] in
            guard let self else { return }
            let going = self.state.withLock { state in
                guard !state.stopped else { return false }
                Self.drawIfDue(&state)
                return true
            }
            if going { self.tick() }
        }
    }

    /// Draws the line when a step is running and has lasted a second.
    private static func drawIfDue(_ state: inout State) {
        guard !state.text.isEmpty, !state.stopped else { return }
        let elapsed = ContinuousClock.now - state.started
        guard elapsed >= .seconds(1) else { return }
        var line = state.text
        if let fraction = state.fraction { line += "  \(Int(fraction * 100))%" }
        line += "  \(elapsed.components.seconds) s"
        if line.count > 120 { line = String(line.prefix(119)) + "…" }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        state.shown = true
    }

    private static func clear(_ state: inout State) {
        if state.shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        state.shown = false
    }
}

/// The steps of a command that names them in words: each `next` ends the running step and says how long it took.
final class StepClock: Sendable {
    private let current = Locked<(name: String, started: ContinuousClock.Instant)?>(nil)

    /// Starts `step` (nil: none) and returns the step that ended and its duration.
    func next(_ step: String?) -> (String, String)? {
        current.withLock { current in
            let ended = current.map { ($0.name, seconds(since: $0.started)) }
            current = step.map { ($0, .now) }
            return ended
        }
    }
}

/// "0.04 s", "11.3 s": how long a step took, for --verbose.
func seconds(since start: ContinuousClock.Instant) -> String {
    let value = (ContinuousClock.now - start).inSeconds
    return value < 10 ? String(format: "%.2f s", value) : String(format: "%.1f s", value)
}

extension Duration {
    /// The duration as a number of seconds.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
