//! The actor-days this worker has stored lately, so a batch leaves them out of the
//! `actor_activity` upsert (retention's per-actor day and week bits).
//!
//! Why: most events come from an actor already active that day, whose bits are set; the upsert
//! still found, locked and WAL-logged each such row before its `WHERE` skipped it. Leaving
//! known actor-days out cut Postgres's CPU per 1-event beacon by 11-17% when visitors come back
//! within the hour (docs/BENCHMARKS.md, "Known actor-days"); a database-side filter cost as much
//! as the lock it saved.
//!
//! Invariant: a skip never loses a day. An entry is added only after the statement that stored
//! that actor-day committed (its bits are then set and only ever OR-ed), entries live at most
//! [`MAX_AGE`], and the write statement ignores every skip of a project that had a GDPR purge
//! (the only thing that deletes `actor_activity` rows) within
//! [`ACTOR_DAYS_PURGE_WINDOW`], longer than any entry lives. Keys are 64-bit hashes under a per-process random key: a
//! false skip needs a collision among at most [`MAX_ENTRIES`] entries (~5e-14 per event).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use uuid::Uuid;

use entity::activity;

use crate::storage::events::ACTOR_DAYS_PURGE_WINDOW;

/// Entries are forgotten after this long: shorter than the statement's purge window, so a
/// purge that deleted a remembered actor-day is still inside it.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
const _: () = assert!(MAX_AGE.as_secs() < ACTOR_DAYS_PURGE_WINDOW.as_secs());
/// At most this many entries (~16 MB); full, the set starts over.
pub const MAX_ENTRIES: usize = 1_000_000;

pub struct ActorDays {
    seen: HashSet<u64>,
    keys: std::collections::hash_map::RandomState,
    since: Instant,
}

impl Default for ActorDays {
    fn default() -> Self {
        Self {
            seen: HashSet::new(),
            keys: std::collections::hash_map::RandomState::new(),
            since: Instant::now(),
        }
    }
}

fn actor_day(r: &activity::Model) -> Option<(Uuid, &str, NaiveDate)> {
    let actor = r.user_id.as_deref().or(r.anonymous_id.as_deref())?;
    // The UTC day, as `actor_activity` counts days.
    Some((r.project_id, actor, r.occurred_at.naive_utc().date()))
}

impl ActorDays {
    fn key(&self, (project, actor, day): (Uuid, &str, NaiveDate)) -> u64 {
        let mut h = self.keys.build_hasher();
        project.hash(&mut h);
        actor.hash(&mut h);
        day.hash(&mut h);
        h.finish()
    }

    /// For each row, whether its actor-day is known stored (the statement may leave it out).
    pub fn known(&mut self, rows: &[activity::Model]) -> Vec<bool> {
        if self.since.elapsed() > MAX_AGE {
            self.seen.clear();
            self.since = Instant::now();
        }
        rows.iter()
            .map(|r| actor_day(r).is_some_and(|k| self.seen.contains(&self.key(k))))
            .collect()
    }

    /// Records the actor-days of rows a committed statement stored.
    pub fn stored<'a>(&mut self, rows: impl IntoIterator<Item = &'a activity::Model>) {
        let rows = rows.into_iter();
        if self.seen.len() + rows.size_hint().0 > MAX_ENTRIES {
            self.seen.clear();
            self.since = Instant::now();
        }
        for r in rows {
            if let Some(k) = actor_day(r) {
                let key = self.key(k);
                self.seen.insert(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;

    fn row(project: Uuid, user: Option<&str>, anon: Option<&str>, day: u32) -> activity::Model {
        let at = Utc
            .with_ymd_and_hms(2026, 12, day, 10, 0, 0)
            .single()
            .expect("date");
        activity::Model {
            event_id: Uuid::new_v4(),
            project_id: project,
            event_type: "page.view".into(),
            user_id: user.map(str::to_string),
            anonymous_id: anon.map(str::to_string),
            session_id: None,
            community_id: None,
            entity_type: None,
            entity_id: None,
            path: None,
            referrer: None,
            metadata: json!({}),
            ip_address: None,
            user_agent: None,
            is_bot: false,
            occurred_at: at.fixed_offset(),
            received_at: at.fixed_offset(),
            audience: json!({}),
        }
    }

    #[test]
    fn only_committed_actor_days_are_known() {
        let (p, q) = (Uuid::new_v4(), Uuid::new_v4());
        let mut days = ActorDays::default();
        let first = vec![
            row(p, Some("u-1"), Some("a-1"), 1),
            row(p, None, Some("a-2"), 1),
        ];
        assert_eq!(days.known(&first), vec![false, false]);
        days.stored(&first);
        let next = vec![
            row(p, Some("u-1"), None, 1), // same actor (the user id wins), same day
            row(p, None, Some("a-1"), 1), // the anonymous id of a signed-in event: not its actor
            row(p, None, Some("a-2"), 2), // next day
            row(q, None, Some("a-2"), 1), // another project
            row(p, None, None, 1),        // no actor at all: nothing to skip
            row(p, None, Some("a-2"), 1), // known
        ];
        assert_eq!(
            days.known(&next),
            vec![true, false, false, false, false, true]
        );
        assert_eq!(days.seen.len(), 2);
    }

    #[test]
    fn a_full_set_starts_over() {
        let p = Uuid::new_v4();
        let mut days = ActorDays::default();
        let many: Vec<activity::Model> = (0..3)
            .map(|i| row(p, None, Some(&format!("a-{i}")), 1))
            .collect();
        days.stored(&many);
        days.seen.extend(0..(MAX_ENTRIES as u64 - 3));
        days.stored(&many[..1]);
        assert_eq!(days.seen.len(), 1, "cleared, then the new entry");
    }
}
