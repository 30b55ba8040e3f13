import Foundation
import SystemPackage

/// An error in the words a user reads. Our errors describe themselves; Foundation's file errors would print as
/// `Error Domain=NSCocoaErrorDomain Code=…`, so they become the path and the system's reason (strerror).
public enum ErrorText {
    /// The whole message: our errors' descriptions as they are, a Foundation file error as `PATH: reason`.
    public static func describe(_ error: any Error) -> String {
        guard let foundation = foundationError(error) else { return plain(error) }
        let reason = reason(foundation)
        guard let path = foundation.userInfo[NSFilePathErrorKey] as? String else { return reason }
        return "\(path): \(reason)"
    }

    /// Only why it failed: strerror's words for system and Foundation errors ("Read-only file system"), the
    /// description for ours.
    public static func reason(_ error: any Error) -> String {
        guard let foundation = foundationError(error) else { return plain(error) }
        return reason(foundation)
    }

    /// `text` on one line whatever it holds: a line break or another control character (C0, DEL, C1, U+2028,
    /// U+2029) read from a file or a network peer is shown escaped (`\n`, `\u{1B}`) rather than breaking the
    /// message or driving the terminal.
    public static func oneLine(_ text: String) -> String {
        var line = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    line += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                } else {
                    line.unicodeScalars.append(scalar)
                }
            }
        }
        return line
    }

    private static func plain(_ error: any Error) -> String {
        if let errno = error as? Errno { return errno.posixDescription }
        return "\(error)"
    }

    /// The error as an NSError when it comes from Foundation (Cocoa or POSIX domain), else nil.
    private static func foundationError(_ error: any Error) -> NSError? {
        if error is Errno || error is SystemCallError { return nil }
        let bridged = error as NSError
        return bridged.domain == NSCocoaErrorDomain || bridged.domain == NSPOSIXErrorDomain ? bridged : nil
    }

    private static func reason(_ error: NSError) -> String {
        if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))) }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? any Error {
            let bridged = underlying as NSError
            if bridged.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(bridged.code))) }
        }
        switch CocoaError.Code(rawValue: error.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
        case .fileWriteFileExists: return String(cString: strerror(EEXIST))
        case .fileReadNoPermission, .fileWriteNoPermission: return String(cString: strerror(EACCES))
        case .fileWriteVolumeReadOnly: return String(cString: strerror(EROFS))
        case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
        case .fileReadInapplicableStringEncoding, .fileReadUnknownStringEncoding: return "the text is not in the expected encoding"
        default: return "an input/output error"
        }
    }
}
