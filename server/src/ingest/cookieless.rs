//! Cookieless visitors (`data-storage="none"`): a browser that stores nothing sends no
//! anonymous or session id, and the edge derives them as a keyed hash of the day's secret salt,
//! the project, the client address and the user agent: the same browser is one visitor across
//! page loads within a UTC day, and its visit is that day's. The salt is random, kept only in
//! Redis under a key per day that expires after 48 hours (so yesterday's late beacons still
//! find theirs), and never stored elsewhere: once it is gone, the ids of that day cannot be
//! linked to an address or to another day's ids.
//!
//! Invariant: derived here, at ingest, from the full client address, before anything truncates
//! it for storage.

use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{NaiveDate, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::redis_conn::RedisConn;

/// How long a day's salt lives in Redis.
const SALT_TTL_SECS: u64 = 48 * 3600;

/// The day's salt, shared by every server through Redis and cached per process for its day.
pub struct DailySalt {
    conn: RedisConn,
    /// Key prefix; the day (`YYYY-MM-DD`) is appended.
    key_prefix: String,
    cached: Mutex<Option<(NaiveDate, String)>>,
}

impl DailySalt {
    pub fn new(conn: RedisConn, key_prefix: String) -> Self {
        Self {
            conn,
            key_prefix,
            cached: Mutex::new(None),
        }
    }

    /// Today's salt (UTC): the one in Redis, made there first if no server has yet.
    pub async fn today(&self) -> Result<String, redis::RedisError> {
        let day = Utc::now().date_naive();
        if let Ok(guard) = self.cached.lock() {
            if let Some((d, salt)) = guard.as_ref() {
                if *d == day {
                    return Ok(salt.clone());
                }
            }
        }
        let key = format!("{}{day}", self.key_prefix);
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut conn = self.conn.clone();
        // SET NX then GET: whichever server comes first makes the day's salt for all.
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(hex::encode(bytes))
            .arg("NX")
            .arg("EX")
            .arg(SALT_TTL_SECS)
            .query_async(&mut conn)
            .await?;
        let salt: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((day, salt.clone()));
        }
        Ok(salt)
    }
}

/// The derived anonymous id and session id of a cookieless browser.
pub fn derive_ids(salt: &str, project: Uuid, ip: IpAddr, user_agent: &str) -> (String, String) {
    let digest = |what: &str| {
        let mut h = Sha256::new();
        for part in [
            salt,
            &project.to_string(),
            &ip.to_string(),
            user_agent,
            what,
        ] {
            h.update(part.as_bytes());
            // A separator no part holds, so ("ab", "c") and ("a", "bc") differ.
            h.update([0u8]);
        }
        hex::encode(&h.finalize()[..12])
    };
    (
        format!("cl-{}", digest("visitor")),
        format!("cl-{}", digest("visit")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_input_and_differ_between_visitor_and_visit() {
        let p = Uuid::from_u128(1);
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        let (a, s) = derive_ids("salt", p, ip, "UA");
        assert_eq!((a.clone(), s.clone()), derive_ids("salt", p, ip, "UA"));
        assert_ne!(a, s);
        assert!(a.starts_with("cl-") && a.len() == 27, "{a}");
        for other in [
            derive_ids("salt2", p, ip, "UA"),
            derive_ids("salt", Uuid::from_u128(2), ip, "UA"),
            derive_ids("salt", p, "203.0.113.10".parse().expect("ip"), "UA"),
            derive_ids("salt", p, ip, "UA2"),
        ] {
            assert_ne!(other.0, a);
        }
    }
}
