//! Batching: events wait in memory until N are queued (or a timer fires), then go out as
//! request bodies that each stay under the beacon size limit.
//!
//! Invariants: every queued event appears in exactly one body; bodies keep event order; no body
//! exceeds `limit` bytes unless a single event alone does (those are dropped at creation, see
//! [`MAX_EVENT_BYTES`]), so a body is always accepted by `navigator.sendBeacon`.

use crate::json;

/// Browsers refuse beacons (and keepalive fetches) over 64 KiB in flight; stay clear of it.
pub const BEACON_LIMIT: usize = 60_000;
/// The server refuses events larger than this anyway (props at most 8 KiB, bounded strings).
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

/// Events waiting to be sent, flushed at `max` of them.
pub struct Batch {
    events: Vec<String>,
    max: usize,
}

impl Batch {
    pub fn new(max: usize) -> Self {
        Batch {
            events: Vec::new(),
            max: max.max(1),
        }
    }

    /// Queues one event; true when the batch is full and should be flushed now. Oversized
    /// events are dropped (the server would refuse them and they would block the retry queue).
    pub fn push(&mut self, event: String) -> bool {
        if event.len() <= MAX_EVENT_BYTES {
            self.events.push(event);
        }
        self.events.len() >= self.max
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Takes every queued event out, leaving the batch empty.
    pub fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }
}

/// Splits `events` into groups whose `/collect` body (see [`json::batch`]) stays within `limit`
/// bytes, in order. Each group is kept as events, so a failed send can re-queue exactly those.
pub fn chunks(key: &str, events: Vec<String>, limit: usize) -> Vec<Vec<String>> {
    let overhead = json::batch(key, &[]).len();
    let mut out = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut size = overhead;
    for e in events {
        if overhead + e.len() > limit {
            continue;
        }
        if !cur.is_empty() && size + 1 + e.len() > limit {
            out.push(std::mem::take(&mut cur));
            size = overhead;
        }
        size += e.len() + usize::from(!cur.is_empty());
        cur.push(e);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize, pad: usize) -> String {
        let mut s = String::from("{\"id\":\"");
        json::push_int(&mut s, n as i64);
        s.push_str("\",\"props\":{\"t\":\"");
        s.push_str(&"x".repeat(pad));
        s.push_str("\"}}");
        s
    }

    #[test]
    fn batch_reports_full_at_n() {
        let mut b = Batch::new(3);
        assert!(!b.push(ev(1, 1)));
        assert!(!b.push(ev(2, 1)));
        assert!(b.push(ev(3, 1)));
        assert_eq!(b.take().len(), 3);
        assert!(b.is_empty());
    }

    #[test]
    fn oversized_events_are_dropped() {
        let mut b = Batch::new(10);
        b.push(ev(1, MAX_EVENT_BYTES));
        assert!(b.is_empty());
    }

    #[test]
    fn chunks_stay_under_the_limit_and_keep_every_event_in_order() {
        let events: Vec<String> = (0..200).map(|i| ev(i, 900)).collect();
        let out = chunks("pk", events.clone(), BEACON_LIMIT);
        assert!(out.len() >= 3, "200 events of ~1 KB need several beacons");
        for c in &out {
            let body = json::batch("pk", c);
            assert!(body.len() <= BEACON_LIMIT, "{} bytes", body.len());
        }
        // Full chunks are filled close to the limit, not split early.
        assert!(json::batch("pk", &out[0]).len() > BEACON_LIMIT - 1000);
        assert_eq!(out.concat(), events);
    }

    #[test]
    fn small_batches_make_one_chunk_and_none_make_none() {
        let events = vec![ev(1, 3), ev(2, 3)];
        assert_eq!(chunks("pk", events.clone(), BEACON_LIMIT), vec![events]);
        assert!(chunks("pk", Vec::new(), BEACON_LIMIT).is_empty());
    }

    #[test]
    fn an_event_bigger_than_the_limit_is_skipped_not_sent_alone() {
        let events = vec![ev(1, 3), ev(2, 200), ev(3, 3)];
        let out = chunks("pk", events.clone(), 150);
        assert_eq!(out.concat(), vec![events[0].clone(), events[2].clone()]);
    }
}
