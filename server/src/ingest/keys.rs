//! Project-key lookups with a short-lived in-memory cache: ingest must not hit Postgres per
//! request, and unknown keys are cached too so garbage cannot hammer the database. A rotated key
//! stops working within [`TTL`].
//!
//! Known keys and unknown keys are kept apart: known keys are as many as projects have keys,
//! while unknown keys are whatever the internet sends, so they live in an LRU of at most
//! [`MAX_UNKNOWN`] entries. A flood of random keys evicts older unknown keys (each costs one
//! more lookup later) and never grows memory nor pushes a real project's key out.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use lru::LruCache;
use uuid::Uuid;

use crate::storage::{projects, Db, StorageError};

pub const TTL: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 100_000;
/// Unknown keys remembered at once (about 100 bytes each).
pub const MAX_UNKNOWN: usize = 10_000;

/// What ingest needs to know of a project.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub id: Uuid,
    pub allowed_origins: Vec<String>,
}

/// A key's project (None: no such key, cached too) and when it was looked up.
type Entry = (Option<Arc<ProjectInfo>>, Instant);

#[derive(Clone)]
pub struct KeyCache {
    entries: Arc<RwLock<HashMap<String, Entry>>>,
    unknown: Arc<UnknownKeys>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            unknown: Arc::new(UnknownKeys::new(MAX_UNKNOWN)),
        }
    }
}

/// Keys that name no project, most recently seen first, at most `bound` of them.
pub struct UnknownKeys {
    lru: Mutex<LruCache<String, Instant>>,
}

impl UnknownKeys {
    pub fn new(bound: usize) -> Self {
        Self {
            lru: Mutex::new(LruCache::new(
                NonZeroUsize::new(bound).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Whether `key` was found unknown less than [`TTL`] ago.
    pub fn contains(&self, key: &str) -> bool {
        let Ok(mut lru) = self.lru.lock() else {
            return false;
        };
        match lru.get(key) {
            Some(at) if at.elapsed() < TTL => true,
            Some(_) => {
                lru.pop(key);
                false
            }
            None => false,
        }
    }

    /// Remembers `key` as unknown, evicting the least recently seen one when full.
    pub fn insert(&self, key: String) {
        if let Ok(mut lru) = self.lru.lock() {
            lru.put(key, Instant::now());
        }
    }

    /// Forgets `key` (it names a project now).
    fn remove(&self, key: &str) {
        if let Ok(mut lru) = self.lru.lock() {
            lru.pop(key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lru.lock().map(|l| l.len()).unwrap_or_default()
    }
}

#[derive(Clone, Copy)]
pub enum KeyKind {
    Public,
    Secret,
}

impl KeyCache {
    pub async fn lookup(
        &self,
        db: &Db,
        kind: KeyKind,
        key: &str,
    ) -> Result<Option<Arc<ProjectInfo>>, StorageError> {
        let cache_key = match kind {
            KeyKind::Public => format!("p:{key}"),
            KeyKind::Secret => format!("s:{}", projects::hash_secret(key)),
        };
        if self.unknown.contains(&cache_key) {
            return Ok(None);
        }
        let mut stale = None;
        if let Ok(map) = self.entries.read() {
            if let Some((info, at)) = map.get(&cache_key) {
                if at.elapsed() < TTL {
                    return Ok(info.clone());
                }
                stale = Some(info.clone());
            }
        }
        let lookup = match kind {
            KeyKind::Public => projects::by_public_key(db, key).await,
            KeyKind::Secret => projects::by_secret_key(db, key).await,
        };
        let found = match lookup {
            Ok(found) => found,
            // Postgres is down: keep accepting for keys we knew (ingest only needs Redis), so an
            // outage of the database does not become an outage of collection.
            Err(e) if e.is_transient() && stale.is_some() => {
                let info = stale.flatten();
                // Re-arm the entry: while the database is away, do not pay a connect timeout on
                // every request.
                if let Ok(mut map) = self.entries.write() {
                    map.insert(cache_key, (info.clone(), Instant::now()));
                }
                return Ok(info);
            }
            Err(e) => return Err(e),
        };
        let Some(p) = found else {
            // A key that stopped working (rotated) leaves the known map for the bounded one.
            if let Ok(mut map) = self.entries.write() {
                map.remove(&cache_key);
            }
            self.unknown.insert(cache_key);
            return Ok(None);
        };
        let info = Arc::new(ProjectInfo {
            id: p.id,
            allowed_origins: p.allowed_origins,
        });
        self.unknown.remove(&cache_key);
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (_, at)| at.elapsed() < TTL);
            }
            map.insert(cache_key, (Some(info.clone()), Instant::now()));
        }
        Ok(Some(info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_random_keys_stays_at_the_bound() {
        let unknown = UnknownKeys::new(100);
        for _ in 0..10_000 {
            unknown.insert(format!("p:{}", Uuid::new_v4()));
        }
        assert_eq!(unknown.len(), 100);
        // The most recent keys are the ones kept.
        let last = "p:last".to_string();
        unknown.insert(last.clone());
        assert!(unknown.contains(&last));
        assert_eq!(unknown.len(), 100);
    }
}
