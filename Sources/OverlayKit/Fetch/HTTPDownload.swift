internal import CCurl
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One http(s) GET with libcurl's easy interface (`curl_easy_perform`), bounded by silence rather than by total
/// time: the transfer is given up when no byte has come for `silence` seconds (while connecting, during the TLS
/// handshake, before the answer or in the middle of the body), so a large package on a slow but steady mirror
/// still arrives, and a mirror that accepts the connection and never answers costs `silence` seconds.
///
/// Why libcurl directly and not URLSession: on Linux, FoundationNetworking drives libcurl through libdispatch
/// sources, and once a request is sent it leaves a write source armed on the socket. A connected socket is always
/// writable, so the source fires in a loop until the answer comes: against a mirror that never answers, `overlay`
/// spent about 55 s of CPU in its 60 s wait (strace: thousands of `epoll_wait`, `epoll_ctl` and `poll` calls a
/// second), then reported "NSURLErrorDomain error -1001". No option of URLSession's reaches that loop.
/// `curl_easy_perform` waits in `poll(2)` for the events it needs and wakes about once a second to ask
/// `watchSilence`, so waiting costs next to no CPU. libcurl is the library FoundationNetworking already loads, so
/// https, redirects, proxies from the environment (`http_proxy`, `no_proxy`), chunked bodies and IPv6 work as they
/// did; a hand-written HTTP/1.1 client over sockets would have to redo all of that and would still need a TLS
/// library for https.
///
/// Owns its `CURL` handle (`curl_easy_cleanup` in `deinit`). A non-copyable struct, not a class, for the reason
/// `SHA256Digest` gives: it is made, used and dropped inside one function.
package struct HTTPDownload: ~Copyable {
    private let handle: UnsafeMutableRawPointer

    private init?() {
        guard curlReady, let handle = curl_easy_init() else { return nil }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// The body at `url` (http:// or https://, redirects followed); the transfer is given up after `silence`
    /// seconds without a byte.
    package static func get(_ url: String, silence: Int) throws(RepoError) -> Data {
        guard let download = HTTPDownload() else {
            throw .download(url: url, reason: "libcurl could not start a transfer (curl_global_init or curl_easy_init failed)")
        }
        return try download.perform(url, silence: silence)
    }

    private func perform(_ url: String, silence: Int) throws(RepoError) -> Data {
        let state = UnsafeMutablePointer<TransferState>.allocate(capacity: 1)
        state.initialize(to: TransferState(lastActivity: monotonicMilliseconds(), silenceMilliseconds: silence * 1000))
        defer {
            state.deinitialize(count: 1)
            state.deallocate()
        }
        let errorText = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorText.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        defer { errorText.deallocate() }

        _ = ccurl_setopt_string(handle, CURLOPT_URL, url)
        _ = ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
        _ = ccurl_setopt_string(handle, CURLOPT_USERAGENT, "overlay")
        // No signals from libcurl (this process has other threads); name resolution runs on libcurl's own thread.
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        // Connecting (resolving, TCP, TLS) may take at most `silence` seconds; after that `watchSilence` rules.
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, silence * 1000)
        _ = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorText)
        _ = ccurl_setopt_write_function(handle, CURLOPT_WRITEFUNCTION, receiveBody)
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, state)
        _ = ccurl_setopt_write_function(handle, CURLOPT_HEADERFUNCTION, receiveHeader)
        _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, state)
        _ = ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        _ = ccurl_setopt_xferinfo_function(handle, watchSilence)
        _ = ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, state)
        defer {
            // The handle outlives this call by a moment: it must hold no pointer to what is freed here.
            for option in [CURLOPT_ERRORBUFFER, CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, CURLOPT_XFERINFODATA] {
                _ = ccurl_setopt_pointer(handle, option, nil)
            }
        }

        let code = curl_easy_perform(handle)
        if state.pointee.silent || code == CURLE_OPERATION_TIMEDOUT {
            throw .noAnswer(url: url, seconds: silence)
        }
        guard code == CURLE_OK else {
            // libcurl's own words ("Failed to connect to ... Couldn't connect to server", "SSL certificate problem: ...").
            let text = String(cString: errorText)
            let why = text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
            throw .download(url: url, reason: why)
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard (200..<300).contains(status) else {
            throw .download(url: url, reason: "the server answered HTTP \(status)")
        }
        return state.pointee.body
    }
}

/// `curl_global_init` once per process, before the first handle (a global's initialiser runs once, thread-safely).
private let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

/// What the callbacks of one transfer share, at a fixed address for the transfer's length.
private struct TransferState {
    var body = Data()
    /// When the last byte (header or body) came, in monotonic milliseconds.
    var lastActivity: Int
    var silenceMilliseconds: Int
    /// Set when `watchSilence` gave the transfer up.
    var silent = false
}

private let receiveBody: curl_write_callback = { bytes, size, count, context in
    guard let context else { return 0 }
    let state = context.assumingMemoryBound(to: TransferState.self)
    let length = size * count
    if let bytes, length > 0 {
        state.pointee.body.append(UnsafeRawPointer(bytes).assumingMemoryBound(to: UInt8.self), count: length)
    }
    state.pointee.lastActivity = monotonicMilliseconds()
    return length
}

private let receiveHeader: curl_write_callback = { _, size, count, context in
    context?.assumingMemoryBound(to: TransferState.self).pointee.lastActivity = monotonicMilliseconds()
    return size * count
}

/// libcurl's progress callback, called at least once a second while a transfer waits: ends it (a non-zero return)
/// once nothing has come for the silence limit.
private let watchSilence: curl_xferinfo_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    let state = context.assumingMemoryBound(to: TransferState.self)
    guard monotonicMilliseconds() - state.pointee.lastActivity >= state.pointee.silenceMilliseconds else { return 0 }
    state.pointee.silent = true
    return 1
}

private func monotonicMilliseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
}
