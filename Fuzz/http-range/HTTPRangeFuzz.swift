import Serve

/// The Range header and its companions (If-Range, If-None-Match) against a representation of any size. The input
/// is the size (eight bytes, little-endian, sign bit cleared) followed by header lines, which go into a GET request
/// parsed by the server's own parser; the decision must describe bytes that exist.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRange(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var raw: UInt64 = 0
    for (index, byte) in input.prefix(8).enumerated() { raw |= UInt64(byte) << (8 * UInt64(index)) }
    let representation = Int(truncatingIfNeeded: raw & UInt64(Int.max))
    let head = Array("GET /overlay.cpio.zst HTTP/1.1\r\nHost: boot\r\n".utf8) + input.dropFirst(8)
    guard case .success(let request) = HTTPRequest.parse(head[...], maxHeaderCount: HTTPLimits().maxHeaderCount) else { return 0 }
    let etag = "\"sha256-0e34\""
    for tag in [etag, nil] {
        for size in [representation, 0, 1, 1000] {
            switch HTTPRange.resolve(request, size: size, etag: tag) {
            case .part(let first, let last):
                precondition(0 <= first && first <= last && last < size, "range \(first)-\(last) of \(size) bytes")
                // Content-Length is last - first + 1: it must not overflow.
                precondition(last - first < Int.max)
            case .whole, .unsatisfiable:
                break
            }
        }
    }
    if let condition = request.header("if-none-match") {
        _ = HTTPRange.matches(condition, etag: etag)
    }
    return 0
}
