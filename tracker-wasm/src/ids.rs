//! Identifiers and when a session ends. Event ids (the server's idempotency key) are UUID v7:
//! the millisecond time first, so ids of one moment sort together and the table's unique index
//! grows at its end instead of at a random page per event (every first write of a page after a
//! checkpoint logs the whole page: v7 ids cut the write-ahead log by ~40% in docs/BENCHMARKS.md
//! "Time-ordered event ids"). Anonymous and session ids are random v4: nothing to order there, and
//! a stored visitor id need not carry its first visit's time.

/// A new session after 30 minutes without activity.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

/// Whether the session last active at `last_seen` (ms) is still going at `now`. A clock that
/// went backwards keeps the session rather than splitting it.
pub fn session_continues(now: i64, last_seen: Option<i64>) -> bool {
    matches!(last_seen, Some(t) if now - t < SESSION_IDLE_MS)
}

/// Formats 16 random bytes as a version-4, RFC 4122 variant UUID.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    format_uuid(b)
}

/// A version-7 UUID (RFC 9562): `ms` since the epoch in the first 48 bits, then random bits.
pub fn uuid_v7(ms: u64, mut random: [u8; 16]) -> String {
    random[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    random[6] = (random[6] & 0x0f) | 0x70;
    format_uuid(random)
}

/// Sets the RFC 4122 variant bits and writes the hyphenated lower-case text.
fn format_uuid(mut b: [u8; 16]) -> String {
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &str = "0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push_str("-");
        }
        for d in [usize::from(byte >> 4), usize::from(byte & 0x0f)] {
            out.push_str(&HEX[d..d + 1]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_version_and_variant_bits() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn v7_ids_start_with_their_millisecond_and_sort_by_it() {
        let u = uuid_v7(0x0123_4567_89ab, [0xff; 16]);
        assert_eq!(u, "01234567-89ab-7fff-bfff-ffffffffffff");
        assert_eq!(uuid_v7(0, [0; 16]), "00000000-0000-7000-8000-000000000000");
        let (a, b) = (
            uuid_v7(1_700_000_000_000, [0xff; 16]),
            uuid_v7(1_700_000_000_001, [0; 16]),
        );
        assert!(a < b, "{a} < {b}");
    }

    #[test]
    fn sessions_end_after_thirty_idle_minutes() {
        let t = 1_700_000_000_000;
        assert!(session_continues(t + SESSION_IDLE_MS - 1, Some(t)));
        assert!(!session_continues(t + SESSION_IDLE_MS, Some(t)));
        assert!(!session_continues(t, None));
        assert!(session_continues(t - 5_000, Some(t)));
    }
}
