//! Identifiers: random UUID v4 text from 16 random bytes (event, anonymous and session ids; the
//! event id is the server's idempotency key), and when a session ends.

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
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0x0f) as usize] as char);
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
    fn sessions_end_after_thirty_idle_minutes() {
        let t = 1_700_000_000_000;
        assert!(session_continues(t + SESSION_IDLE_MS - 1, Some(t)));
        assert!(!session_continues(t + SESSION_IDLE_MS, Some(t)));
        assert!(!session_continues(t, None));
        assert!(session_continues(t - 5_000, Some(t)));
    }
}
