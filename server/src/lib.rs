//! Sightline's server: ingest, queue, worker, GraphQL API and CLI, as a library with a thin
//! `main`, so integration tests run the real application on a random port.
//!
//! Module map (request flow order):
//! - [`config`]: typed settings, loaded once.
//! - [`event`]: the event type and its validation/sanitizing (the trust boundary).
//! - [`ingest`]: HTTP ingest endpoints, limits, key lookups.
//! - [`queue`]: the Redis queue in BullMQ's wire format (Lua scripts), group-commit enqueuer.
//! - [`worker`]: the consumer that writes batches to Postgres, and periodic maintenance.
//! - [`storage`]: Postgres connections and the SQL for writes and tenant records.
//! - [`live`]: Redis pub/sub live feed (publisher and per-process fan-out hub).
//! - [`auth`]: JWT and passwords, roles and project scoping.
//! - [`analytics`]: the read-side queries (rollups first, raw rows for drill-down).
//! - [`graphql`]: the GraphQL schema and transport.
//! - [`telemetry`]: tracing and Prometheus metrics.
//! - [`generate`]: synthetic history for a project (`sightline generate`).
//! - [`loadgen`]: the load generator behind `sightline loadgen` and the benchmark; [`bench`]: the
//!   benchmark with its physical references (`sightline bench`).
//! - [`app`]: startup and lifecycle; [`cli`]: the command line; [`demo`]: the demo site server.

pub mod analytics;
pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod event;
pub mod generate;
pub mod graphql;
pub mod ingest;
pub mod live;
pub mod loadgen;
pub mod queue;
pub mod storage;
pub mod telemetry;
pub mod worker;
