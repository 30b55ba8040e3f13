import Foundation
import Testing

@testable import OverlayKit

/// Repo definitions and repo indexes as overlay reads them from plugins and repos it does not control.
@Suite struct RepoFileTests {
    @Test func repoFilesAreReadTheWayDnfReadsThem() throws {
        let repos = try RepoDefinition.parse(
            "[main]\nbaseurl=http://ignored/\n\n[updates]\nname=Updates\nbaseurl=https://repo.example.org/$basearch/\n"
                + "        file:///srv/mirror/$arch,http://mirror.example.org/x\nenabled=0\ngpgcheck=1\n",
            file: "u.repo", arch: "x86_64")
        #expect(
            repos == [
                RepoDefinition(
                    id: "updates", name: "Updates",
                    baseURLs: ["https://repo.example.org/x86_64/", "file:///srv/mirror/x86_64", "http://mirror.example.org/x"],
                    enabledInFile: false, gpgcheck: true, origin: "u.repo:4")
            ])
    }

    /// `[ ]` passed as a repo with an empty id (found by fuzzing .repo files); it names no repo.
    @Test func aSectionWithoutAnIdIsRefused() {
        for header in ["[ ]", "[\t]", "[  \t ]"] {
            #expect { try RepoDefinition.parse("\(header)\nbaseurl=file:///a\n", file: "/p/repos/x.repo", arch: "x86_64") } throws: {
                "\($0)" == "/p/repos/x.repo:1: section header \"\(header)\" names no repo; write [repo-id]"
            }
        }
    }

    /// Foundation's XMLParser crashed the process on an element name that is not UTF-8 and on a processing
    /// instruction without data (both found by fuzzing repomd.xml); repomd.xml is now read by libsolv, like the
    /// rest of the repo's metadata, and such an index is corrupt metadata.
    @Test func indexesThatCrashedXMLParserAreCorruptMetadata() throws {
        let origin = "http://repo.invalid/repodata/repomd.xml"
        let notUTF8: [UInt8] = [0x0a, 0x3c, 0xd8, 0x3c, 0xd8, 0xbb, 0xbc, 0xaf, 0xaa, 0xbb, 0xbc, 0xaf, 0xaa, 0xb0, 0xa6, 0xba]
        #expect { try RepoIndex(parsing: Data(notUTF8), origin: origin) } throws: {
            "\($0)" == "cannot read repo metadata \(origin): repo_repomdxml: not well-formed (invalid token) at line 2:1; regenerate it with createrepo_c"
        }
        #expect { try RepoIndex(parsing: Data("<?x?>\n<repomd><data type=\"primary\"></repomd>\n".utf8), origin: origin) } throws: {
            "\($0)".hasPrefix("cannot read repo metadata \(origin): repo_repomdxml: ")
        }
        #expect { try RepoIndex(parsing: Data(), origin: origin) } throws: {
            "\($0)" == "cannot read repo metadata \(origin): repomd.xml is empty; regenerate it with createrepo_c"
        }
    }

    @Test func aRepoIndexNamesItsMetadata() throws {
        let sha = String(repeating: "ab", count: 32)
        let index = try RepoIndex(
            parsing: Data(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
                  <data type="primary"><checksum type="sha256">\(sha)</checksum><location href="repodata/p.xml.gz"/></data>
                  <data type="filelists"><location href="repodata/f.xml.zst"/></data>
                  <data type="other"><checksum type="sha256">\(sha)</checksum><location href=""/></data>
                </repomd>
                """.utf8), origin: "repomd.xml")
        #expect(index.primary?.href == "repodata/p.xml.gz")
        #expect(index.primary?.checksum == sha)
        #expect(index.primary?.checksumType == "sha256")
        #expect(index.filelists?.href == "repodata/f.xml.zst")
        #expect(index.filelists?.checksum == nil)
        #expect(index.entries["other"] == nil)
        #expect { try RepoIndex(parsing: Data("<repomd><data type=\"filelists\"><location href=\"f.xml\"/></data></repomd>".utf8), origin: "r") } throws: {
            "\($0)" == "cannot read repo metadata r: repomd.xml lists no primary metadata; regenerate it with createrepo_c"
        }
    }
}
