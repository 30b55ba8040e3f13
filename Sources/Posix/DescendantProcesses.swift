#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import SystemPackage

/// The processes this one started, and the ones they started, as `/proc` lists them: the scriptlets librpm
/// forks and the tools a build runs.
public enum DescendantProcesses {
    /// Kills every descendant of this process. They are first stopped (SIGSTOP) and `/proc` is read again
    /// until no new one turns up, so none can fork a child that escapes while the others are killed; then
    /// each gets SIGKILL. Returns how many were killed.
    @discardableResult
    public static func killAll() -> Int {
        var stopped = Set<pid_t>()
        for _ in 0..<100 {
            let found = Set(list()).subtracting(stopped)
            if found.isEmpty { break }
            for pid in found { kill(pid, SIGSTOP) }
            stopped.formUnion(found)
        }
        for pid in stopped { kill(pid, SIGKILL) }
        return stopped.count
    }

    /// The live (not zombie) descendants of `root`, this process by default.
    public static func list(of root: pid_t = getpid()) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for name in (try? directoryNames("/proc")) ?? [] {
            guard let pid = pid_t(String(decoding: name, as: UTF8.self)), let (state, parent) = status(of: pid) else { continue }
            if state != UInt8(ascii: "Z") && state != UInt8(ascii: "X") { children[parent, default: []].append(pid) }
        }
        var result: [pid_t] = []
        var queue = children[root] ?? []
        while let pid = queue.popLast() {
            result.append(pid)
            queue += children[pid] ?? []
        }
        return result
    }

    /// The state letter and parent of a process, from `/proc/PID/stat` ("pid (comm) S ppid ..."; comm may
    /// hold spaces and parentheses, so the fields are read after the last ')').
    private static func status(of pid: pid_t) -> (state: UInt8, parent: pid_t)? {
        guard let fd = try? OwnedFileDescriptor.open(FilePath("/proc/\(pid)/stat"), .readOnly, options: [.closeOnExec]) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = read(fd.rawValue, &buffer, buffer.count)
        guard count > 0, let end = buffer[0..<count].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(end + 1)..<count].split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, let state = fields[0].first, let parent = pid_t(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return (state, parent)
    }
}
