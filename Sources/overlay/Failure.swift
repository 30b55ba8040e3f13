import ArgumentParser
import Foundation
import OverlayKit

/// Exit statuses, as the README lists them.
enum ExitStatus {
    /// A plan cannot be satisfied: a plugin needs what the locked base does not have.
    static let unsatisfiable = ExitCode(3)
    static let failure = ExitCode.failure
}

/// Prints one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
}

/// Runs a command body, turning errors into one clear line on stderr and the right exit status,
/// never a Swift trace.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as PlanError {
        printError(error.description)
        throw error.kind == .unsatisfiable ? ExitStatus.unsatisfiable : ExitStatus.failure
    } catch {
        printError("overlay: \(ErrorText.describe(error))")
        throw ExitStatus.failure
    }
}
