import Foundation
import SystemPackage

/// An OpenPGP public key file's text, with where it came from for messages.
public struct ArmoredKey: Sendable, Equatable {
    /// The key's ASCII-armored text (`gpg --armor --export`); one file may hold several keys.
    public var text: String
    /// Its URL or path, as the user wrote it (`https://…/RPM-GPG-KEY-x`, `/plugins/vdsm/keys/vdsm.asc`).
    public var location: String
    /// The line that names it, `file:line` of a `.repo` file's `gpgkey=`; nil for a file in a plugin's `keys/`.
    public var namedAt: String?

    public init(text: String, location: String, namedAt: String? = nil) {
        self.text = text
        self.location = location
        self.namedAt = namedAt
    }

    /// Reads a key file.
    public static func read(_ file: FilePath, namedAt: String? = nil) throws(InstallError) -> ArmoredKey {
        guard let data = FileManager.default.contents(atPath: file.string) else {
            throw .unreadableKey(ArmoredKey(text: "", location: file.string, namedAt: namedAt), reason: "it cannot be read")
        }
        return ArmoredKey(text: String(decoding: data, as: UTF8.self), location: file.string, namedAt: namedAt)
    }

    /// `file:line: gpgkey URL`, or the key file's path.
    var origin: String {
        namedAt.map { "\($0): gpgkey \(location)" } ?? location
    }
}

/// Packages that must carry a valid OpenPGP signature by one of `keys` before they are installed: the packages
/// of one repo with `gpgcheck` on.
public struct SignatureRequirement: Sendable {
    /// Where the packages come from, as messages name it: `repo "extra"`.
    public var source: String
    public var keys: [ArmoredKey]
    public var packages: [FilePath]
    /// What to do when a package is unsigned or signed by a key not among `keys`.
    public var remedy: String

    public init(source: String, keys: [ArmoredKey], packages: [FilePath], remedy: String) {
        self.source = source
        self.keys = keys
        self.packages = packages
        self.remedy = remedy
    }
}

/// Why a package was refused by its signature check.
public struct SignatureFailure: Sendable, Equatable {
    public enum Problem: Sendable, Equatable {
        /// The package carries no signature at all.
        case unsigned
        /// It is signed with this key (rpm's short key ID), which is not among the keys tried.
        case unknownKey(String)
        /// A signature or digest does not verify; rpm's words.
        case bad(String)
    }

    public var file: FilePath
    /// The package's NEVRA, when its header could be read.
    public var nevra: String?
    public var source: String
    public var problem: Problem
    /// The keys it was checked against: rpm's short key ID and where the key came from.
    public var keysTried: [String]
    public var remedy: String

    var description: String {
        let package = nevra.map { "\($0) (\(file))" } ?? "\(file)"
        let tried = keysTried.isEmpty ? "no keys" : keysTried.joined(separator: ", ")
        switch problem {
        case .unsigned:
            return "\(package) from \(source) is not signed, but that repo requires signed packages (keys tried: \(tried)): \(remedy)"
        case .unknownKey(let id):
            return "\(package) from \(source) is signed with key \(id), which is not one of the keys tried (\(tried)): \(remedy)"
        case .bad(let said):
            return
                "\(package) from \(source) does not verify against the keys tried (\(tried)); rpm says: \(said); the file was changed or damaged after it was signed: get an intact copy from where the repo publishes it"
        }
    }
}
