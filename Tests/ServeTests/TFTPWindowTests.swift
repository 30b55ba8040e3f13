import Serve
import Testing

/// The sending side's rules for one windowed transfer (RFC 7440), decided without a network: which blocks go out,
/// what each ACK does, and what the log line counts. `TFTPLossTests` runs the same rules over a lossy link.
@Suite struct TFTPWindowTests {
    /// 40 blocks of 512 bytes and a short last one, in windows of 16, no OACK.
    static func window() -> WindowState {
        WindowState(
            size: 40 * 512 + 100, blockSize: 512, window: 16, timeout: 1000, limits: TFTPLimits(), detail: "windowsize=16",
            optionsAccepted: false)
    }

    @Test func eachWholeWindowAckedSendsTheNextUntilTheLastBlock() {
        var state = Self.window()
        #expect(state.nextWindow() == 1...16)
        guard case .sendWindow = state.acknowledgement(16) else {
            Issue.record("the ACK of a whole window sends the next")
            return
        }
        #expect(state.nextWindow() == 17...32)
        guard case .sendWindow = state.acknowledgement(32) else {
            Issue.record("the ACK of a whole window sends the next")
            return
        }
        #expect(state.nextWindow() == 33...41)
        guard case .done(let outcome) = state.acknowledgement(41) else {
            Issue.record("the ACK of the last block ends it")
            return
        }
        #expect(outcome.status == "ok" && outcome.bytes == 40 * 512 + 100 && outcome.detail == "windowsize=16")
    }

    /// The client saw a gap after block 8: the next window starts right after it, and the log line says so.
    @Test func anAckFromTheMiddleOfAWindowRestartsItThere() {
        var state = Self.window()
        #expect(state.nextWindow() == 1...16)
        guard case .sendWindow = state.acknowledgement(8) else {
            Issue.record("an ACK from the middle sends again from there")
            return
        }
        #expect(state.acked == 8)
        #expect(state.nextWindow() == 9...24)
        #expect(state.summary() == "windowsize=16 rewound=1")
    }

    /// The block before the window again (its first block was lost): the window is sent again once, but a duplicate
    /// of that ACK right after the resend does not set off another (no Sorcerer's Apprentice); stale ACKs are ignored.
    @Test func aRepeatedAckBeforeTheWindowResendsItOnceAndStaleAcksAreIgnored() {
        var state = Self.window()
        _ = state.nextWindow()
        _ = state.acknowledgement(16)
        #expect(state.nextWindow() == 17...32)
        guard case .sendWindow = state.acknowledgement(16) else {
            Issue.record("the block before the window again resends it")
            return
        }
        #expect(state.nextWindow() == 17...32)
        guard case .wait = state.acknowledgement(16) else {
            Issue.record("a duplicate right after the resend must wait")
            return
        }
        guard case .wait = state.acknowledgement(3) else {
            Issue.record("a stale ACK is ignored")
            return
        }
        #expect(state.summary() == "windowsize=16 rewound=1")
    }

    @Test func silenceResendsTheWindowAndCountsIt() {
        var state = Self.window()
        #expect(state.nextWindow() == 1...16)
        guard case .sendWindow = state.silence() else {
            Issue.record("silence resends the window")
            return
        }
        #expect(state.nextWindow() == 1...16)
        #expect(state.summary() == "windowsize=16 resent=1")
    }
}
