//! Integration tests: the real application against real PostgreSQL and Redis.
//! Run through `./scripts/test`, which starts both and exports TEST_DATABASE_URL / TEST_REDIS_URL.

mod helpers;

mod analytics;
mod analytics_plans;
mod api_limits;
mod audience;
mod audit_log;
mod bench;
mod compose;
mod config_cli;
mod edge_guards;
mod engagement;
mod existing_guards;
mod foundation;
mod graphql_access;
mod graphql_http;
mod ground_truth;
mod ingest;
mod live_feed;
mod login_guards;
mod observability;
mod queue;
mod revocation;
mod rollup_oracle;
mod schema_doc;
mod session_cookie;
mod share_links;
mod storage_archive;
mod storage_partitions;
mod storage_plans;
