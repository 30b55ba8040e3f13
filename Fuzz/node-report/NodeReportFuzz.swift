import Fleet
import Foundation

/// Bytes as `POST /report` receives them: parsed as the contract says; a report taken is rendered back to the
/// same text, and survives the state file's JSON both ways (what the server writes, it reads back at start); a
/// refusal is one line. The same bytes read as a console must not trap either.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNodeReport(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let report = try NodeReport.parse(bytes)
        let text = report.text
        precondition(text.utf8.count <= NodeReport.maxBytes * 2)
        let again = try NodeReport.parse(Array(text.utf8))
        precondition(again.text == text, "rendering is not stable")
        let received = ReceivedReport(time: "2026-12-02T10:00:00.000Z", client: "192.0.2.1", report: again)
        let json = try JSONEncoder().encode(received)
        precondition(!json.contains(0x0A), "a state line holds a line break")
        let read = try JSONDecoder().decode(ReceivedReport.self, from: json)
        precondition(read.report.text == text, "the state file does not read back")
    } catch let error as NodeReportError {
        precondition(!error.description.contains("\n") && !error.description.contains("\r"), "a refusal takes two lines")
    } catch {
        preconditionFailure("unexpected error: \(error)")
    }
    _ = NodeReport.parse(console: String(decoding: bytes, as: UTF8.self))
    return 0
}
