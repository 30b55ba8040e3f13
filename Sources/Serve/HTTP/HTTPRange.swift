#if canImport(Glibc)
    import Glibc
#endif

/// Range requests (RFC 9110 §14): one byte range is honoured, anything else gets the whole representation.
package enum HTTPRange {
    package enum Decision: Equatable {
        case whole
        case part(first: Int, last: Int)
        case unsatisfiable
    }

    package static func resolve(_ request: HTTPRequest, size: Int, etag: String?) -> Decision {
        guard let header = request.header("range") else { return .whole }
        // If-Range with a validator that no longer matches: send everything (dates are not trusted here).
        if let condition = request.header("if-range") {
            guard let etag, condition == etag else { return .whole }
        }
        let lowered = header.lowercased()
        guard lowered.hasPrefix("bytes=") else { return .whole }
        let spec = lowered.dropFirst(6).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let startText = spec[..<dash].trimmingSpaces
        let endText = spec[spec.index(after: dash)...].trimmingSpaces
        func number(_ text: String) -> Int? {
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(text)
        }
        if startText.isEmpty {
            // suffix range: the last N bytes
            guard let suffix = number(endText) else { return .whole }
            if suffix == 0 || size == 0 { return .unsatisfiable }
            return .part(first: max(0, size - suffix), last: size - 1)
        }
        guard let first = number(startText) else { return .whole }
        var last = size - 1
        if !endText.isEmpty {
            guard let end = number(endText) else { return .whole }
            if end < first { return .whole }
            last = min(end, size - 1)
        }
        if first >= size { return .unsatisfiable }
        return .part(first: first, last: last)
    }

    /// If-None-Match uses the weak comparison: W/ prefixes are ignored; "*" matches any current representation.
    package static func matches(_ condition: String, etag: String) -> Bool {
        let strip = { (tag: Substring) -> Substring in tag.hasPrefix("W/") ? tag.dropFirst(2) : tag }
        let mine = strip(Substring(etag))
        for candidate in condition.split(separator: ",") {
            let tag = Substring(candidate.trimmingSpaces)
            if tag == "*" || strip(tag) == mine { return true }
        }
        return false
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
enum HTTPDate {
    static func now() -> String { format(time(nil)) }

    static func format(_ seconds: Int) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return
            "\(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
