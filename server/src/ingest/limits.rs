//! Rate limits (token buckets): per project key (events/s), per client IP (requests/s), and per
//! anonymous id (events/s) for spam. Keyed state is pruned periodically so memory stays bounded.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::IngestSettings;

#[derive(Clone)]
pub struct Limits {
    per_key: Arc<DefaultKeyedRateLimiter<Uuid>>,
    per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Keyed by a 64-bit hash of (project, anonymous id): hundreds of thousands of visitors must
    /// not mean hundreds of thousands of owned strings.
    per_anon: Arc<DefaultKeyedRateLimiter<u64>>,
    hasher: std::collections::hash_map::RandomState,
}

fn quota(per_second: u32) -> Quota {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    // Bursts of two seconds' worth are fine: beacons arrive in clumps (page hide).
    let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limits {
    pub fn new(s: &IngestSettings) -> Self {
        Self {
            per_key: Arc::new(RateLimiter::keyed(quota(s.rate_per_key))),
            per_ip: Arc::new(RateLimiter::keyed(quota(s.rate_per_ip))),
            per_anon: Arc::new(RateLimiter::keyed(quota(s.rate_per_anon))),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub fn allow_ip(&self, ip: IpAddr) -> bool {
        self.per_ip.check_key(&ip).is_ok()
    }

    /// `events` more events for the project? A batch larger than the whole burst is refused.
    pub fn allow_project_events(&self, project: Uuid, events: usize) -> bool {
        let n = NonZeroU32::new(events.min(u32::MAX as usize) as u32).unwrap_or(NonZeroU32::MIN);
        matches!(self.per_key.check_key_n(&project, n), Ok(Ok(())))
    }

    /// One more event for this anonymous id? `false` marks it as spam.
    pub fn allow_anonymous(&self, project: Uuid, anonymous_id: &str) -> bool {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.hasher.build_hasher();
        project.hash(&mut h);
        anonymous_id.hash(&mut h);
        self.per_anon.check_key(&h.finish()).is_ok()
    }

    /// Drops state for keys that are back to a full bucket.
    pub fn prune(&self) {
        self.per_key.retain_recent();
        self.per_ip.retain_recent();
        self.per_anon.retain_recent();
    }
}
