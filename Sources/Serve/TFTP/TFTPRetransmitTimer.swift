/// How long a transfer waits for an ACK before it resends: RFC 6298's retransmission timeout, estimated from the
/// round trips of the transfer itself and bounded by the TFTP timeout.
///
/// RFC 2349's `timeout` (or the server's configured one when the client asks for none) is the longest wait and
/// the wait before anything has been measured. Once round trips are known the server resends after
/// `SRTT + 4 * RTTVAR`, never sooner than `floor`: on a LAN a lost block then costs a fraction of a second instead
/// of the whole timeout, which on a lossy link is most of a lockstep transfer's time. A resend that comes too
/// early only brings the client a duplicate block, which RFC 1350 clients acknowledge again and the server ignores;
/// it never multiplies traffic (no Sorcerer's Apprentice), and each further resend of the same block waits twice
/// as long.
///
/// Only round trips of blocks sent once are measured (Karn's rule): the ACK of a resent block may answer either
/// copy.
struct TFTPRetransmitTimer {
    /// The longest first wait, in milliseconds: the negotiated or configured timeout.
    let ceiling: Int
    /// The shortest first wait, in milliseconds.
    let floor: Int
    /// Smoothed round trip and its mean deviation, in microseconds; nil before the first measurement.
    private var smoothed: Int?
    private var deviation = 0

    init(ceiling: Int, floor: Int) {
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
    }

    /// Takes one measured round trip, in microseconds (RFC 6298 §2, alpha 1/8, beta 1/4).
    mutating func measured(_ roundTrip: Int) {
        let sample = max(0, roundTrip)
        if let current = smoothed {
            deviation = (3 * deviation + abs(current - sample)) / 4
            smoothed = (7 * current + sample) / 8
        } else {
            smoothed = sample
            deviation = sample / 2
        }
    }

    /// Milliseconds to wait for an ACK before the first resend.
    var timeout: Int {
        guard let smoothed else { return ceiling }
        // RFC 6298's clock granularity term G: one millisecond, the resolution of poll(2).
        let microseconds = smoothed + max(1000, 4 * deviation)
        return min(ceiling, max(floor, (microseconds + 999) / 1000))
    }
}
