//! Revocation of account tokens: a token `login` issued names its account (`aid`) and the
//! account's token version then (`ver`). Each request's token is checked against the
//! account: refused when the account is gone, disabled, or its version has moved on (a role
//! change, a password reset, "sign out everywhere").
//!
//! The account's state is cached for [`CACHE_TTL`] per process, so a revocation takes effect at
//! once in the process that made it ([`Revocation::forget`]) and within a few seconds in the
//! others. Tokens without `ver` (issued by `sightline token` for scripts and services) name no
//! account and are not checked here: they end at their expiry or when the signing key changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Principal;
use crate::storage::{accounts, Db};

/// How long a process trusts what it read of an account.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// Past this many cached accounts, expired entries are dropped on the next read.
const PRUNE_AT: usize = 10_000;

/// What a token is checked against; `None` in the cache: no such account.
#[derive(Debug, Clone, Copy)]
struct AccountState {
    version: i32,
    disabled: bool,
}

pub struct Revocation {
    db: Db,
    cache: Mutex<HashMap<Uuid, (Instant, Option<AccountState>)>>,
}

impl Revocation {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Why the token of `who` no longer counts, if it does not.
    pub async fn check(&self, who: &Principal) -> Result<(), String> {
        let Some(account) = who.account else {
            return Ok(());
        };
        let state = match self.cached(account.id) {
            Some(state) => state,
            None => {
                let state = accounts::by_id(&self.db, account.id)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "token check: cannot read the account");
                        "the token cannot be checked now: retry".to_string()
                    })?
                    .map(|a| AccountState {
                        version: a.token_version,
                        disabled: a.disabled_at.is_some(),
                    });
                self.remember(account.id, state);
                state
            }
        };
        match state {
            None => Err("the token's account no longer exists".into()),
            Some(s) if s.disabled => Err("the token's account is disabled".into()),
            Some(s) if s.version != account.version => {
                Err("the token was revoked: sign in again".into())
            }
            Some(_) => Ok(()),
        }
    }

    /// Drops what this process knows of the account (after changing it).
    pub fn forget(&self, account: Uuid) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&account);
        }
    }

    fn cached(&self, account: Uuid) -> Option<Option<AccountState>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(&account)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, state)| *state)
    }

    fn remember(&self, account: Uuid, state: Option<AccountState>) {
        // A std Mutex: held for a map operation, never across an await.
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= PRUNE_AT {
                cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            }
            cache.insert(account, (Instant::now(), state));
        }
    }
}
