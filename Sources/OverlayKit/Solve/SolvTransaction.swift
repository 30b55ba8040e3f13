internal import CSolv

/// Owns one libsolv `Transaction` (from `solver_create_transaction`, freed with `transaction_free`) and keeps the
/// pool its packages live in alive.
final class SolvTransaction {
    /// One package the transaction touches, with what fetching it needs.
    struct Step: Sendable {
        var solvable: SolvableID
        /// `name-[epoch:]version-release.arch`
        var nevra: String
        var name: String
        /// Whether it is one of the installed packages (which a transaction over a locked base must not touch).
        var isInstalled: Bool
        /// The name of its repo (the repo's id in the plugin's repo files).
        var repoName: String
        /// Where the package is, relative to its repo's base URL (`solvable_get_location`); nil if libsolv has none.
        var location: String?
        /// `type:hex` (`sha256:…`) from the repo metadata (`solvable_lookup_checksum`), if it lists one.
        var checksum: String?
        /// The download size from the repo metadata (`SOLVABLE_DOWNLOADSIZE`), if it lists one.
        var downloadSize: Int64?
    }

    private let transaction: UnsafeMutablePointer<Transaction>
    private let pool: SolvPool

    /// Takes over a transaction of `pool`.
    init(adopting transaction: UnsafeMutablePointer<Transaction>, pool: SolvPool) {
        self.transaction = transaction
        self.pool = pool
    }

    deinit { transaction_free(transaction) }

    /// The packages the transaction installs or changes, in libsolv's order (its `steps`).
    var steps: [Step] {
        let count = Int(transaction.pointee.steps.count)
        let solvables = (0..<count).map { transaction.pointee.steps.elements[$0] }
        return pool.withUnsafeHandle { handle in
            solvables.map { p in
                let solvable = csolv_solvable(handle, p)
                var medianr: UInt32 = 0
                let location = solvable_get_location(solvable, &medianr).map { String(cString: $0) }
                var type: Id = 0
                var checksum: String?
                if let hex = solvable_lookup_checksum(solvable, Id(SOLVABLE_CHECKSUM.rawValue), &type), let name = solv_chksum_type2str(type) {
                    checksum = "\(String(cString: name)):\(String(cString: hex))"
                }
                let size = solvable_lookup_num(solvable, Id(SOLVABLE_DOWNLOADSIZE.rawValue), 0)
                let id = SolvableID(rawValue: p)
                return Step(
                    solvable: id, nevra: pool.nevra(id), name: pool.name(id), isInstalled: pool.isInstalled(id),
                    repoName: pool.repoName(id), location: location, checksum: checksum,
                    downloadSize: size > 0 ? Int64(size) : nil)
            }
        }
    }
}
