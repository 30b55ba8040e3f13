import ArgumentParser
import Foundation
import OverlayKit
import Posix

/// Exit statuses, as the README lists them.
enum ExitStatus {
    /// A plan cannot be satisfied: a plugin needs what the locked base does not have.
    static let unsatisfiable = ExitCode(3)
    /// `fleet status`: some node drifts from the fleet.
    static let drift = ExitCode(3)
    static let failure = ExitCode.failure
}

/// Prints one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
}

/// Runs a command body, turning errors into one clear line on stderr and the right exit status,
/// never a Swift trace. The line clears `console`'s progress line first.
func reportingErrors(_ console: Console? = nil, _ body: () throws -> Void) throws {
    let say: (String) -> Void = { message in if let console { console.error(message) } else { printError(message) } }
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as PlanError {
        say(error.description)  // each line names its plugin
        throw ExitCode(error.exitStatus)
    } catch let error as any UserError {
        say("overlay: \(error.description)")
        throw ExitCode(error.exitStatus)
    } catch {
        say("overlay: \(ErrorText.describe(error))")
        throw ExitStatus.failure
    }
}

extension Overlay {
    /// ArgumentParser's own `main`, except that a usage mistake is one line like every other error, naming the
    /// help to read, and exits 64; help, version and completion requests go ArgumentParser's way.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            var text = message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasSuffix(".") { text.removeLast() }
            // "Unknown option '--nope'. Did you mean '--repo'?" and "… '--format <format>'. Please provide one of …"
            // as one sentence.
            if let suggestion = text.range(of: ". Did you mean ") {
                text = text[..<suggestion.lowerBound] + " (did you mean " + text[suggestion.upperBound...] + ")"
            }
            text = text.replacingOccurrences(of: ". Please provide ", with: ": give ")
            if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true {
                text = first.lowercased() + text.dropFirst()
            }
            printError("overlay: \(text); see '\(helpCommand(for: CommandLine.arguments.dropFirst())) --help'")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }

    /// `overlay base create`: the command words the arguments start with.
    private static func helpCommand(for arguments: ArraySlice<String>) -> String {
        var words = [configuration.commandName ?? "overlay"]
        var command: ParsableCommand.Type = Overlay.self
        for argument in arguments {
            guard let subcommand = command.configuration.subcommands.first(where: { $0._commandName == argument }) else { break }
            words.append(argument)
            command = subcommand
        }
        return words.joined(separator: " ")
    }
}
