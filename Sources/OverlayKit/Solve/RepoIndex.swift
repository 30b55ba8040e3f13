internal import CSolv
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
        let pool = SolvPool(arch: "noarch")
        let parsed = pool.withUnsafeHandle { pool -> Result<[String: Entry], RepoError> in
            guard let repo = repo_create(pool, "repomd") else {
                return .failure(.corruptMetadata(origin: origin, reason: "libsolv cannot create a repo"))
            }
            let added = data.withUnsafeBytes { bytes -> Int32 in
                // solv_fmemopen reads the bytes in place.
                guard let base = bytes.baseAddress, let file = solv_fmemopen(base.assumingMemoryBound(to: CChar.self), bytes.count, "r") else {
                    return -1
                }
                defer { fclose(file) }
                return repo_add_repomdxml(repo, file, 0)
            }
            guard added == 0 else {
                return .failure(.corruptMetadata(origin: origin, reason: String(cString: pool_errstr(pool))))
            }
            repo_internalize(repo)
            return .success(Self.entries(of: repo, in: pool))
        }
        switch parsed {
        case .success(let entries): self.entries = entries
        case .failure(let error): throw error
        }
        guard primary != nil else {
            throw .corruptMetadata(origin: origin, reason: "repomd.xml lists no primary metadata")
        }
    }

    /// Each `<data type="...">` with a location: libsolv keeps them as `repository:repomd` entries of the repo's
    /// meta data, found as in libsolv's own `repomd_find`.
    private static func entries(of repo: UnsafeMutablePointer<Repo>, in pool: UnsafeMutablePointer<Pool>) -> [String: Entry] {
        var entries: [String: Entry] = [:]
        var iterator = Dataiterator()
        dataiterator_init(&iterator, pool, repo, SOLVID_META, Id(REPOSITORY_REPOMD_TYPE.rawValue), nil, 0)
        defer { dataiterator_free(&iterator) }
        dataiterator_prepend_keyname(&iterator, Id(REPOSITORY_REPOMD.rawValue))
        while dataiterator_step(&iterator) != 0 {
            dataiterator_setpos_parent(&iterator)
            guard let type = pool_lookup_str(pool, SOLVID_POS, Id(REPOSITORY_REPOMD_TYPE.rawValue)).map({ String(cString: $0) }),
                let location = pool_lookup_str(pool, SOLVID_POS, Id(REPOSITORY_REPOMD_LOCATION.rawValue)), location.pointee != 0 else { continue }
            var checksumType: Id = 0
            let checksum = pool_lookup_checksum(pool, SOLVID_POS, Id(REPOSITORY_REPOMD_CHECKSUM.rawValue), &checksumType)
            entries[type] = Entry(
                href: String(cString: location), checksum: checksum.map { String(cString: $0) },
                checksumType: checksum == nil ? nil : String(cString: solv_chksum_type2str(checksumType)))
        }
        return entries
    }
}
