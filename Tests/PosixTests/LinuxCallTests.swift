import Foundation
import Glibc
import Posix
import SystemPackage
import Testing

extension PosixSuites {
    /// The Linux calls Posix makes through CLinux: openat2, unshare, PID namespaces, statfs, xattrs.
    @Suite
    struct LinuxCallTests {
        /// The error `body` fails with; a test failure when it does not fail that way.
        static func failure(_ body: () throws -> Void) -> SystemCallError? {
            do {
                try body()
                return nil
            } catch {
                return error as? SystemCallError
            }
        }

        static func expectFailure(
            _ call: String, _ subject: String, _ errno: Errno, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let error = failure(body)
            #expect(error?.call == call, sourceLocation: sourceLocation)
            #expect(error?.subject == subject, sourceLocation: sourceLocation)
            #expect(error?.errno == errno, sourceLocation: sourceLocation)
        }

        /// A new directory under /tmp holding `dir/inner/file`, `dir/link` (a symlink to `inner/file`) and `outside`.
        static func tree() throws -> FilePath {
            let root = FilePath("/tmp/posix-linux-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(atPath: root.appending("dir/inner").string, withIntermediateDirectories: true)
            try Data("inside\n".utf8).write(to: URL(fileURLWithPath: root.appending("dir/inner/file").string))
            try Data("outside\n".utf8).write(to: URL(fileURLWithPath: root.appending("outside").string))
            try FileManager.default.createSymbolicLink(atPath: root.appending("dir/link").string, withDestinationPath: "inner/file")
            return root
        }

        @Test func openBeneathOpensInsideAndRefusesEscapesAndSymlinks() throws {
            let root = try Self.tree()
            defer { try? FileManager.default.removeItem(atPath: root.string) }
            let dir = try OwnedFileDescriptor.open(root.appending("dir"), .readOnly, options: [.directory, .closeOnExec])
            let file = try openBeneath(dir.descriptor, Array("inner/file".utf8))
            var buffer = [UInt8](repeating: 0, count: 16)
            #expect(read(file.rawValue, &buffer, buffer.count) == 7)
            #expect(buffer.prefix(7) == ArraySlice("inside\n".utf8))

            for escape in ["../outside", "inner/../../outside", root.appending("outside").string] {
                Self.expectFailure("openat2", escape, .improperLink) {
                    _ = try openBeneath(dir.descriptor, Array(escape.utf8))
                }
            }
            Self.expectFailure("openat2", "link", .tooManySymbolicLinkLevels) {
                _ = try openBeneath(dir.descriptor, Array("link".utf8))
            }
            // Without RESOLVE_NO_SYMLINKS a link that stays inside is followed.
            _ = try openBeneath(dir.descriptor, Array("link".utf8), resolve: [.beneath])
        }

        @Test func unshareKeepsAThreadsWorkingDirectoryToItself() throws {
            let before = FileManager.default.currentDirectoryPath
            let inside = try PosixThread.run(name: "own cwd") { () throws -> String in
                try unshare(.rootAndWorkingDirectory)
                try systemCall("chdir", "/proc") { chdir("/proc") }
                return FileManager.default.currentDirectoryPath
            }
            #expect(inside == "/proc")
            #expect(FileManager.default.currentDirectoryPath == before)
        }

        @Test func aPIDNamespaceKillsWhatWasLeftRunningInItWhenItEnds() throws {
            // The pipe's write end is inherited by a shell that leaves `sleep` running in the background and exits:
            // the read end sees end-of-file only once that sleep is dead.
            var ends: [Int32] = [-1, -1]
            try systemCall("pipe") { pipe(&ends) }
            let readEnd = OwnedFileDescriptor(rawValue: ends[0])
            _ = fcntl(readEnd.rawValue, F_SETFD, FD_CLOEXEC)
            _ = fcntl(readEnd.rawValue, F_SETFL, O_NONBLOCK)
            let writeEnd = ends[1]
            let leftRunning = try PosixThread.run(name: "pid namespace") { () throws -> Bool in
                try PIDNamespace.run {
                    var pid: pid_t = 0
                    let words: [String] = ["/bin/sh", "-c", "sleep 600 &"]
                    let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
                    defer { for argument in arguments { free(argument) } }
                    #expect(posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ) == 0)
                    _ = close(writeEnd)
                    var status: Int32 = 0
                    #expect(waitpid(pid, &status, 0) == pid)
                    var byte: UInt8 = 0
                    // The shell is gone, the sleep still holds the write end.
                    return read(readEnd.rawValue, &byte, 1) == -1 && errno == EAGAIN
                }
            }
            #expect(leftRunning)
            var waiting = pollfd(fd: readEnd.rawValue, events: Int16(POLLIN), revents: 0)
            #expect(poll(&waiting, 1, 10_000) == 1)
            var byte: UInt8 = 0
            #expect(read(readEnd.rawValue, &byte, 1) == 0)
        }

        @Test func unshareFlagsAreNamedAsTheManualNamesThem() {
            #expect(UnshareFlags([.mountNamespace, .rootAndWorkingDirectory]).description == "CLONE_NEWNS|CLONE_FS")
        }

        @Test func fileSystemTypeTellsAnOverlayfsMountFromOthers() throws {
            let root = try Self.tree()
            defer { try? FileManager.default.removeItem(atPath: root.string) }
            #expect(try FileSystemType.of("/proc") != .overlayfs)
            Self.expectFailure("statfs", "/nonexistent/posix", .noSuchFileOrDirectory) {
                _ = try FileSystemType.of("/nonexistent/posix")
            }
            for name in ["upper", "work", "merged"] {
                try FileManager.default.createDirectory(atPath: root.appending(name).string, withIntermediateDirectories: false)
            }
            let type = try PosixThread.run(name: "overlay mount") { () throws -> FileSystemType in
                try unshare(.mountNamespace)
                try systemCall("mount", "/ (private)") { mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) }
                let options = "lowerdir=\(root.appending("dir")),upperdir=\(root.appending("upper")),workdir=\(root.appending("work"))"
                try systemCall("mount", "overlay") { mount("overlay", root.appending("merged").string, "overlay", 0, options) }
                defer { umount2(root.appending("merged").string, Int32(MNT_DETACH)) }
                return try FileSystemType.of(root.appending("merged"))
            }
            #expect(type == .overlayfs)
        }

