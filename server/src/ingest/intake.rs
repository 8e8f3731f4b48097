//! [`Intake`]: what accepting events takes (the limits, the project-key cache and the queue's
//! enqueuer) and the one [`Intake::accept`] behind both HTTP endpoints and the GraphQL
//! `trackEvents` mutation.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::cookieless::{derive_ids, DailySalt};
use super::keys::{KeyCache, KeyKind, ProjectInfo};
use super::limits::Limits;
use super::IngestError;
use crate::clock::now_ms;
use crate::config::IngestSettings;
use crate::event::{is_bot_user_agent, Dialect, Event, Validator};
use crate::queue::{Enqueuer, QueueError, Submission};
use crate::storage::Db;
use crate::telemetry::names;

/// One refused event of an otherwise accepted batch.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub reason: String,
}

/// The answer to an accepted batch (HTTP 202).
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
}

/// A batch as its producer sent it, with what the edge knows of the sender.
pub struct Batch {
    pub events: Vec<Value>,
    pub dialect: Dialect,
    /// The sender's address (browser beacons), after the trusted-proxy rule.
    pub ip: Option<IpAddr>,
    /// The sender's user agent (browser beacons), bounded.
    pub user_agent: Option<String>,
    /// Metric label of the producer: `collect`, `track` or `graphql`.
    pub endpoint: &'static str,
}

/// Accepting events: checks, limits and the hand-off to the queue. Shared (`Arc`) by the
/// HTTP handlers and the GraphQL context.
pub struct Intake {
    settings: IngestSettings,
    db: Db,
    keys: KeyCache,
    limits: Limits,
    enqueuer: Enqueuer,
    /// The day's salt for cookieless browsers' ids.
    salt: DailySalt,
}

impl Intake {
    pub fn new(settings: IngestSettings, db: Db, enqueuer: Enqueuer, salt: DailySalt) -> Self {
        Self {
            salt,
            limits: Limits::new(&settings),
            keys: KeyCache::default(),
            settings,
            db,
            enqueuer,
        }
    }

    pub fn settings(&self) -> &IngestSettings {
        &self.settings
    }

    /// The per-IP request limit, checked first by the HTTP handlers.
    pub fn allow_ip(&self, ip: IpAddr) -> bool {
        self.limits.allow_ip(ip)
    }

    /// Drops idle rate-limit state (called every minute by the server).
    pub fn prune(&self) {
        self.limits.prune();
    }

    /// The project of a public or secret key, from the cache when fresh.
    pub async fn project(&self, kind: KeyKind, key: &str) -> Result<Arc<ProjectInfo>, IngestError> {
        if key.len() > 128 {
            return Err(IngestError::UnknownKey);
        }
        match self.keys.lookup(&self.db, kind, key).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(IngestError::UnknownKey),
            Err(e) => {
                tracing::warn!(error = %e, "project lookup failed");
                Err(IngestError::Unavailable)
            }
        }
    }

    /// Validates a batch and enqueues its valid events as one job; answers once Redis holds it.
    pub async fn accept(
        &self,
        project: &ProjectInfo,
        batch: Batch,
    ) -> Result<Accepted, IngestError> {
        let Batch {
            events,
            dialect,
            ip,
            user_agent,
            endpoint,
        } = batch;
        let max = self.settings.max_events;
        if events.len() > max {
            return Err(IngestError::TooManyEvents {
                got: events.len(),
                max,
            });
        }
        if events.is_empty() {
            return Err(IngestError::Malformed("batch has no events".into()));
        }
        if !self.limits.allow_project_events(project.id, events.len()) {
            return Err(IngestError::RateLimited {
                retry_after_secs: 1,
            });
        }
        let now = now_ms();
        let validator = Validator::new(now, &self.settings);
        let bot =
            dialect == Dialect::Browser && user_agent.as_deref().is_none_or(is_bot_user_agent);
        let (mut checked, mut rejected) = validate_events(&validator, events, dialect);
        // Browsers that store nothing (`data-storage="none"`) send neither an anonymous nor a
        // session id: derive both from the day's salt and the full address, before anything
        // else (after `identify` too, so the visitor is one person across the sign-in). An event
        // that carries a visit id of its own is not such a browser's: deriving a visitor for it
        // would make every signed-in person behind one address one visitor, and one spam bucket.
        let cookieless = |e: &Event| e.anonymous_id.is_none() && e.session_id.is_none();
        if dialect == Dialect::Browser && checked.iter().any(|(_, e)| cookieless(e)) {
            if let Some(ip) = ip {
                let salt = self.salt.today().await.map_err(|e| {
                    tracing::warn!(error = %e, "cannot read the cookieless salt");
                    IngestError::Unavailable
                })?;
                let (anon, visit) =
                    derive_ids(&salt, project.id, ip, user_agent.as_deref().unwrap_or(""));
                for (_, ev) in checked.iter_mut().filter(|(_, e)| cookieless(e)) {
                    ev.anonymous_id = Some(anon.clone());
                    ev.session_id = Some(visit.clone());
                }
            }
        }
        let mut valid: Vec<Event> = Vec::with_capacity(checked.len());
        for (index, mut ev) in checked {
            if let Some(anon) = ev.anonymous_id.as_deref() {
                if !self.limits.allow_anonymous(project.id, anon) {
                    metrics::counter!(names::INGEST_SPAM_DROPPED).increment(1);
                    rejected.push(Rejection {
                        index,
                        reason: "spam: too many events from this anonymous id".into(),
                    });
                    continue;
                }
            }
            ev.bot = bot;
            valid.push(ev);
        }
        rejected.sort_by_key(|r| r.index);
        if valid.is_empty() {
            return Err(IngestError::NothingValid(rejected));
        }
        if bot {
            metrics::counter!(names::INGEST_BOT_EVENTS).increment(valid.len() as u64);
        }
        let accepted = valid.len();
        let submission = Submission {
            project_id: project.id,
            received_at: now,
            ip: ip.map(|i| i.to_string()),
            user_agent,
            events: valid,
        };
        match self.enqueuer.enqueue(submission).await {
            Ok(()) => {}
            Err(QueueError::Full { .. }) => return Err(IngestError::QueueFull),
            Err(e) => {
                tracing::warn!(error = %e, "enqueue failed");
                metrics::counter!(names::ERRORS, "where" => "enqueue").increment(1);
                return Err(IngestError::Unavailable);
            }
        }
        metrics::counter!(names::INGEST_EVENTS_ACCEPTED, "endpoint" => endpoint)
            .increment(accepted as u64);
        if !rejected.is_empty() {
            metrics::counter!(names::INGEST_REJECTED, "reason" => "invalid_event")
                .increment(rejected.len() as u64);
        }
        Ok(Accepted { accepted, rejected })
    }
}

/// Splits events into valid ones (with their index in the batch) and listed rejections.
/// Pure (no limits, no I/O).
pub fn validate_events(
    validator: &Validator,
    events: Vec<Value>,
    dialect: Dialect,
) -> (Vec<(usize, Event)>, Vec<Rejection>) {
    let mut valid = Vec::with_capacity(events.len());
    let mut rejected = Vec::new();
    for (index, value) in events.into_iter().enumerate() {
        match validator.event(value, dialect) {
            Ok(ev) => valid.push((index, ev)),
            Err(why) => rejected.push(Rejection {
                index,
                reason: why.to_string(),
            }),
        }
    }
    (valid, rejected)
}
