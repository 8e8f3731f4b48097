//! Integration tests: the real application against real PostgreSQL and Redis.
//! Run through `./scripts/test`, which starts both and exports TEST_DATABASE_URL / TEST_REDIS_URL.

mod helpers;

mod analytics;
mod analytics_plans;
mod audience;
mod bench;
mod compose;
mod config_cli;
mod foundation;
mod graphql_access;
mod graphql_http;
mod ingest;
mod live_feed;
mod observability;
mod queue;
mod schema_doc;
mod storage_archive;
mod storage_partitions;
mod storage_plans;
