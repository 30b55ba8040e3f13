/// TFTP wire formats (RFC 1350, options RFC 2347).
enum TFTPOpcode: UInt16 {
    case readRequest = 1
    case writeRequest = 2
    case data = 3
    case ack = 4
    case error = 5
    case optionAck = 6
}

/// RFC 1350 / RFC 2347 error codes.
enum TFTPErrorCode: UInt16 {
    case undefined = 0
    case fileNotFound = 1
    case accessViolation = 2
    case diskFull = 3
    case illegalOperation = 4
    case unknownTransferID = 5
    case fileExists = 6
    case noSuchUser = 7
    case optionRefused = 8
}

/// A read or write request: the file name as raw bytes, the mode, and the options in the order sent.
struct TFTPRequest {
    var opcode: TFTPOpcode
    var filename: [UInt8]
    var mode: String
    var options: [(name: String, value: String)]

    /// Parses a request; nil when a string lacks its NUL or a field is too long. Option names and values are
    /// bounded (`maxField`) so a hostile packet cannot make anything large.
    static func parse(_ packet: UnsafeRawBufferPointer, maxField: Int = 1024) -> TFTPRequest? {
        guard packet.count >= 4 else { return nil }
        let code = UInt16(packet[0]) << 8 | UInt16(packet[1])
        guard let opcode = TFTPOpcode(rawValue: code), opcode == .readRequest || opcode == .writeRequest else { return nil }
        var fields: [[UInt8]] = []
        var start = 2
        var index = 2
        while index < packet.count {
            if packet[index] == 0 {
                guard index - start <= maxField else { return nil }
                fields.append(Array(packet[start..<index]))
                start = index + 1
            }
            index += 1
        }
        // Bytes after the last NUL are an unterminated string: a malformed request.
        guard start == packet.count, fields.count >= 2 else { return nil }
        let mode = String(decoding: fields[1], as: UTF8.self).lowercased()
        var options: [(String, String)] = []
        var i = 2
        while i + 1 < fields.count {
            options.append((String(decoding: fields[i], as: UTF8.self).lowercased(), String(decoding: fields[i + 1], as: UTF8.self)))
            i += 2
        }
        // An option name without a value is ignored, as RFC 2347 lets a server ignore what it cannot use.
        return TFTPRequest(opcode: opcode, filename: fields[0], mode: mode, options: options)
    }
}

enum TFTPPacket {
    static func error(_ code: TFTPErrorCode, _ message: String) -> [UInt8] {
        [0, 5, UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xff)] + Array(message.utf8.prefix(200)) + [0]
    }

    static func optionAck(_ options: [(String, String)]) -> [UInt8] {
        var packet: [UInt8] = [0, 6]
        for (name, value) in options {
            packet += Array(name.utf8) + [0] + Array(value.utf8) + [0]
        }
        return packet
    }
}
