//! The retry queue: events whose send failed (or that were produced offline) wait in
//! first-party storage, one JSON event per line, until the next attempt.
//!
//! Invariants: the queue never holds more than [`MAX_EVENTS`] events or [`MAX_BYTES`] bytes
//! (oldest dropped first, so a long offline spell cannot fill the origin's storage); an event
//! is either in the queue or in flight, never both, so a retry never duplicates what a
//! concurrent send delivered (and the server dedupes by id anyway).

use crate::{json, text};

/// Storage bound: events kept for retry.
pub const MAX_EVENTS: usize = 500;
/// Storage bound: bytes kept for retry (well under the usual 5 MB localStorage quota).
pub const MAX_BYTES: usize = 256 * 1024;
/// First retry delay; doubles per failed attempt up to [`MAX_BACKOFF_MS`].
pub const BASE_BACKOFF_MS: f64 = 2_000.0;
pub const MAX_BACKOFF_MS: f64 = 300_000.0;

/// Reads the stored queue text (lines that are not JSON objects are ignored: a corrupted or
/// foreign value must not break delivery).
pub fn decode(stored: &str) -> Vec<String> {
    text::parts(stored, b'\n')
        .filter(|l| json::is_object_text(l))
        .map(String::from)
        .collect()
}

/// The storage text for `events` (event JSON never holds a raw newline: strings escape it).
pub fn encode(events: &[String]) -> String {
    text::join(events, "\n")
}

/// Appends `more` to `queue`, then drops the oldest events until both bounds hold.
pub fn push_bounded(queue: &mut Vec<String>, more: Vec<String>) {
    queue.extend(more.into_iter().filter(|e| text::find(e, b'\n').is_none()));
    let mut bytes: usize = queue.iter().map(|e| e.len() + 1).sum();
    let mut drop = 0;
    while drop < queue.len() && (queue.len() - drop > MAX_EVENTS || bytes > MAX_BYTES) {
        bytes -= queue[drop].len() + 1;
        drop += 1;
    }
    queue.drain(..drop);
}

/// Delay before retry attempt number `attempts` (0 for the first retry), exponential and capped.
pub fn backoff_ms(attempts: u32) -> f64 {
    let mut d = BASE_BACKOFF_MS;
    for _ in 0..attempts.min(20) {
        d *= 2.0;
    }
    d.min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_garbage() {
        let q = vec!["{\"id\":\"a\"}".to_string(), "{\"id\":\"b\"}".to_string()];
        assert_eq!(decode(&encode(&q)), q);
        assert_eq!(
            decode("garbage\n{\"id\":\"a\"}\n\n{broken"),
            vec!["{\"id\":\"a\"}".to_string()]
        );
        assert!(decode("").is_empty());
    }

    #[test]
    fn bounded_by_count_dropping_oldest() {
        let mut q = Vec::new();
        push_bounded(
            &mut q,
            (0..MAX_EVENTS + 7)
                .map(|i| format!("{{\"n\":{i}}}"))
                .collect(),
        );
        assert_eq!(q.len(), MAX_EVENTS);
        assert_eq!(q[0], "{\"n\":7}");
        assert_eq!(
            q.last().map(String::as_str),
            Some(&*format!("{{\"n\":{}}}", MAX_EVENTS + 6))
        );
    }

    #[test]
    fn bounded_by_bytes() {
        let big = format!("{{\"p\":\"{}\"}}", "x".repeat(10_000));
        let mut q = Vec::new();
        for _ in 0..40 {
            push_bounded(&mut q, vec![big.clone()]);
        }
        assert!(encode(&q).len() <= MAX_BYTES);
        assert_eq!(q.len(), MAX_BYTES / (big.len() + 1));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 2_000.0);
        assert_eq!(backoff_ms(1), 4_000.0);
        assert_eq!(backoff_ms(3), 16_000.0);
        assert_eq!(backoff_ms(30), MAX_BACKOFF_MS);
    }
}
