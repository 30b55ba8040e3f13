import Foundation
import SystemPackage
import Testing

@testable import OverlayKit
@testable import Posix
import TestSupport

/// Runs every case of `BadInputCorpus` through the `overlay` executable, as a user would, and checks what the
/// user is left with: the exact one-line message and exit status, no Foundation error text, nothing in `--out`,
/// no temporary files, inputs (base, plugin, served directory, fleet file) unchanged by one byte, and a cache that
/// gives the same answer again.
@Suite struct BadInputTests {
    @Test(arguments: BadInputCorpus.cases)
    func badInputIsOneSentenceAndLeavesNothingBehind(_ bad: BadInput) throws {
        let fixture = try BadInputFixture.shared.get()
        let directory = try RPMFixture.temporaryDirectory("bad-input")
        defer { try? FileManager.default.removeItem(at: directory) }
        try bad.setup(BadInputScene(directory: directory, fixture: fixture))
        let arguments = bad.arguments.map {
            $0.replacing("{case}", with: directory.path).replacing("{base}", with: fixture.base.path)
                .replacing("{ro}", with: directory.appendingPathComponent("ro").path)
        }
        let usesReadOnly = bad.arguments.contains { $0.contains("{ro}") }
        let temporary = directory.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)

        func path(after option: String) -> URL? {
            guard let index = arguments.firstIndex(of: option), index + 1 < arguments.count else { return nil }
            return URL(fileURLWithPath: arguments[index + 1], relativeTo: directory).standardizedFileURL
        }
        let inputs = ["--base", "--plugin", "--dir", "--fleet"].compactMap(path(after:)).filter { FileManager.default.fileExists(atPath: $0.path) }
        let before = try inputs.map { try TreeSnapshot(FilePath($0.path)) }
        let out = path(after: "--out")
        let outBefore = try out.flatMap { FileManager.default.fileExists(atPath: $0.path) ? try TreeSnapshot(FilePath($0.path)) : nil }

        let result = try Self.run(arguments, in: directory, temporary: temporary, readOnly: usesReadOnly)
        #expect(result.status == bad.status, "stderr: \(result.stderr)")
        let expected = try Self.pattern(bad.stderr, directory: directory, fixture: fixture)
        #expect(result.stderr.wholeMatch(of: expected) != nil, "stderr was:\n\(result.stderr)\nexpected:\n\(bad.stderr)")
        #expect(ForeignErrorText.find(in: result.stdout + result.stderr) == nil, "\(result.stderr)")

        // Nothing half-written: --out holds nothing new, no temporary file is left, the inputs did not change.
        if let out {
            if let outBefore {
                #expect(try TreeSnapshot(FilePath(out.path)) == outBefore, "\(out.path) changed")
            } else if FileManager.default.fileExists(atPath: out.path) {
                #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [], "\(out.path) is not empty")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path) == [], "temporary files left in \(temporary.path)")
        for (input, snapshot) in zip(inputs, before) {
            #expect(try TreeSnapshot(FilePath(input.path)) == snapshot, "\(input.path) changed")
        }

        // The cache the failed run left gives the same answer: a bad input is never cached as a good one.
        if let cache = path(after: "--cachedir") {
            #expect(Self.partialFiles(under: cache) == [])
            let again = try Self.run(arguments, in: directory, temporary: temporary, readOnly: usesReadOnly)
            #expect(again.status == result.status && again.stderr == result.stderr, "second run: \(again.stderr)")
        }
    }

    /// Every Foundation error text the check looks for is caught in a real Foundation error's description, so the
    /// check above can fail.
    @Test func foreignErrorTextIsRecognized() throws {
        let file = try RPMFixture.temporaryDirectory("foreign").appendingPathComponent("file")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try Data("x".utf8).write(to: file)
        do {
            try FileManager.default.createDirectory(atPath: file.path + "/sub", withIntermediateDirectories: true)
            Issue.record("creating a directory below a file succeeded")
        } catch {
            #expect(ForeignErrorText.find(in: "\(error)") != nil)
            #expect(ForeignErrorText.find(in: ErrorText.describe(error)) == nil)
            #expect(ErrorText.describe(error) == "\(file.path)/sub: Not a directory")
        }
        #expect(ForeignErrorText.find(in: "The operation could not be completed. (NSXMLParserErrorDomain error 4.)") != nil)
        #expect(BadInputCorpus.cases.count >= 60)
        #expect(Set(BadInputCorpus.cases.map(\.name)).count == BadInputCorpus.cases.count, "case names are unique")
    }

    /// A bundle named relative to the working directory, as `overlay build --plugin tool.tar.gz` run beside it.
    @Test(arguments: ["tar", "tar.gz", "tar.zst"])
    func aRelativeBundlePathBuilds(_ format: String) throws {
        let fixture = try BadInputFixture.shared.get()
        let directory = try RPMFixture.temporaryDirectory("relative-bundle")
        defer { try? FileManager.default.removeItem(at: directory) }
        let scene = BadInputScene(directory: directory, fixture: fixture)
        try scene.plugin(rpms: true)
        let compression = ["tar": "", "tar.gz": "--gzip", "tar.zst": "--zstd"][format] ?? ""
        try scene.sh("tar \(compression) -cf tool.\(format) plugin && rm -r plugin")
        let result = try OverlayCommand.run(BadInput.build("tool.\(format)", base: fixture.base.path), in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("out/tool-1.0.cpio.zst").path))
    }

