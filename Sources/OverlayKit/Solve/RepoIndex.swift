import Foundation

/// The parts of a repo's `repodata/repomd.xml` overlay needs: where primary, filelists and module metadata are,
/// and their checksums.
package struct RepoIndex: Sendable {
    package struct Entry: Sendable {
        package var href: String
        package var checksum: String?
        package var checksumType: String?
    }
    package var entries: [String: Entry]

    package var primary: Entry? { entries["primary"] }
    package var filelists: Entry? { entries["filelists"] }
    /// Module metadata (`modules.yaml`), in repos that ship module streams.
    package var modules: Entry? { entries["modules"] }

    /// Parses repomd.xml with libsolv's reader (`repo_add_repomdxml`, expat), the one that reads the rest of the
    /// repo's metadata; `origin` names it in errors. (Foundation's XMLParser, used before, crashed the process on
    /// some malformed documents: a processing instruction without data, an element name that is not UTF-8.)
    package init(parsing data: Data, origin: String) throws(RepoError) {
        guard !data.isEmpty else { throw .corruptMetadata(origin: origin, reason: "repomd.xml is empty") }
        do {
            entries = try SolvPool(arch: "noarch").repomdEntries(data)
        } catch {
            throw .corruptMetadata(origin: origin, reason: error.message)
        }
        guard primary != nil else {
            throw .corruptMetadata(origin: origin, reason: "repomd.xml lists no primary metadata")
        }
    }
}
