import SystemPackage
import Posix

/// librpm itself could not be set up or used: before any package is involved, so neither a failed install nor
/// a damaged base is to blame.
public enum RPMError: UserError, Sendable {
    /// `rpmReadConfigFiles` failed: rpm's own configuration (`rpmrc`, `macros`) in `directory` could not be read.
    /// `fromEnvironment` when `RPM_CONFIGDIR` chose the directory; `said` holds rpm's words.
    case configuration(directory: String, fromEnvironment: Bool, said: [String])
    /// `rpmtsCreate` returned nothing.
    case noTransactionSet
    /// `rpmKeyringNew` returned nothing.
    case noKeyring
    /// `rpmtsSetRootDir` refused `root` as a transaction's root directory; `said` holds rpm's words.
    case unusableRoot(FilePath, said: [String])
    /// `rpmtsOpenDB` could not open the rpmdb at `dbPath` inside `root`; `said` holds rpm's words.
    case unreadableDatabase(root: FilePath, dbPath: String, said: [String])
    /// `headerImport` refused a header blob.
    case damagedHeader
    /// A file of package headers (`<name>-<version>.rpmheaders`) could not be written or read.
    case headerFile(path: String, reason: String)
    /// `rpmtsImportHeader` could not add a package's header to the rpmdb at `dbPath` inside `root`.
    case cannotRecord(package: String, root: FilePath, dbPath: String, said: [String])

    public var description: String {
        switch self {
        case .configuration(let directory, let fromEnvironment, let said):
            let why = said.isEmpty ? "" : " (\(said.map(Self.sentence).joined(separator: "; ")))"
            let fix =
                fromEnvironment
                ? "RPM_CONFIGDIR names it: unset RPM_CONFIGDIR or point it at rpm's configuration directory (/usr/lib/rpm)"
                : "reinstall the package that holds it (apt-get install --reinstall rpm-common)"
            return "rpm cannot read its configuration files in \(directory)\(why); \(fix)"
        case .noTransactionSet:
            return
                "librpm could not create a transaction set (rpmtsCreate returned nothing), which happens only when memory runs out: free memory and run overlay again"
        case .noKeyring:
            return
                "librpm could not create a keyring to check signatures with (rpmKeyringNew returned nothing), which happens only when memory runs out: free memory and run overlay again"
        case .unusableRoot(let root, let said):
            let why = said.isEmpty ? "" : " (rpm: \(said.map(Self.sentence).joined(separator: "; ")))"
            return "rpm does not accept \(root) as the root directory to install into\(why); give an absolute path to a directory"
        case .unreadableDatabase(let root, let dbPath, let said):
            let why = said.isEmpty ? "" : " (rpm: \(said.map(Self.sentence).joined(separator: "; ")))"
            return
                "cannot open the rpm database \(dbPath) in \(root)\(why); the directory must hold an rpmdb this rpm reads (sqlite, or Berkeley DB read-only): unpack the image again or rebuild its rpmdb (rpm --root \(root) --dbpath \(dbPath) --rebuilddb)"
        case .damagedHeader:
            return "a package header is damaged (rpm's headerImport refused it): build the overlay again"
        case .headerFile(let path, let reason):
            return "cannot use the package headers file \(path): \(reason); build the overlay again"
        case .cannotRecord(let package, let root, let dbPath, let said):
            let why = said.isEmpty ? "" : " (rpm: \(said.map(Self.sentence).joined(separator: "; ")))"
            return "cannot record \(package) in the rpm database \(dbPath) in \(root)\(why); the base's rpmdb must be sqlite to add packages to it"
        }
    }

    /// One of rpm's log lines inside a sentence: without its final period.
    private static func sentence(_ line: String) -> String {
        line.hasSuffix(".") ? String(line.dropLast()) : line
    }
}
