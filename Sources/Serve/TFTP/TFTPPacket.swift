/// TFTP wire formats (RFC 1350, options RFC 2347).
package enum TFTPOpcode: UInt16 {
    case readRequest = 1
    case writeRequest = 2
    case data = 3
    case ack = 4
    case error = 5
    case optionAck = 6
}

/// RFC 1350 / RFC 2347 error codes.
package enum TFTPErrorCode: UInt16 {
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
package struct TFTPRequest {
    package var opcode: TFTPOpcode
    package var filename: [UInt8]
    package var mode: String
    package var options: [(name: String, value: String)]

    /// Parses a request; nil when a string lacks its NUL or a field is too long. Option names and values are
    /// bounded (`maxField`) so a hostile packet cannot make anything large.
    package static func parse(_ packet: UnsafeRawBufferPointer, maxField: Int = 1024) -> TFTPRequest? {
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

    /// The file name as a path beneath the root: `\` read as `/` (PXE clients send DOS-style paths), then
    /// normalized. Nil when it would leave the root or is longer than `maxLength`.
    package func path(maxLength: Int) -> [UInt8]? {
        ServeRoot.normalize(filename.map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "/") : $0 }, maxLength: maxLength)
    }
}

extension TFTPRequest {
    /// The options granted, in the order asked: only options the client sent appear in the OACK (RFC 2347).
    /// `pathMTUBlockSize` is asked only when the client asks for a block size.
    package func negotiate(
        size: Int, limits: TFTPLimits, pathMTUBlockSize: () -> Int
    ) -> (accepted: [(String, String)], blockSize: Int, window: Int, timeout: Int) {
        var blockSize = 512
        var window = 1
        var timeout = limits.timeoutMilliseconds
        var accepted: [(String, String)] = []
        var seen = Set<String>()
        for (name, value) in options where !seen.contains(name) {
            seen.insert(name)
            // Values are digits only, at most 10 of them: anything else (huge, signed, empty) is ignored.
            guard !value.isEmpty, value.utf8.count <= 10, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = Int(value) else { continue }
            switch name {
            case "blksize":
                guard number >= 8 else { continue }
                blockSize = min(number, limits.maxBlockSize, pathMTUBlockSize())
                accepted.append((name, String(blockSize)))
            case "tsize":
                accepted.append((name, String(size)))
            case "timeout":
                guard (1...255).contains(number) else { continue }
                timeout = number * 1000
                accepted.append((name, String(number)))
            case "windowsize":
                guard (1...65535).contains(number) else { continue }
                window = min(number, limits.maxWindowSize)
                accepted.append((name, String(window)))
            default:
                continue
            }
        }
        return (accepted, blockSize, window, timeout)
    }
}

/// What a client sends to a transfer's port: an ACK, an ERROR, or anything else, which the transfer ignores.
package enum TFTPReply: Equatable {
    case ack(block: UInt16)
    case error(code: UInt16)
    case other(opcode: UInt16)

    /// Nil for a datagram shorter than the four bytes every reply has.
    package static func parse(_ packet: UnsafeRawBufferPointer) -> TFTPReply? {
        guard packet.count >= 4 else { return nil }
        let opcode = UInt16(packet[0]) << 8 | UInt16(packet[1])
        let value = UInt16(packet[2]) << 8 | UInt16(packet[3])
        switch opcode {
        case TFTPOpcode.ack.rawValue: return .ack(block: value)
        case TFTPOpcode.error.rawValue: return .error(code: value)
        default: return .other(opcode: opcode)
        }
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
