import Posix

/// Why a server could not start.
public enum ServeError: UserError, Sendable {
    case badAddress(String)
    case rootNotDirectory(path: String, reason: String)
    case socket(address: String, reason: SystemCallError)
    case thread(what: String, code: Int32)
    case kernelTooOld(reason: String)

    public var description: String {
        switch self {
        case .badAddress(let text):
            return "\"\(text)\" is not an address to listen on: write ADDR:PORT, such as 127.0.0.1:8080 or [::1]:6969"
        case .rootNotDirectory(let path, let reason):
            return "cannot serve \(path): \(reason); give a directory that exists and is readable"
        case .socket(let address, let reason):
            return "cannot listen on \(address): \(reason); choose a free port or an address of this machine"
        case .kernelTooOld(let reason):
            return "cannot confine lookups to the served directory (\(reason)); the server needs openat2, Linux 5.6 or newer"
        case .thread(let what, let code):
            return "cannot start the \(what) thread (error \(code)); lower the connection limits or raise the thread limit"
        }
    }
}
