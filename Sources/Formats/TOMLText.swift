import TOMLKit

/// TOML text parsed by TOMLKit, with the input its parser cannot take refused first. Every TOML file overlay
/// reads (plugin.toml, fleet.toml) goes through `parse(_:)`.
///
/// TOMLKit 0.6 bundles toml++ 3.4.0, built with its assertions on. Two of its preconditions are not checked
/// before they are asserted, so malformed text aborts the whole process instead of raising a parse error (for
/// `overlay serve`, a half-edited fleet file takes the server down):
/// - a table header whose key starts with a character no key can start with: `[*]`, a `[` alone on a line,
///   `[[[a]]]` (toml++ `parse_key`, fixed upstream after 3.4.0);
/// - an array element that starts with `}` or a Unicode line break (U+0085, U+2028, U+2029): `a = [}]`
///   (toml++ `parse_value`);
/// - a date followed by `T` and no time: `a = 2024-01-01T` or `2024-01-01Tx` (toml++ `parse_time`);
/// - a value followed by a space and a lone digit, which toml++ takes for a date and time written with a space:
///   `a = 2024-01-02 2 ` (toml++ `parse_value`).
/// And TOMLKit hands toml++ a C string, so text after a NUL would be silently ignored. `refusal(in:)` finds all
/// three before TOMLKit sees the text.
package enum TOMLText {
    /// A syntax error at a 1-based line and column (in Unicode scalars, as toml++ counts them).
    package struct SyntaxError: Error {
        package var line: Int
        package var column: Int
        package var reason: String
    }

    package static func parse(_ text: String) throws(SyntaxError) -> TOMLTable {
        if let refusal = refusal(in: text) { throw refusal }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SyntaxError(line: error.source.begin.line, column: error.source.begin.column, reason: error.description)
        } catch {
            throw SyntaxError(line: 1, column: 1, reason: "\(error)")
        }
    }

    /// The first NUL, table header or array element that toml++ would assert on, in the part of the text it
    /// reads before any other error. Strings, comments and multi-line arrays are skipped as TOML reads them, so a
    /// `[` inside a value is never taken for a header.
    package static func refusal(in text: String) -> SyntaxError? {
        let scalars = Array(text.unicodeScalars)
        var index = scalars.first == "\u{FEFF}" ? 1 : 0  // toml++ skips a byte order mark
        var line = 1
        var lineStart = 0
        var open: [Unicode.Scalar] = []  // the `[` and `{` of values not closed yet, innermost last
        var statementStart = true  // nothing but spaces and tabs since a line break outside any value
        var elementStart = false  // after an array's `[` or `,`, only spaces, line breaks and comments so far
        var valueStart = false  // after a key's `=`, only spaces so far

        func error(at position: Int, _ reason: String) -> SyntaxError {
            SyntaxError(line: line, column: position - lineStart + 1, reason: reason)
        }
        func matches(_ delimiter: Unicode.Scalar, count: Int, at position: Int) -> Bool {
            position + count <= scalars.count && scalars[position..<(position + count)].allSatisfy { $0 == delimiter }
        }
        /// Steps over one scalar; false at a NUL.
        func step() -> Bool {
            if scalars[index] == "\0" { return false }
            if scalars[index] == "\n" {
                line += 1
                lineStart = index + 1
            }
            index += 1
            return true
        }
        let nul = "the text holds a NUL character, which TOML does not allow"

        while index < scalars.count {
            let scalar = scalars[index]
            if elementStart, !" \t\r\n#".unicodeScalars.contains(scalar) {
                elementStart = false
                if scalar == "}" || scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    let shown = scalar == "}" ? "'}'" : "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
                    return error(at: index, "an array element cannot start with \(shown)")
                }
                if let refusal = valueRefusal(scalars, at: index) { return error(at: refusal.position, refusal.reason) }
            }
            if valueStart, scalar != " ", scalar != "\t" {
                valueStart = false
                if let refusal = valueRefusal(scalars, at: index) { return error(at: refusal.position, refusal.reason) }
            }
            switch scalar {
            case "\0":
                return error(at: index, nul)
            case "\n":
                _ = step()
                statementStart = open.isEmpty
            case " ", "\t", "\r":
                index += 1
            case "#":
                while index < scalars.count, scalars[index] != "\n" {
                    guard step() else { return error(at: index, nul) }
                }
            case "\"", "'":
                statementStart = false
                let basic = scalar == "\""
                if matches(scalar, count: 3, at: index) {
                    index += 3
                    while index < scalars.count, !matches(scalar, count: 3, at: index) {
                        if basic, scalars[index] == "\\", index + 1 < scalars.count {
                            guard step() else { return error(at: index, nul) }
                        }
                        guard step() else { return error(at: index, nul) }
                    }
                    // Up to two more quotes belong to the string: """a"""" is `a"`.
                    while index < scalars.count, scalars[index] == scalar { index += 1 }
                } else {
                    index += 1
                    while index < scalars.count, scalars[index] != scalar {
                        // A line break ends an unterminated string: toml++ stops there with an error.
                        if scalars[index] == "\n" { return nil }
                        if basic, scalars[index] == "\\", index + 1 < scalars.count, scalars[index + 1] != "\n" {
                            guard step() else { return error(at: index, nul) }
                        }
                        guard step() else { return error(at: index, nul) }
                    }
                    index += 1
                }
            case "[" where statementStart && open.isEmpty:
                // A table header: `[`, spaces, an optional second `[` right after the first, spaces, the key.
                var key = index + 1
                var spaced = false
                while key < scalars.count, scalars[key] == " " || scalars[key] == "\t" {
                    key += 1
                    spaced = true
                }
                if key < scalars.count, scalars[key] == "[", !spaced {
                    key += 1
                    while key < scalars.count, scalars[key] == " " || scalars[key] == "\t" { key += 1 }
                }
                if key < scalars.count, scalars[key] != "]", !isKeyStart(scalars[key]) {
                    return error(at: key, "a table header must start with a name, as in [name] or [[name]]")
                }
                // The rest of the header holds no line break, not even in a quoted key.
                while index < scalars.count, scalars[index] != "\n" {
                    guard step() else { return error(at: index, nul) }
                }
                statementStart = false
            case "[", "{":
                open.append(scalar)
                elementStart = scalar == "["
                statementStart = false
                index += 1
            case "]", "}":
                _ = open.popLast()
                statementStart = false
                index += 1
            case ",":
                elementStart = open.last == "["
                statementStart = false
                index += 1
            case "=":
                valueStart = true
                statementStart = false
                index += 1
            default:
                statementStart = false
                index += 1
            }
        }
        return nil
    }

    /// Why toml++ would assert on the value starting at `start`, and where.
    private static func valueRefusal(_ scalars: [Unicode.Scalar], at start: Int) -> (position: Int, reason: String)? {
        guard start < scalars.count, ("0"..."9").contains(scalars[start]) else { return nil }
        if let time = dateWithoutTime(scalars, at: start) { return (time, "a date and time needs a time after its T") }
        var end = start
        while end < scalars.count, !isValueTerminator(scalars[end]) { end += 1 }
        if end + 2 < scalars.count, scalars[end] == " ", ("0"..."9").contains(scalars[end + 1]), isValueTerminator(scalars[end + 2]) {
            return (end + 1, "a date and time written with a space needs the whole time after it")
        }
        return nil
    }

    /// What ends a bare value for toml++: white space (Unicode's too), `]`, `}`, `,` and `#`.
    private static func isValueTerminator(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "]", "}", ",", "#", "\u{85}", "\u{A0}", "\u{1680}", "\u{180E}", "\u{2000}"..."\u{200B}",
            "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{2060}", "\u{3000}", "\u{FEFF}":
            true
        default: false
        }
    }

    /// Where the time should start in a value that begins like a date and time (`YYYY-MM-DDT`) but has no digit
    /// after the `T`; nil for anything else.
    private static func dateWithoutTime(_ scalars: [Unicode.Scalar], at start: Int) -> Int? {
        let shape = Array("0000-00-00T".unicodeScalars)
        guard start + shape.count <= scalars.count else { return nil }
        for (offset, expected) in shape.enumerated() {
            let scalar = scalars[start + offset]
            switch expected {
            case "0": guard ("0"..."9").contains(scalar) else { return nil }
            case "T": guard scalar == "T" || scalar == "t" else { return nil }
            default: guard scalar == expected else { return nil }
            }
        }
        let time = start + shape.count
        return time < scalars.count && ("0"..."9").contains(scalars[time]) ? nil : time
    }

    /// What toml++ 3.4 lets a key start with: an ASCII bare-key character or a quote.
    private static func isKeyStart(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-", "\"", "'": true
        default: false
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
