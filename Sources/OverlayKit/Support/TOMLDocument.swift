import TOMLKit

/// A parsed TOML file that remembers its text, so that errors about a key can name the line it is on.
/// Parsing is TOMLKit's; this only keeps the source for messages.
struct TOMLDocument {
    let file: String
    let text: String
    let root: TOMLTable

    /// Parses `text`; a syntax error becomes `TOMLDocument.Error.syntax` with file, line and column.
    init(file: String, text: String) throws(TOMLDocument.Error) {
        self.file = file
        self.text = text
        do {
            root = try TOMLText.parse(text)
        } catch {
            throw .syntax(file: file, line: error.line, column: error.column, message: error.reason)
        }
    }

    /// The 1-based line where `key` is assigned (`key =`) or its table header (`[key]`, `[[key]]`) stands, if found.
    /// `section` narrows the search to lines after that table header.
    func line(ofKey key: String, inSection section: String? = nil) -> Int? {
        var inSection = section == nil
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                let header = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] \t"))
                if header == key { return index + 1 }
                if let section { inSection = header == section }
                continue
            }
            guard inSection else { continue }
            if let eq = line.firstIndex(of: "=") {
                let name = line[..<eq].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                if name == key { return index + 1 }
            }
        }
        return nil
    }

    /// "file:line" for a key when its line is known, else the file.
    func location(ofKey key: String, inSection section: String? = nil) -> String {
        line(ofKey: key, inSection: section).map { "\(file):\($0)" } ?? file
    }

    enum Error: Swift.Error, CustomStringConvertible {
        case syntax(file: String, line: Int, column: Int, message: String)

        var description: String {
            switch self {
            case .syntax(let file, let line, let column, let message):
                "\(file):\(line):\(column): invalid TOML: \(message); fix the syntax at that position"
            }
        }
    }
}

import Foundation
