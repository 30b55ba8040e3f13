// serve-driver serve --dir DIR [--http ADDR:PORT] [--tftp ADDR:PORT] [--json-log]
// Serves until SIGINT or SIGTERM; the access log goes to stderr.
import Glibc
import Serve
import SystemPackage

func fail(_ message: String, _ code: Int32) -> Never {
    let line = Array("serve-driver: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "serve" { arguments.removeFirst() }
var dir: String?
var http: String?
var tftp: String?
var json = false
var index = 0
while index < arguments.count {
    let flag = arguments[index]
    let value = index + 1 < arguments.count ? arguments[index + 1] : nil
    switch flag {
    case "--dir":
        dir = value
        index += 2
    case "--http":
        http = value
        index += 2
    case "--tftp":
        tftp = value
        index += 2
    case "--json-log":
        json = true
        index += 1
    default:
        fail("unknown argument \(flag)", 2)
    }
}
guard let dir else {
    fail("--dir DIR is required", 2)
}
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGINT)
sigaddset(&signals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &signals, nil)
let log = AccessLog(.standardError, format: json ? .json : .plain)
do {
    let httpServer = try http.map { try HTTPServer(root: FilePath(dir), bind: $0, catalog: nil, log: log) }
    let tftpServer = try tftp.map { try TFTPServer(root: FilePath(dir), bind: $0, catalog: nil, log: log) }
    try httpServer?.start()
    try tftpServer?.start()
    let banner = Array("serving \(dir): http \(httpServer.map { String($0.port) } ?? "-") tftp \(tftpServer.map { String($0.port) } ?? "-")\n".utf8)
    _ = banner.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    var received: Int32 = 0
    sigwait(&signals, &received)
    httpServer?.stop()
    tftpServer?.stop()
} catch {
    fail("\(error)", 1)
}
