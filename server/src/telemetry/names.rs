//! Every metric Sightline emits. Prometheus names; labels noted beside each.

/// Events accepted at ingest (label: endpoint).
pub const INGEST_EVENTS_ACCEPTED: &str = "sightline_ingest_events_accepted_total";
/// Events or requests refused at ingest (labels: endpoint, reason).
pub const INGEST_REJECTED: &str = "sightline_ingest_rejected_total";
/// Beacons from an origin outside the project's allowed list.
pub const INGEST_ORIGIN_REFUSED: &str = "sightline_ingest_origin_refused_total";
/// Events dropped as spam (one anonymous id sending implausibly fast).
pub const INGEST_SPAM_DROPPED: &str = "sightline_ingest_spam_dropped_total";
/// Events tagged as bot traffic.
pub const INGEST_BOT_EVENTS: &str = "sightline_ingest_bot_events_total";
/// HTTP request latency (labels: method, path, status).
pub const HTTP_REQUEST_SECONDS: &str = "sightline_http_request_duration_seconds";
/// Requests per group-committed Redis write.
pub const ENQUEUE_GROUP_SIZE: &str = "sightline_enqueue_group_size";
/// Duration of one group-committed Redis write (every request in the group waits for it).
pub const ENQUEUE_WRITE_SECONDS: &str = "sightline_enqueue_write_duration_seconds";
/// Queue depth by state (label: state = wait, active, delayed, completed, failed), sampled.
pub const QUEUE_JOBS: &str = "sightline_queue_jobs";
/// 1 while the queue is paused (`sightline queue pause`): workers store nothing.
pub const QUEUE_PAUSED: &str = "sightline_queue_paused";
/// Jobs per worker batch.
pub const WORKER_BATCH_JOBS: &str = "sightline_worker_batch_size";
/// Events newly stored / skipped as already stored.
pub const WORKER_EVENTS_STORED: &str = "sightline_worker_events_stored_total";
pub const WORKER_EVENTS_DUPLICATE: &str = "sightline_worker_events_duplicate_total";
/// Events in jobs that failed validation in the worker (non-Sightline producers).
pub const WORKER_INVALID_EVENTS: &str = "sightline_worker_invalid_events_total";
pub const WORKER_JOBS_RETRIED: &str = "sightline_worker_jobs_retried_total";
pub const WORKER_JOBS_DEAD_LETTERED: &str = "sightline_worker_jobs_dead_lettered_total";
pub const WORKER_STALLED_RECOVERED: &str = "sightline_worker_stalled_recovered_total";
/// Duration of the worker's database write per batch.
pub const DB_WRITE_SECONDS: &str = "sightline_db_write_duration_seconds";
/// Seconds between an event's receipt and the newest stored receipt time (rollup lag).
pub const ROLLUP_LAG_SECONDS: &str = "sightline_rollup_lag_seconds";
/// Open GraphQL subscriptions.
pub const SUBSCRIPTIONS_OPEN: &str = "sightline_subscriptions_open";
/// Live events skipped for subscribers too slow to keep up (counter).
pub const LIVE_LAGGED: &str = "sightline_live_lagged_events_total";
/// Unexpected errors (label: where).
pub const ERRORS: &str = "sightline_errors_total";
/// Logins refused (label: reason = password, locked_account, locked_ip, busy, disabled).
pub const LOGIN_REFUSED: &str = "sightline_login_refused_total";
/// Requests refused with 413 before their body was read (a declared length over the limit).
pub const HTTP_BODY_TOO_LARGE: &str = "sightline_http_body_too_large_total";
/// GraphQL queries and subscriptions refused by a cap (per project, per WebSocket).
pub const GRAPHQL_QUERIES_REFUSED: &str = "sightline_graphql_refused_total";
