import Foundation
import OverlayKit

/// A plugin's `repos/*.repo` file as `Plugin(directory:)` reads it (UTF-8 text, else refused before parsing),
/// parsed by `RepoDefinition.parse(_:file:arch:)` for this machine's architecture.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRepoFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, let text = String(data: Data(bytes: data, count: size), encoding: .utf8) else { return 0 }
    let repos: [RepoDefinition]
    do {
        repos = try RepoDefinition.parse(text, file: "repos/fuzz.repo", arch: "x86_64")
    } catch {
        precondition(!error.description.isEmpty)
        return 0
    }
    var ids = Set<String>()
    for repo in repos {
        precondition(ids.insert(repo.id).inserted, "repo id \(repo.id) defined twice")
        precondition(!repo.id.isEmpty && repo.id != "main")
        precondition(!repo.baseURLs.isEmpty)
        for url in repo.baseURLs {
            precondition(url.hasPrefix("file://") || url.hasPrefix("http://") || url.hasPrefix("https://"))
            precondition(!url.contains("$basearch") && !url.contains("$arch"))
            precondition(!url.contains { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" })
        }
        precondition(repo.origin.hasPrefix("repos/fuzz.repo:"))
    }
    return 0
}
