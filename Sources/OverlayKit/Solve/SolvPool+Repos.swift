internal import CSolv
import Foundation
import SystemPackage

/// Repos of a pool, named by `SolvRepoID`: every `repo_*` call goes through these methods, which look the repo up
/// in the pool each time.
extension SolvPool {
    /// A new repo read from a `.solv` file (`repo_add_solv`), or nil when the file cannot be opened or read; a repo
    /// that failed to read is removed again.
    func addRepo(named name: String, solvFile path: FilePath) -> SolvRepoID? {
        guard let file = SolvFile.plain(path) else { return nil }
        return withUnsafeHandle { pool -> SolvRepoID? in
            guard let repo = repo_create(pool, name) else { return nil }
            guard file.withUnsafeHandle({ repo_add_solv(repo, $0, 0) }) == 0 else {
                repo_free(repo, 1)
                return nil
            }
            return SolvRepoID(rawValue: repo.pointee.repoid)
        }
    }

    /// A new repo read from rpm-md XML (possibly compressed): `primary`, then `filelists` if there is one, added to
    /// the same packages (`repo_add_rpmmd`, the second with `"FL"` and `REPO_EXTEND_SOLVABLES`), then internalized.
    /// On failure no repo is left, and the error names the file (its `file`) and gives libsolv's words.
    func addRepo(named name: String, primary: FilePath, filelists: FilePath?) throws(SolvError) -> SolvRepoID {
        try withUnsafeHandle { (pool) throws(SolvError) -> SolvRepoID in
            guard let repo = repo_create(pool, name) else { throw SolvError("libsolv cannot create a repo") }
            do throws(SolvError) {
                try Self.addRPMMD(primary, to: repo, language: nil, flags: 0)
                if let filelists { try Self.addRPMMD(filelists, to: repo, language: "FL", flags: Int32(REPO_EXTEND_SOLVABLES)) }
            } catch {
                repo_free(repo, 1)
                throw error
            }
            repo_internalize(repo)
            return SolvRepoID(rawValue: repo.pointee.repoid)
        }
    }

    /// `repo_add_rpmmd` on a (possibly compressed) XML file.
    private static func addRPMMD(_ path: FilePath, to repo: UnsafeMutablePointer<Repo>, language: String?, flags: Int32) throws(SolvError) {
        let file = try SolvFile.decompressing(path)
        if file.withUnsafeHandle({ repo_add_rpmmd(repo, $0, language, flags) }) != 0 {
            throw SolvError(String(cString: pool_errstr(repo.pointee.pool)), file: path.string)
        }
    }

    /// Writes a repo as a `.solv` file to `fd` (`repo_write`).
    func writeSolv(_ repo: SolvRepoID, to fd: FileDescriptor) throws(Errno) {
        let file = try SolvFile.writing(to: fd)
        let result = withUnsafeHandle { pool -> Int32 in
            guard let repo = pool_id2repo(pool, repo.rawValue) else { return -1 }
            return file.withUnsafeHandle { repo_write(repo, $0) }
        }
        try file.flush()
        if result != 0 { throw Errno.ioError }
    }

    /// The entries of a repo's `repomd.xml`, read with libsolv's reader (`repo_add_repomdxml`, expat) into a repo of
    /// their own: each `<data type="...">` with a location, by type.
    func repomdEntries(_ data: Data) throws(SolvError) -> [String: RepoIndex.Entry] {
        try withUnsafeHandle { (pool) throws(SolvError) -> [String: RepoIndex.Entry] in
            guard let repo = repo_create(pool, "repomd") else { throw SolvError("libsolv cannot create a repo") }
            let added = data.withUnsafeBytes { bytes -> Int32 in
                // The file reads the bytes in place: it is closed before they go.
                guard let file = SolvFile.reading(bytes) else { return -1 }
                return file.withUnsafeHandle { repo_add_repomdxml(repo, $0, 0) }
            }
            guard added == 0 else { throw SolvError(String(cString: pool_errstr(pool))) }
            repo_internalize(repo)
            return Self.repomdEntries(of: repo, in: pool)
        }
    }

    /// libsolv keeps the `<data>` elements as `repository:repomd` entries of the repo's meta data, found as in
    /// libsolv's own `repomd_find`.
    private static func repomdEntries(of repo: UnsafeMutablePointer<Repo>, in pool: UnsafeMutablePointer<Pool>) -> [String: RepoIndex.Entry] {
        var entries: [String: RepoIndex.Entry] = [:]
        var iterator = Dataiterator()
        dataiterator_init(&iterator, pool, repo, SOLVID_META, Id(REPOSITORY_REPOMD_TYPE.rawValue), nil, 0)
        defer { dataiterator_free(&iterator) }
        dataiterator_prepend_keyname(&iterator, Id(REPOSITORY_REPOMD.rawValue))
        while dataiterator_step(&iterator) != 0 {
            dataiterator_setpos_parent(&iterator)
            guard let type = pool_lookup_str(pool, SOLVID_POS, Id(REPOSITORY_REPOMD_TYPE.rawValue)).map({ String(cString: $0) }),
                let location = pool_lookup_str(pool, SOLVID_POS, Id(REPOSITORY_REPOMD_LOCATION.rawValue)), location.pointee != 0
            else { continue }
            var checksumType: Id = 0
            let checksum = pool_lookup_checksum(pool, SOLVID_POS, Id(REPOSITORY_REPOMD_CHECKSUM.rawValue), &checksumType)
            entries[type] = RepoIndex.Entry(
                href: String(cString: location), checksum: checksum.map { String(cString: $0) },
                checksumType: checksum == nil ? nil : String(cString: solv_chksum_type2str(checksumType)))
        }
        return entries
    }
}
