//! Each project's [`IpStorage`], cached for the worker: looked up once per project per
//! [`TTL`], so a change through `updateProject` applies to events stored from then on (within
//! the TTL), and a batch costs no extra query.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::privacy::IpStorage;
use crate::storage::{projects, Db};

pub const TTL: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct IpPolicies {
    known: Mutex<HashMap<Uuid, (IpStorage, Instant)>>,
}

impl IpPolicies {
    /// The project's policy. When the database cannot say, the last known one, else the
    /// default (truncated): never more than the project allowed.
    pub async fn get(&self, db: &Db, project: Uuid) -> IpStorage {
        let cached = self
            .known
            .lock()
            .ok()
            .and_then(|m| m.get(&project).copied());
        if let Some((policy, at)) = cached {
            if at.elapsed() < TTL {
                return policy;
            }
        }
        match projects::ip_storage(db, project).await {
            Ok(found) => {
                let policy = found.unwrap_or_default();
                if let Ok(mut m) = self.known.lock() {
                    // Projects are few; the bound only guards against a flood of unknown ids.
                    if m.len() >= 100_000 {
                        m.clear();
                    }
                    m.insert(project, (policy, Instant::now()));
                }
                policy
            }
            Err(e) => {
                tracing::warn!(%project, error = %e, "cannot read the project's IP storage; keeping the last known");
                cached.map(|(p, _)| p).unwrap_or_default()
            }
        }
    }
}
