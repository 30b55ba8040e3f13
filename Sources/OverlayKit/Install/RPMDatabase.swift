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

    /// Adds the packages whose headers are `blobs` to the rpmdb at `dbPath` inside `root` as installed, without
    /// touching any file (what `rpm --justdb` records).
    static func record(_ blobs: [[UInt8]], root: FilePath, dbPath: String) throws {
        let root = FileTree.absolute(root)
        try RPMLibrary.session(macros: [("_dbpath", dbPath)]) { log in
            let set = try RPMTransactionSet()
            guard set.setRootDirectory(root), set.openDatabaseForWriting() else {
                throw RPMError.unreadableDatabase(root: root, dbPath: dbPath, said: log.errors())
            }
            for blob in blobs {
                let header = try RPMHeader(blob: blob)
                guard set.record(header) else {
                    throw RPMError.cannotRecord(package: header.nevra, root: root, dbPath: dbPath, said: log.errors())
                }
            }
        }
    }
}
