import Glibc
import Posix
import SystemPackage
import Testing

extension PosixSuites {
    @Suite
    struct PosixThreadTests {
        struct Refused: Error, Equatable {}

        /// The calling thread's name, as `top -H` and `/proc` show it.
        static func currentName() -> String {
            guard let fd = try? OwnedFileDescriptor.open("/proc/thread-self/comm", .readOnly) else { return "" }
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = (try? buffer.withUnsafeMutableBytes { try fd.descriptor.read(into: $0) }) ?? 0
            return String(decoding: buffer[0..<count].filter { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        }

        @Test func joinReturnsTheValueAndTheThreadHasItsName() throws {
            let thread = try PosixThread(name: "overlay test") { (Self.currentName(), pthread_self()) }
            let (name, id) = try thread.join()
            #expect(name == "overlay test")
            #expect(pthread_equal(id, pthread_self()) == 0)
        }

        @Test func longNamesAreCutToTheKernelLimit() throws {
            let name = try PosixThread(name: "a name longer than fifteen bytes") { Self.currentName() }.join()
            #expect(name == "a name longer t")
        }

        @Test func joinRethrowsTheError() throws {
            let thread = try PosixThread<Int>(name: "refusing") { throw Refused() }
            var caught: (any Error)?
            do { _ = try thread.join() } catch { caught = error }
            #expect(caught as? Refused == Refused())
        }

        @Test func runWaitsAndMayUseTheCallersState() throws {
            final class Counter { var value = 0 }  // not Sendable: `run` blocks the caller while it is used
            let counter = Counter()
            let caller = pthread_self()
            let ranElsewhere = try PosixThread.run(name: "run") {
                counter.value += 41
                return pthread_equal(caller, pthread_self()) == 0
            }
            counter.value += 1
            #expect(ranElsewhere)
            #expect(counter.value == 42)
            #expect(throws: Refused()) { try PosixThread<Void>.run(name: "run") { throw Refused() } }
        }

        @Test func aDetachedThreadRuns() throws {
            var ends: [Int32] = [-1, -1]
            try systemCall("pipe") { pipe(&ends) }
            let readEnd = OwnedFileDescriptor(rawValue: ends[0])
            let writeEnd = ends[1]
            try PosixThread.detach(name: "detached") {
                let owner = OwnedFileDescriptor(rawValue: writeEnd)
                var byte: UInt8 = 7
                _ = write(owner.rawValue, &byte, 1)
            }
            var fds = [pollfd(fd: readEnd.rawValue, events: Int16(POLLIN), revents: 0)]
            #expect(try systemCall("poll") { poll(&fds, 1, 5000) } == 1)
            var byte: UInt8 = 0
            #expect(read(readEnd.rawValue, &byte, 1) == 1)
            #expect(byte == 7)
            // The thread closed the write end when it ended: end of file follows.
            #expect(try systemCall("poll") { poll(&fds, 1, 5000) } == 1)
            #expect(read(readEnd.rawValue, &byte, 1) == 0)
        }

        @Test func droppingAThreadWaitsForIt() throws {
            var ends: [Int32] = [-1, -1]
            try systemCall("pipe") { pipe(&ends) }
            let readEnd = OwnedFileDescriptor(rawValue: ends[0])
            let writeEnd = ends[1]
            do {
                _ = try PosixThread(name: "dropped") {
                    usleep(50_000)
                    var byte: UInt8 = 9
                    _ = write(writeEnd, &byte, 1)
                }
            }
            // Joined on the way out of the scope: the byte is already there.
            _ = fcntl(readEnd.rawValue, F_SETFL, O_NONBLOCK)
            var byte: UInt8 = 0
            #expect(read(readEnd.rawValue, &byte, 1) == 1)
            #expect(byte == 9)
            _ = close(writeEnd)
        }
    }
}
