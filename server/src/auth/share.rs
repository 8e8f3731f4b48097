//! Shared links: a secret token that makes its bearer a read-only viewer of one project, with
//! no login (the dashboard's `#/share/<token>` page sends it as the `X-Sightline-Share` header).
//!
//! A token is `shr_` and 32 random bytes in hex; the database keeps only its SHA-256
//! (`storage::share_links`), so a leak of the table gives no working link. Each request's token
//! is looked up ([`ShareLinks::principal`]), and what a process read of a link is cached for
//! [`CACHE_TTL`]: a revocation takes effect at once in the process that made it
//! ([`ShareLinks::forget`]) and within that time in the others. Unknown tokens are not cached
//! (random tokens cannot fill the memory); they cost one indexed lookup each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Principal, Role};
use crate::storage::{share_links, Db};

/// How long a process trusts what it read of a link (its project, whether it is revoked).
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// What every token starts with (so a token in a log or a chat says what it is).
pub const PREFIX: &str = "shr_";

/// Past this many cached links, expired entries are dropped on the next read (and all of them
/// when none has expired).
const PRUNE_AT: usize = 10_000;

/// A new token and the hash to store (the token itself is shown once and never stored).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    let hash = hash(&token);
    (token, hash)
}

/// SHA-256 (hex) of a token: how it is stored and looked up.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of one ([`PREFIX`] and 64 lower-case hex digits): anything
/// else is refused without a database lookup.
pub fn well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// A link as a request's check needs it.
#[derive(Debug, Clone, Copy)]
struct LinkState {
    id: Uuid,
    project: Uuid,
    revoked: bool,
}

pub struct ShareLinks {
    db: Db,
    /// By token hash.
    cache: Mutex<HashMap<String, (Instant, LinkState)>>,
}

impl ShareLinks {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The principal a request carrying `token` acts as: a viewer of the link's project, read
    /// only ([`Principal::shared_link`]). The error says why not (unknown, revoked, or the
    /// database could not be asked).
    pub async fn principal(&self, token: &str) -> Result<Principal, String> {
        const UNKNOWN: &str = "this shared link is unknown or was revoked";
        let token = token.trim();
        if !well_formed(token) {
            return Err(UNKNOWN.into());
        }
        let key = hash(token);
        let state = match self.cached(&key) {
            Some(state) => state,
            None => {
                let found = share_links::by_token_hash(&self.db, &key)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "shared link check: cannot read the link");
                        "the shared link cannot be checked now: retry".to_string()
                    })?;
                let Some(link) = found else {
                    return Err(UNKNOWN.into());
                };
                let state = LinkState {
                    id: link.id,
                    project: link.project_id,
                    revoked: link.revoked_at.is_some(),
                };
                self.remember(key, state);
                state
            }
        };
        if state.revoked {
            return Err(UNKNOWN.into());
        }
        Ok(Principal::shared_link(state.id, state.project))
    }

    /// Drops what this process knows of the link (after revoking it).
    pub fn forget(&self, link: Uuid) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (_, s)| s.id != link);
        }
    }

    fn cached(&self, key: &str) -> Option<LinkState> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, s)| *s)
    }

    fn remember(&self, key: String, state: LinkState) {
        // A std Mutex: held for a map operation, never across an await.
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= PRUNE_AT {
                cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
                if cache.len() >= PRUNE_AT {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now(), state));
        }
    }
}

impl Principal {
    /// The caller a shared link makes: a viewer of its one project that may only read.
    pub fn shared_link(link: Uuid, project: Uuid) -> Self {
        Principal {
            subject: format!("share-link:{link}"),
            role: Role::Viewer,
            projects: Some(vec![project]),
            account: None,
            shared_link: Some(link),
            expires_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_stored_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b), "{a}");
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_eq!(ha, hash(&a));
        assert_ne!(ha, hb);
        assert!(!ha.contains(&a[PREFIX.len()..]));
        for bad in [
            "",
            "shr_",
            &a[..a.len() - 1],
            a.to_uppercase().as_str(),
            format!("{a}0").as_str(),
            a.replace(PREFIX, "sk_").as_str(),
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_shared_links_principal_views_its_project_only() {
        let (link, project) = (Uuid::new_v4(), Uuid::new_v4());
        let p = Principal::shared_link(link, project);
        assert!(p.require(Role::Viewer, Some(project)).is_ok());
        assert!(p.require(Role::Viewer, Some(Uuid::new_v4())).is_err());
        assert!(p.require(Role::Analyst, Some(project)).is_err());
        assert!(p.require(Role::Service, Some(project)).is_err());
        assert_eq!(p.require_change(), Err(super::super::Denied::ReadOnly));
    }
}
