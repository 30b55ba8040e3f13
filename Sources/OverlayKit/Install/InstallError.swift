import Posix
import SystemPackage

/// Why installing packages into a base root or a plugin's delta root failed.
public enum InstallError: UserError, Sendable {
    /// A package file could not be opened or is not a valid RPM; `reason` holds rpm's words.
    case unreadablePackage(file: FilePath, reason: String)
    /// A public key given to check signatures with could not be used.
    case unreadableKey(ArmoredKey, reason: String)
    /// Signatures were required and this package has none, or none by one of the keys, or a bad one.
    case signatureRefused(SignatureFailure)
    /// rpm refused the transaction; each entry is one of rpm's problem sentences (file conflicts, already
    /// installed packages, digests that do not verify, missing dependencies, ...).
    case transactionProblems([String])
    /// rpm found too little free space (or too few inodes) for the packages; rpm's sentences.
    case noSpace([String])
    /// A scriptlet exited non-zero (rpm itself carries on and reports success).
    case scriptletFailed(package: String, scriptlet: String, rpmMessage: String, output: String)
    /// rpm ran but some packages were not installed; `messages` holds rpm's error log.
    case transactionFailed(packages: [String], messages: [String])
    /// Installing the packages deleted files of the base, which an overlay cannot express.
    case deletesBaseFiles([String])
    /// A directory of the base was replaced by a new, opaque one, hiding the base's files in it.
    case hidesBaseDirectory(String)
    /// The base has no rpmdb this rpm can update at the given path.
    case unusableBaseDatabase(base: FilePath, dbPath: String, reason: String)
    /// The directory meant for a new root or work files is not empty.
    case directoryNotEmpty(FilePath)
    /// The base root is missing or not a directory.
    case missingBase(FilePath)
    /// The work directory lies on a filesystem that cannot hold an overlayfs upper layer.
    case unsupportedFilesystem(FilePath, String)
    /// overlayfs mount options cannot carry this path.
    case pathUnusableForOverlay(FilePath)
    /// The overlayfs mount itself failed.
    case overlayMountFailed(SystemCallError)
    /// A system call failed while preparing or cleaning up.
    case system(SystemCallError)
    /// librpm itself could not be set up or used.
    case rpm(RPMError)

    public var description: String {
        switch self {
        case .unreadablePackage(let file, let reason):
            return "the package file \(file) is not a usable RPM (\(reason)): download it again or check the repository it came from"
        case .unreadableKey(let key, let reason):
            return
                "\(key.origin) cannot be used to check package signatures (\(reason)): give the ASCII-armored OpenPGP public key the packages are signed with (gpg --armor --export KEYID)"
        case .signatureRefused(let failure):
            return failure.description
        case .transactionProblems(let problems):
            let text = problems.joined(separator: "; ")
            if problems.contains(where: { $0.contains("conflicts with file from package") }) {
                return
                    "a package would overwrite a file of the base image: \(text); leave the package out of the plugin or build against a base that has the same file"
            }
            return "rpm refused to install the packages: \(text); leave out the package rpm names or build against a base it fits"
        case .noSpace(let problems):
            return "there is not enough free space to install the packages (\(problems.joined(separator: "; "))): free space or install elsewhere"
        case .scriptletFailed(let package, let scriptlet, let rpmMessage, let output):
            let said = output.isEmpty ? "it printed nothing" : "its output was: \(output)"
            return "the \(scriptlet) scriptlet of \(package) failed (\(rpmMessage)); \(said): fix the package or the base it runs against"
        case .transactionFailed(let packages, let messages):
            let which = packages.isEmpty ? "some packages" : packages.joined(separator: ", ")
            let why = messages.isEmpty ? "rpm gave no reason" : "rpm said: \(messages.joined(separator: "; "))"
            return "rpm could not install \(which) (\(why))"
        case .deletesBaseFiles(let paths):
            return
                "installing the packages deleted \(paths.joined(separator: ", ")) from the base image, and an overlay cannot delete a base file: leave out the package or scriptlet that removes it"
        case .hidesBaseDirectory(let path):
            return
                "installing the packages replaced the base image's directory \(path) and would hide the files in it: leave out the package or scriptlet that replaces it"
        case .unusableBaseDatabase(let base, let dbPath, let reason):
            // A database rpm cannot update can be converted; a wrong path only corrected.
            let fix =
                reason.hasPrefix("there is no")
                ? "give the base's real rpmdb path (/var/lib/rpm or /usr/lib/sysimage/rpm)"
                : "convert it in a copy of the image with rpm --root COPY --dbpath \(dbPath) --define '_db_backend sqlite' --rebuilddb"
            return
                "the base image at \(base) has no usable rpm database at \(dbPath) (\(reason)): \(fix), or use a base with an sqlite rpmdb (RHEL 9, CentOS Stream 9, Fedora 33 and later)"
        case .directoryNotEmpty(let path):
            return "the directory \(path) is not empty: give a new or empty directory"
        case .missingBase(let path):
            return "the base root \(path) does not exist or is not a directory: unpack the base image there first"
        case .unsupportedFilesystem(let path, let type):
            return "the work directory \(path) is on \(type), which cannot hold an overlayfs upper layer: use a work directory on ext4, xfs, btrfs or tmpfs"
        case .pathUnusableForOverlay(let path):
            return "the path \(path) contains a comma, colon or backslash, which overlayfs mount options cannot carry: use a path without them"
        case .overlayMountFailed(let error):
            return
                "mounting the overlay over the base failed (\(error)): run as root on a kernel with overlayfs, with the work directory on ext4, xfs, btrfs or tmpfs"
        case .system(let error):
            if error.errno == .notPermitted {
                return "installing the packages failed: \(error); installing needs root (mounts, chroot and file owners): run overlay as root"
            }
            return "installing the packages failed: \(error)"
        case .rpm(let error):
            return error.description
        }
    }
}
