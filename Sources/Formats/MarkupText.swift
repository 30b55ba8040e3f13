/// Text as XML or HTML character data or a quoted attribute value: `& < > " '` become entities, and control
/// characters other than line feed and tab become spaces (XML 1.0 allows none of them). For JUnit reports and the
/// status page, where the text may come from a node or a file.
package func markupEscaped(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case _ where (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || scalar.value == 0x7F: out += " "
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
