/// A parsed request head (RFC 9112). Only what GET/HEAD of static files need is kept.
package struct HTTPRequest {
    package var method: String
    package var target: String
    package var minorVersion: Int  // HTTP/1.0 or HTTP/1.1
    package var headers: [(name: String, value: String)]
    /// The request carries a body the server will not read, so the connection cannot be reused.
    package var hasBody = false

    package func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    func headerCount(_ name: String) -> Int {
        headers.reduce(0) { $0 + ($1.name == name ? 1 : 0) }
    }

    /// Whether the connection stays open after the response.
    package var keepAlive: Bool {
        let tokens = headers.filter { $0.name == "connection" }.flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingSpaces } }
        if hasBody || tokens.contains("close") { return false }
        return minorVersion >= 1 || tokens.contains("keep-alive")
    }

    /// Parses the bytes of a head, up to but not including the blank line. Returns the status to answer with
    /// when the request is malformed.
    package static func parse(_ head: ArraySlice<UInt8>, maxHeaderCount: Int) -> Result<HTTPRequest, HTTPStatus> {
        var lines = head.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        guard !lines.isEmpty else { return .failure(.badRequest) }
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
            parts[0].allSatisfy(isTokenByte), parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else { return .failure(.badRequest) }
        let version = String(decoding: parts[2], as: UTF8.self)
        let minor: Int
        switch version {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default: return .failure(version.hasPrefix("HTTP/") ? .versionNotSupported : .badRequest)
        }
        guard lines.count <= maxHeaderCount else { return .failure(.badRequest) }
        var headers: [(String, String)] = []
        for line in lines {
            // obs-fold (a line starting with white space) and lines without a colon are refused (RFC 9112 §5).
            guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t"),
                let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[line.startIndex..<colon].allSatisfy(isTokenByte),
                line.allSatisfy({ $0 != 0 && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") })
            else { return .failure(.badRequest) }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces
            headers.append((name, value))
        }
        var request = HTTPRequest(
            method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self), minorVersion: minor, headers: headers)
        let hostCount = request.headerCount("host")
        if hostCount > 1 || (minor == 1 && hostCount == 0) { return .failure(.badRequest) }
        let lengths = request.headers.filter { $0.name == "content-length" }.map(\.value)
        let transferEncoding = request.headerCount("transfer-encoding") > 0
        // Both framings at once is the classic request-smuggling shape: refuse it (RFC 9112 §6.3).
        if transferEncoding && !lengths.isEmpty { return .failure(.badRequest) }
        if lengths.count > 1 && Set(lengths).count > 1 { return .failure(.badRequest) }
        if let length = lengths.first {
            guard !length.isEmpty, length.utf8.count <= 18, length.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(length) else {
                return .failure(.badRequest)
            }
            request.hasBody = value > 0
        }
        if transferEncoding { request.hasBody = true }
        return .success(request)
    }

    /// RFC 9110 token characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// The path of the target as raw bytes: query and fragment dropped, absolute-form reduced to its path,
    /// percent-escapes decoded. Nil when an escape is malformed or decodes to NUL.
    package static func decodedPath(_ target: String) -> [UInt8]? {
        var bytes = Array(target.utf8)
        if bytes.first != UInt8(ascii: "/") {
            // absolute-form: http://host[:port]/path
            let lower = target.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return nil }
            let afterScheme = bytes.drop { $0 != UInt8(ascii: ":") }.dropFirst(3)
            guard let slash = afterScheme.firstIndex(of: UInt8(ascii: "/")) else { return [] }
            bytes = Array(bytes[slash...])
        }
        if let end = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
            bytes = Array(bytes[..<end])
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) else { return nil }
                let decoded = high << 4 | low
                if decoded == 0 { return nil }
                out.append(decoded)
                i += 3
            } else {
                out.append(byte)
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// The statuses this server sends.
package enum HTTPStatus: Int, Error {
    case ok = 200
    case partialContent = 206
    case notModified = 304
    case badRequest = 400
    case forbidden = 403
    case notFound = 404
    case methodNotAllowed = 405
    case requestTimeout = 408
    case lengthRequired = 411
    case contentTooLarge = 413
    case uriTooLong = 414
    case rangeNotSatisfiable = 416
    case tooManyRequests = 429
    case internalServerError = 500
    case unknownMethod = 501
    case serviceUnavailable = 503
    case versionNotSupported = 505

    var reason: String {
        switch self {
        case .ok: return "OK"
        case .partialContent: return "Partial Content"
        case .notModified: return "Not Modified"
        case .badRequest: return "Bad Request"
        case .forbidden: return "Forbidden"
        case .notFound: return "Not Found"
        case .methodNotAllowed: return "Method Not Allowed"
        case .requestTimeout: return "Request Timeout"
        case .lengthRequired: return "Length Required"
        case .contentTooLarge: return "Content Too Large"
        case .uriTooLong: return "URI Too Long"
        case .rangeNotSatisfiable: return "Range Not Satisfiable"
        case .tooManyRequests: return "Too Many Requests"
        case .internalServerError: return "Internal Server Error"
        case .unknownMethod: return "Not Implemented"
        case .serviceUnavailable: return "Service Unavailable"
        case .versionNotSupported: return "HTTP Version Not Supported"
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}
