import Foundation
import OverlayKit

/// A repo's `repodata/repomd.xml` as fetched (any bytes, from a file:// or http:// repo), parsed by
/// `RepoIndex(parsing:origin:)`: Foundation's XMLParser (libxml2) with the index's own delegate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRepomdXML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    do {
        let index = try RepoIndex(parsing: bytes, origin: "http://repo.invalid/repodata/repomd.xml")
        guard let primary = index.primary else { preconditionFailure("an index without primary metadata was accepted") }
        precondition(!primary.href.isEmpty)
        for entry in index.entries.values { precondition(!entry.href.isEmpty) }
    } catch {
        precondition(!error.description.isEmpty)
    }
    return 0
}
