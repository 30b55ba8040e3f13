import TOMLKit

/// A parsed TOML file that remembers its text, so that errors about a key can name the line it is on.
/// Parsing is TOMLKit's; this only keeps the source for messages.
package struct TOMLDocument {
    package let file: String
    package let text: String
    package let root: TOMLTable

    /// Parses `text`; a syntax error becomes `TOMLDocument.Error.syntax` with file, line and column.
    package init(file: String, text: String) throws(TOMLDocument.Error) {
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
    package func line(ofKey key: String, inSection section: String? = nil) -> Int? {
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
    package func location(ofKey key: String, inSection section: String? = nil) -> String {
        line(ofKey: key, inSection: section).map { "\(file):\($0)" } ?? file
    }

    /// "file:line:column" of the string at `index` in the array assigned to top-level `key` (its opening quote),
    /// else what `location(ofKey:)` gives.
    package func location(ofElement index: Int, inKey key: String) -> String {
        guard let keyLine = line(ofKey: key) else { return file }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var line = keyLine - 1
        var seenEquals = false
        var strings = 0
        while line < lines.count {
            let characters = Array(lines[line])
            var column = 0
            while column < characters.count {
                let character = characters[column]
                if !seenEquals {
                    if character == "=" { seenEquals = true }
                } else if character == "#" {
                    break
                } else if character == "]" {
                    return location(ofKey: key)
                } else if character == "\"" || character == "'" {
                    if strings == index { return "\(file):\(line + 1):\(column + 1)" }
                    strings += 1
                    column += 1
                    while column < characters.count && characters[column] != character {
                        column += character == "\"" && characters[column] == "\\" ? 2 : 1
                    }
                }
                column += 1
            }
            line += 1
        }
        return location(ofKey: key)
    }

    package enum Error: Swift.Error, CustomStringConvertible {
        case syntax(file: String, line: Int, column: Int, message: String)

        package var description: String {
            switch self {
            case .syntax(let file, let line, let column, let message):
                "\(file):\(line):\(column): invalid TOML: \(TOMLDocument.sentence(message)); fix the syntax at that position"
            }
        }
    }

    /// toml++ messages start with "Error while parsing ..." and may end with a period or a newline; this keeps
    /// them inside one sentence of ours.
    package static func sentence(_ text: String) -> String {
        var trimmed = Substring(text)
        while let last = trimmed.last, last == "." || last == " " || last == "\n" { trimmed = trimmed.dropLast() }
        var result = String(trimmed)
        if let first = result.first, first.isUppercase {
            result = first.lowercased() + result.dropFirst()
        }
        return result.replacing("\n", with: " ")
    }

    /// "an integer", "a table", "a boolean": a value's TOML type with its article, for "must be a string, not …".
    package static func kind(of value: some TOMLValueConvertible) -> String {
        let name = value.type == .bool ? "boolean" : value.type.description
        return (name.first.map { "aeiou".contains($0) } ?? false) ? "an \(name)" : "a \(name)"
    }
}

import Foundation