    /// A base with a Berkeley DB rpmdb (RHEL 8 and older) is read: it plans, with the same identity as the same
    /// package set in sqlite. Building on it is refused in the corpus (rpm here cannot update such a database).
    @Test func aBerkeleyDBBaseIsReadForPlanning() throws {
        let fixture = try BadInputFixture.shared.get()
        let directory = try RPMFixture.temporaryDirectory("bdb-plan")
        defer { try? FileManager.default.removeItem(at: directory) }
        try BadInputScene(directory: directory, fixture: fixture).plugin(rpms: true)
        let bdb = fixture.environment["BDB"] ?? ""
        let onBDB = try OverlayCommand.run(["plan", "--base", bdb, "--plugin", "plugin", "--no-cache", "--json"], in: directory)
        let onSQLite = try OverlayCommand.run(["plan", "--base", fixture.base.path, "--plugin", "plugin", "--no-cache", "--json"], in: directory)
        #expect(onBDB.status == 0, "\(onBDB.stderr)")
        #expect(onBDB.stdout == onSQLite.stdout)
        #expect(onBDB.stdout.contains("tool-1.0-1.noarch"))
    }

    /// Runs overlay in `directory` with TMPDIR=`temporary`; with `readOnly`, inside a mount namespace of its own
    /// where `directory/ro` is a read-only tmpfs.
    static func run(_ arguments: [String], in directory: URL, temporary: URL, readOnly: Bool) throws -> OverlayCommand.Output {
        let environment = ["TMPDIR": temporary.path]
        guard readOnly else { return try OverlayCommand.run(arguments, environment: environment, in: directory) }
        let mountPoint = directory.appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        return try Command.capture(
            URL(fileURLWithPath: "/usr/bin/unshare"),
            [
                "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o ro,size=64k tmpfs \"$0\" && exec \"$@\"", mountPoint.path,
                OverlayCommand.executable.path,
            ] + arguments, environment: environment, in: directory)
    }

    /// `expected` as a regex matching the whole of standard error: the text literally, `{case}` and `{base}` as
    /// their paths, `{sha256}` and `{sha1}` as any such hex digest, and the final newline.
    static func pattern(_ expected: String, directory: URL, fixture: BadInputFixture) throws -> Regex<AnyRegexOutput> {
        let literal = expected.replacing("{case}", with: directory.path).replacing("{base}", with: fixture.base.path)
        let escaped = NSRegularExpression.escapedPattern(for: literal)
            .replacing(NSRegularExpression.escapedPattern(for: "{sha256}"), with: "[0-9a-f]{64}")
            .replacing(NSRegularExpression.escapedPattern(for: "{sha1}"), with: "[0-9a-f]{40}")
        return try Regex(escaped + "\\n")
    }

    /// Files a write left half-done (AtomicFile's `.NAME.partial-PID`).
    static func partialFiles(under directory: URL) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.contains(".partial-") }
    }
}

/// Foundation's error texts, which must never reach a user: they say neither what failed in our terms nor what
/// to do.
enum ForeignErrorText {
    static let markers = [
        "Error Domain=", "NSCocoaErrorDomain", "NSPOSIXErrorDomain", "NSXMLParserErrorDomain", "NSUnderlyingError", "UserInfo=",
        "The operation could not be completed", "Fatal error", "Swift/",
    ]

    /// The first marker found in `text`, or nil.
    static func find(in text: String) -> String? {
        markers.first { text.contains($0) }
    }
}
