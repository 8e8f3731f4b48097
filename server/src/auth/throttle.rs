//! Login throttling: failed logins counted per account and per client IP in Redis, so every
//! server process shares the counts. Past the limit of a window the account (or IP) is locked
//! for a while that doubles with each further failure (`lua/login_failed.lua`); while locked,
//! `login` is refused before any password is checked, with the seconds left as a retry hint.
//!
//! Accounts are keyed by a hash of the normalized email (unknown emails too, so a refusal says
//! nothing about which emails have accounts, and Redis holds no email address). A successful
//! login clears its account's count; an IP's count only expires.

use std::net::IpAddr;

use redis::{AsyncCommands, Script};
use sha2::{Digest, Sha256};

use crate::config::{LoginLimit, LoginSettings};
use crate::redis_conn::RedisConn;

/// What is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Account,
    Ip,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Ip => "ip",
        }
    }
}

/// A refusal: what is locked and for how many more seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub scope: Scope,
    pub retry_after_secs: u64,
}

pub struct LoginThrottle {
    conn: RedisConn,
    /// `<queue prefix>:login:`: each test's (and deployment's) keys apart.
    base: String,
    settings: LoginSettings,
    failed: Script,
}

impl LoginThrottle {
    pub fn new(conn: RedisConn, key_prefix: &str, settings: &LoginSettings) -> Self {
        Self {
            conn,
            base: format!("{key_prefix}:login:"),
            settings: settings.clone(),
            failed: Script::new(include_str!("lua/login_failed.lua")),
        }
    }

    /// The counter and lock keys of one subject. The braces are a Redis Cluster hash tag: both
    /// keys of the script live in one slot.
    fn keys(&self, scope: Scope, subject: &str) -> (String, String) {
        let tag = format!("{}{{{}:{subject}}}", self.base, scope.as_str());
        (format!("{tag}:n"), format!("{tag}:lock"))
    }

    fn subjects(&self, email: &str, ip: Option<IpAddr>) -> Vec<(Scope, String, LoginLimit)> {
        let mut out = vec![(
            Scope::Account,
            account_subject(email),
            self.settings.account,
        )];
        if let Some(ip) = ip {
            out.push((Scope::Ip, ip.to_string(), self.settings.ip));
        }
        out
    }

    /// The lock that refuses this login now, if any (the longest when both are locked).
    pub async fn check(
        &self,
        email: &str,
        ip: Option<IpAddr>,
    ) -> Result<Option<Locked>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let mut worst: Option<Locked> = None;
        for (scope, subject, _) in self.subjects(email, ip) {
            let (_, lock) = self.keys(scope, &subject);
            let ms: i64 = conn.pttl(&lock).await?;
            worst = longer(worst, scope, (ms.max(0) as u64).div_ceil(1000));
        }
        Ok(worst)
    }

    /// Counts a failed login against the account and the IP; returns the lock it started, if
    /// any.
    pub async fn failed(
        &self,
        email: &str,
        ip: Option<IpAddr>,
    ) -> Result<Option<Locked>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let mut worst: Option<Locked> = None;
        for (scope, subject, limit) in self.subjects(email, ip) {
            let (n, lock) = self.keys(scope, &subject);
            let secs: u64 = self
                .failed
                .key(n)
                .key(lock)
                .arg(limit.window.as_secs().max(1))
                .arg(limit.failures)
                .arg(limit.first_lock.as_secs().max(1))
                .arg(limit.longest_lock.as_secs().max(1))
                .invoke_async(&mut conn)
                .await?;
            worst = longer(worst, scope, secs);
        }
        Ok(worst)
    }

    /// A successful login clears its account's failures (the IP's expire on their own).
    pub async fn succeeded(&self, email: &str) -> Result<(), redis::RedisError> {
        let (n, lock) = self.keys(Scope::Account, &account_subject(email));
        let mut conn = self.conn.clone();
        let _: i64 = conn.del(&[n, lock]).await?;
        Ok(())
    }
}

/// The longer of `worst` and a lock of `scope` for `secs` (0: not locked).
fn longer(worst: Option<Locked>, scope: Scope, secs: u64) -> Option<Locked> {
    if secs > 0 && worst.is_none_or(|w| w.retry_after_secs < secs) {
        Some(Locked {
            scope,
            retry_after_secs: secs,
        })
    } else {
        worst
    }
}

/// The account's key: a hash of the email as login normalizes it.
fn account_subject(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_ascii_lowercase().as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    #[test]
    fn accounts_are_keyed_by_the_normalized_email() {
        assert_eq!(
            super::account_subject(" Ana@Example.com "),
            super::account_subject("ana@example.com")
        );
        assert_ne!(
            super::account_subject("ana@example.com"),
            super::account_subject("bob@example.com")
        );
    }
}
