import Foundation
import SystemPackage

/// The installed headers of a plugin's packages as an overlay ships them beside itself (`<name>-<version>.rpmheaders`),
/// so that a node's rpmdb can list the plugin's packages (`overlay rpmdb`) consistently with the files it got: each
/// package file's header with what rpm adds when it records an install,
///
/// - a file a header lists that neither the delta nor the base has (the blacklist dropped it, or a directory it left
///   empty) is marked not installed, as `--excludedocs` marks docs: `rpm -ql` lists it, `rpm -V` does not miss it;
/// - the install time and transaction id are the build's `SOURCE_DATE_EPOCH`, so the same build gives the same file.
enum InstalledHeaders {
    static func prepared(packageFiles: [FilePath], delta: FilePath, base: FilePath, installTime: Int64) throws -> [[UInt8]] {
        try RPMLibrary.session(macros: []) { _ in
            // Read as installed: digests were checked (and signatures, where required) before the install.
            let set = try RPMTransactionSet()
            set.setVerification(.digests)
            return try packageFiles.map { file in
                var header = try RPMHeader(packageFile: file, set: set)
                let absent = header.filePaths.enumerated().compactMap { index, path -> Int? in
                    let relative = String(path.drop(while: { $0 == "/" }))
                    guard !relative.isEmpty else { return nil }
                    let present = FileTree.status(delta.appending(relative)) != nil || FileTree.status(base.appending(relative)) != nil
                    return present ? nil : index
                }
                header.setFileStates(notInstalled: absent)
                header.setInstallTime(UInt32(clamping: max(0, installTime)))
                return header.exported()
            }
        }
    }
}
