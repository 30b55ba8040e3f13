import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of a repo's `repodata/repomd.xml` overlay needs: where primary, filelists and module metadata are,
/// and their checksums.
struct RepoIndex: Sendable {
    struct Entry: Sendable {
        var href: String
        var checksum: String?
        var checksumType: String?
    }
    var entries: [String: Entry]

    var primary: Entry? { entries["primary"] }
    var filelists: Entry? { entries["filelists"] }
    /// Module metadata (`modules.yaml`), in repos that ship module streams.
    var modules: Entry? { entries["modules"] }

    /// Parses repomd.xml; `origin` names it in errors.
    init(parsing data: Data, origin: String) throws(RepoError) {
        guard !data.isEmpty else {
            throw .corruptMetadata(origin: origin, reason: "repomd.xml is empty")
        }
        let delegate = Delegate()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else {
            // XMLParser's own error reads "The operation could not be completed (NSXMLParserErrorDomain …)": the
            // position is what helps.
            throw .corruptMetadata(origin: origin, reason: "repomd.xml is not well-formed XML (line \(parser.lineNumber), column \(parser.columnNumber))")
        }
        entries = delegate.entries
        guard primary != nil else {
            throw .corruptMetadata(origin: origin, reason: "repomd.xml lists no primary metadata")
        }
    }

    private final class Delegate: NSObject, XMLParserDelegate {
        var entries: [String: Entry] = [:]
        var type: String?
        var current = Entry(href: "")
        var inChecksum = false
        var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            switch name {
            case "data":
                type = attributes["type"]
                current = Entry(href: "")
            case "location":
                current.href = attributes["href"] ?? ""
            case "checksum":
                inChecksum = true
                text = ""
                current.checksumType = attributes["type"]
            default:
                break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inChecksum { text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch name {
            case "checksum":
                current.checksum = text.trimmingCharacters(in: .whitespacesAndNewlines)
                inChecksum = false
            case "data":
                if let type, !current.href.isEmpty { entries[type] = current }
                type = nil
            default:
                break
            }
        }
    }
}
