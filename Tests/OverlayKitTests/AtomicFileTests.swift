import Foundation
import SystemPackage
import Testing
@testable import OverlayKit
@testable import Posix

@Suite struct AtomicFileTests {
    @Test func writesWholeFileAndLeavesNoTemporary() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = FilePath(dir.path).appending("out.bin")
        try AtomicFile.write(Array("hello".utf8), to: path)
        #expect(try String(contentsOfFile: path.string, encoding: .utf8) == "hello")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.bin"])
    }

    @Test func failedWriteLeavesNothing() throws {
        struct Interrupted: Error {}
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = FilePath(dir.path).appending("out.bin")
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: path) { fd in
                _ = try fd.writeAll(Array("half".utf8))
                throw Interrupted()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
