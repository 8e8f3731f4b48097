//! Project-key lookups with a short-lived in-memory cache: ingest must not hit Postgres per
//! request, and unknown keys are cached too so garbage cannot hammer the database. A rotated key
//! stops working within [`TTL`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::storage::{projects, Db, StorageError};

pub const TTL: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 100_000;

/// What ingest needs to know of a project.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub id: Uuid,
    pub allowed_origins: Vec<String>,
}

/// A key's project (None: no such key, cached too) and when it was looked up.
type Entry = (Option<Arc<ProjectInfo>>, Instant);

#[derive(Clone, Default)]
pub struct KeyCache {
    entries: Arc<RwLock<HashMap<String, Entry>>>,
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
        let info = found.map(|p| {
            Arc::new(ProjectInfo {
                id: p.id,
                allowed_origins: p.allowed_origins,
            })
        });
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (_, at)| at.elapsed() < TTL);
            }
            map.insert(cache_key, (info.clone(), Instant::now()));
        }
        Ok(info)
    }
}
