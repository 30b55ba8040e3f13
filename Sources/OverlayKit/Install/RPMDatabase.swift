import Foundation
import SystemPackage

/// Reads which packages an rpmdb lists, with librpm.
enum RPMDatabase {
    /// NEVRAs of the packages in the rpmdb at `dbPath` inside `root`, sorted. Throws `RPMError` when rpm cannot
    /// be set up or cannot open that rpmdb.
    static func installedPackages(root: FilePath, dbPath: String) throws -> [String] {
        let root = FileTree.absolute(root)
        return try RPMLibrary.session(macros: [("_dbpath", dbPath)]) { log in
            let set = try RPMTransactionSet()
            guard set.setRootDirectory(root), set.openDatabaseReadOnly() else {
                throw RPMError.unreadableDatabase(root: root, dbPath: dbPath, said: log.errors())
            }
            return set.installedNEVRAs().sorted()
        }
    }
}
