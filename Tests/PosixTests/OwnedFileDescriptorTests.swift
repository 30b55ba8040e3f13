import Glibc
import Posix
import SystemPackage
import Testing

/// Descriptor numbers are reused at once: every suite of this target runs serially, inside this one, so that no
/// test opens a descriptor while another checks that one was closed.
@Suite(.serialized)
enum PosixSuites {}

extension PosixSuites {
    @Suite
    struct OwnedFileDescriptorTests {
        /// Whether `fd` names an open descriptor of this process.
        static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

        @Test func closesWhenItsOwnerGoesAway() throws {
            var number: Int32 = -1
            do {
                let owner = try OwnedFileDescriptor.open("/dev/null", .readOnly, options: [.closeOnExec])
                number = owner.rawValue
                #expect(Self.isOpen(number))
            }
            #expect(number >= 0)
            #expect(!Self.isOpen(number))
        }

        @Test func closeReportsAndReleases() throws {
            let owner = try OwnedFileDescriptor.open("/dev/null", .writeOnly, options: [.closeOnExec])
            let number = owner.rawValue
            _ = try owner.descriptor.writeAll([1, 2, 3])
            try owner.close()
            #expect(!Self.isOpen(number))
        }

        @Test func takeHandsOverWithoutClosing() throws {
            let owner = try OwnedFileDescriptor.open("/dev/null", .readOnly, options: [.closeOnExec])
            let taken = owner.take()
            #expect(Self.isOpen(taken.rawValue))
            try taken.close()
            #expect(!Self.isOpen(taken.rawValue))
        }

        @Test func openNamesTheErrorOfAMissingFile() {
            #expect(throws: Errno.noSuchFileOrDirectory) {
                _ = try OwnedFileDescriptor.open("/nonexistent/overlay-test", .readOnly)
            }
        }

        @Test func openBeneathReturnsAnOwner() throws {
            let root = try OwnedFileDescriptor.open("/proc/self", .readOnly, options: [.directory, .closeOnExec])
            var number: Int32 = -1
            do {
                let status = try openBeneath(root.descriptor, Array("status".utf8))
                number = status.rawValue
                var byte: UInt8 = 0
                #expect(read(number, &byte, 1) == 1)
            }
            #expect(!Self.isOpen(number))
        }
    }

    @Suite
    struct SystemCallTests {
        /// A pipe whose ends are both non-blocking; the caller owns them.
        static func pipeEnds() throws -> [Int32] {
            var ends: [Int32] = [-1, -1]
            try systemCall("pipe") { pipe(&ends) }
            for end in ends { _ = fcntl(end, F_SETFL, O_NONBLOCK) }
            return ends
        }

        @Test func wouldBlockIsAValueForANonBlockingCall() throws {
            let ends = try Self.pipeEnds()
            let readEnd = OwnedFileDescriptor(rawValue: ends[0])
            let writeEnd = OwnedFileDescriptor(rawValue: ends[1])
            var buffer = [UInt8](repeating: 0, count: 8)
            let empty = try systemCall("read", "the pipe", blocking: false) { read(readEnd.rawValue, &buffer, buffer.count) }
            #expect(empty == .wouldBlock)

            let written = try systemCall("write", "the pipe", blocking: false) { write(writeEnd.rawValue, "abc", 3) }
            #expect(written == .processed(3))
            let got = try systemCall("read", "the pipe", blocking: false) { read(readEnd.rawValue, &buffer, buffer.count) }
            #expect(got == .processed(3))
            #expect(Array(buffer[0..<3]) == Array("abc".utf8))
        }

        @Test func wouldBlockIsAnErrorForABlockingCall() throws {
            let ends = try Self.pipeEnds()
            let readEnd = OwnedFileDescriptor(rawValue: ends[0])
            let writeEnd = OwnedFileDescriptor(rawValue: ends[1])
            defer { _ = writeEnd.rawValue }  // open until the end: the read finds an empty pipe, not end of file
            var buffer = [UInt8](repeating: 0, count: 8)
            let error = #expect(throws: SystemCallError.self) {
                try systemCall("read", "the pipe", blocking: true) { read(readEnd.rawValue, &buffer, buffer.count) }
            }
            #expect(error?.errno == .resourceTemporarilyUnavailable)
            #expect(error?.description == "read the pipe failed: Resource temporarily unavailable")
        }

        @Test func otherErrorsAreThrownEitherWay() {
            var buffer = [UInt8](repeating: 0, count: 8)
            let error = #expect(throws: SystemCallError.self) {
                try systemCall("read", "descriptor -1", blocking: false) { read(-1, &buffer, buffer.count) }
            }
            #expect(error?.errno == .badFileDescriptor)
        }
    }
}
