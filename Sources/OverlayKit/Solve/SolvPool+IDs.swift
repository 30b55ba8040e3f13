/// A package in a `SolvPool` (a libsolv solvable id). It means something only to the pool that handed it out.
struct SolvableID: Hashable, Sendable {
    let rawValue: Int32
}

/// A name or a dependency (`kernel >= 3.2`) in a `SolvPool` (a libsolv string or relation id); only meaningful to
/// the pool that made it.
struct DependencyID: Hashable, Sendable {
    let rawValue: Int32
}

/// A repo in a `SolvPool` (libsolv's `repoid`). The pool looks the repo up by it on every use, so an id whose repo
/// was removed finds nothing rather than freed memory.
struct SolvRepoID: Hashable, Sendable {
    let rawValue: Int32
}

/// What a user's request selects in a pool (libsolv job pairs from `selection_make`).
struct SolvSelection: Sendable {
    /// libsolv's job pairs: how (`SOLVER_SOLVABLE_NAME`, …), what.
    let pairs: [Int32]

    var isEmpty: Bool { pairs.isEmpty }
}

/// One solver job (a libsolv job pair: what to do, to what).
struct SolvJob: Hashable, Sendable {
    let how: Int32
    let what: Int32
}

/// Why libsolv could not do what was asked, in a sentence; `file` is the file it was reading, if any.
struct SolvError: Error, CustomStringConvertible {
    var file: String?
    var message: String

    init(_ message: String, file: String? = nil) {
        self.message = message
        self.file = file
    }

    var description: String { message }
}