        @Test func extendedAttributesOfAFileItselfAreListedTestedAndRemoved() throws {
            let root = try Self.tree()
            defer { try? FileManager.default.removeItem(atPath: root.string) }
            let file = root.appending("outside")
            let link = root.appending("dir/link")
            // Set with Python's os.setxattr; what is under test is reading and removing them.
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = ["python3", "-c", "import os, sys; os.setxattr(sys.argv[1], 'trusted.posix.test', b'1', follow_symlinks=False)", file.string]
            try python.run()
            python.waitUntilExit()
            #expect(python.terminationStatus == 0)

            #expect(try ExtendedAttributes.names(file).contains("trusted.posix.test"))
            #expect(try ExtendedAttributes.contains(file, "trusted.posix.test"))
            #expect(try !ExtendedAttributes.contains(file, "trusted.posix.other"))
            // The link's own attributes, not its target's.
            #expect(try !ExtendedAttributes.names(link).contains("trusted.posix.test"))
            try ExtendedAttributes.remove(file, "trusted.posix.test")
            #expect(try !ExtendedAttributes.contains(file, "trusted.posix.test"))
            Self.expectFailure("lremovexattr", "trusted.posix.test of \(file)", Errno(rawValue: ENODATA)) {
                try ExtendedAttributes.remove(file, "trusted.posix.test")
            }
            Self.expectFailure("llistxattr", "/nonexistent/posix", .noSuchFileOrDirectory) {
                _ = try ExtendedAttributes.names("/nonexistent/posix")
            }
        }
    }
}
