internal import CRPM
import Foundation
import SystemPackage

/// Reads which packages an rpmdb lists, with librpm (`rpmtsInitIterator` over `RPMDBI_PACKAGES`).
enum RPMDatabase {
    /// NEVRAs of the packages in the rpmdb at `dbPath` inside `root`, sorted.
    static func installedPackages(root: FilePath, dbPath: String) throws -> [String] {
        let root = FileTree.absolute(root)
        return try RPMLibrary.session(macros: [("_dbpath", dbPath)]) { log in
            guard let ts = rpmtsCreate() else {
                throw InstallError.transactionFailed(packages: [], messages: ["rpmtsCreate returned nothing"])
            }
            defer { rpmtsFree(ts) }
            _ = rpmtsSetRootDir(ts, root.string)
            guard rpmtsOpenDB(ts, O_RDONLY) == 0 else {
                throw InstallError.transactionFailed(packages: [], messages: ["the rpm database at \(dbPath) in \(root) could not be opened"] + log.errors())
            }
            guard let iterator = rpmtsInitIterator(ts, rpmDbiTagVal(RPMDBI_PACKAGES.rawValue), nil, 0) else { return [] }
            defer { rpmdbFreeIterator(iterator) }
            var names: [String] = []
            while let header = rpmdbNextIterator(iterator) {
                // The header belongs to the iterator.
                if let text = headerGetAsString(header, rpmTagVal(RPMTAG_NEVRA.rawValue)) {
                    names.append(String(cString: text))
                    free(text)
                }
            }
            return names.sorted()
        }
    }
}
