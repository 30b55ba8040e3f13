import Foundation
import SystemPackage
import Testing
@testable import OverlayKit

@Suite struct DigestTests {
    @Test func bytesMatchKnownVectors() {
        #expect(SHA256Digest.bytes([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.bytes(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func fileMatchesSha256sum() throws {
        let dir = try PackFixture.scratch("digest")
        defer { PackFixture.remove(dir) }
        let file = dir.appending("big")
        // Larger than the 1 MiB read buffer, so several updates feed the digest.
        try PackFixture.sh("head -c 3000001 /dev/urandom > \(PackFixture.q(file))")
        let expected = String(try PackFixture.sh("sha256sum \(PackFixture.q(file))").prefix(64))
        #expect(try SHA256Digest.file(file) == expected)
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file.string)))
        var streamed = SHA256Digest()
        streamed.update(data[..<12345])
        streamed.update(data[12345...])
        #expect(streamed.finalize() == expected)
    }

    @Test func missingFileIsAnError() throws {
        #expect {
            try SHA256Digest.file("/nonexistent/overlay")
        } throws: { error in
            "\(error)" == "open /nonexistent/overlay failed: No such file or directory"
        }
    }
}
