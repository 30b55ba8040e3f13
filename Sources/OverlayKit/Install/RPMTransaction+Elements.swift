internal import CRPM
import Foundation
import SystemPackage

/// What rpm says about a transaction's packages once it is checked or run: its problems, which packages went in,
/// and how they list their directories.
extension RPMTransaction {
    /// How a package lists a directory.
    struct DirectoryMetadata {
        let mode: UInt16
        let rootOwned: Bool
        let mtime: UInt32
    }

    /// How a package of this transaction lists directory `path`, or nil when none does (`rpmteFiles` +
    /// `rpmfilesFindFN`; before `rpmtsRun`).
    func directoryMetadata(_ path: String) -> DirectoryMetadata? {
        set.withUnsafeHandle { ts in
            for index in 0..<rpmtsNElements(ts) {
                guard let element = rpmtsElement(ts, index), rpmteType(element) == TR_ADDED, let files = rpmteFiles(element)
                else { continue }
                defer { rpmfilesFree(files) }
                let found = rpmfilesFindFN(files, path)
                guard found >= 0 else { continue }
                let mode = rpmfilesFMode(files, found)
                let user = rpmfilesFUser(files, found).map { String(cString: $0) }
                let group = rpmfilesFGroup(files, found).map { String(cString: $0) }
                return DirectoryMetadata(mode: mode, rootOwned: user == "root" && group == "root", mtime: rpmfilesFMtime(files, found))
            }
            return nil
        }
    }

    /// NEVRAs of the packages rpm installed and of those it failed (`rpmteFailed`), in rpm's order.
    func addedElements() -> (installed: [String], failed: [String]) {
        set.withUnsafeHandle { ts in
            var installed: [String] = []
            var failed: [String] = []
            for index in 0..<rpmtsNElements(ts) {
                guard let element = rpmtsElement(ts, index), rpmteType(element) == TR_ADDED else { continue }
                let nevra = rpmteNEVRA(element).map { String(cString: $0) } ?? "?"
                if rpmteFailed(element) != 0 { failed.append(nevra) } else { installed.append(nevra) }
            }
            return (installed, failed)
        }
    }

    /// The error for a transaction rpm refused with `problems`: too little space, a package that does not verify
    /// (a bad download), or rpm's problem sentences.
    func refusal(_ problems: [String]) -> InstallError {
        // rpm checks free space (blocks and inodes) of the root's filesystem before it writes anything.
        let space = self.problems(ofTypes: [RPMPROB_DISKSPACE, RPMPROB_DISKNODES])
        if !space.isEmpty { return .noSpace(space) }
        for problem in problems {
            guard let file = fileNamed(byVerifyProblem: problem) else { continue }
            return .unreadablePackage(file: file, reason: problem)
        }
        return .transactionProblems(problems)
    }

    /// `rpmtsProblems`, one of rpm's sentences per problem; only those of `types` when given.
    func problems(ofTypes types: [rpmProblemType]? = nil) -> [String] {
        guard let problemSet = set.withUnsafeHandle({ rpmtsProblems($0) }) else { return [] }
        defer { rpmpsFree(problemSet) }
        guard let iterator = rpmpsInitIterator(problemSet) else { return [] }
        defer { rpmpsFreeIterator(iterator) }
        var sentences: [String] = []
        while rpmpsiNext(iterator) != nil {
            // `rpmpsiNext` returns a problem owned by the set.
            guard let problem = rpmpsGetProblem(iterator) else { continue }
            if let types, !types.contains(rpmProblemGetType(problem)) { continue }
            guard let text = rpmProblemString(problem) else { continue }
            sentences.append(String(cString: text))
            free(text)
        }
        return sentences
    }

    /// The file of the package a "package X does not verify: ..." problem is about.
    private func fileNamed(byVerifyProblem problem: String) -> FilePath? {
        guard problem.contains("does not verify") else { return nil }
        return set.withUnsafeHandle { ts in
            for index in 0..<rpmtsNElements(ts) {
                guard let element = rpmtsElement(ts, index), let nevra = rpmteNEVRA(element).map({ String(cString: $0) }),
                    problem.contains("package \(nevra) "), let file = events.file(for: rpmteKey(element))
                else { continue }
                return file
            }
            return nil
        }
    }
}
