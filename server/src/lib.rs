//! Sightline's server: ingest, queue, worker, GraphQL API, as a library with a thin binary
//! (`main.rs`, whose `cli` and `tools` modules are not part of this library), so integration
//! tests run the real application on a random port.
//!
//! Module map (request flow order); dependencies point one way, down this list's arrows:
//! `ingest -> queue`, `worker -> queue, storage, live`, `graphql -> ingest, analytics, storage`,
//! `analytics -> storage`; only [`app`] assembles them.
//! - [`config`]: typed settings, loaded once.
//! - [`event`]: the event type and its validation/sanitizing (the trust boundary).
//! - [`domain`]: validated values of tenant records and commands (names, origins, emails...).
//! - [`ingest`]: HTTP ingest endpoints and [`ingest::Intake`], limits, key lookups.
//! - [`queue`]: the Redis queue in BullMQ's wire format (Lua scripts), group-commit enqueuer.
//! - [`worker`]: the consumer that writes batches to Postgres, and periodic maintenance.
//! - [`storage`]: Postgres connections and the SQL for writes and tenant records.
//! - [`live`]: Redis pub/sub live feed (publisher and per-process fan-out hub).
//! - [`auth`]: JWT and passwords, roles and project scoping, the OpenID Connect protocol.
//! - [`sso`]: single sign-on's HTTP routes (`/auth/oidc/*`): the provider's identity to an
//!   account and a dashboard session.
//! - [`analytics`]: the read-side queries (rollups first, raw rows for drill-down).
//! - [`graphql`]: the GraphQL schema, its context and transport.
//! - [`export`]: the raw export endpoint (`GET /api/v1/export`), streaming `storage::export`.
//! - [`redis_conn`]: one Redis connection type (single server or cluster) for queue and live.
//! - [`enrich`]: audience dimensions (device, country, source/channel, screen, language) from
//!   an event's user agent, IP, referrer and URL; knows nothing of HTTP or storage.
//! - [`clock`]: the millisecond wall clock of jobs and ingest.
//! - [`telemetry`]: tracing and Prometheus metrics.
//! - [`privacy`]: what of visitors' IP addresses a project stores.
//! - [`edge`]: what every HTTP request passes through (body limits, security headers).
//! - [`client_ip`]: the client's address behind trusted reverse proxies.
//! - [`app`]: startup and lifecycle, the one place that assembles the parts.

pub mod analytics;
pub mod app;
pub mod auth;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod domain;
pub mod edge;
pub mod enrich;
pub mod event;
pub mod export;
pub mod graphql;
pub mod ingest;
pub mod live;
pub mod privacy;
pub mod queue;
pub mod redis_conn;
pub mod sso;
pub mod storage;
pub mod telemetry;
pub mod worker;
