//! PostgreSQL access: connections, and one module per concern that owns its SQL.
//!
//! Invariant: HTTP handlers and GraphQL resolvers never write SQL; they call into `storage` (for
//! writes and tenant records) or `analytics` (for queries). Bulk paths use sqlx directly through
//! SeaORM's pool, so there is a single sqlx/tokio stack.

/// The dimensions an event is counted under in `rollup_hour`/`rollup_day`, as a `VALUES` list
/// over a row alias `i`: written once, used by the write statement (`events`) and by the
/// recount (`rollups`), so both always agree on what a rollup row means.
macro_rules! rollup_dims_sql {
    () => {
        "(VALUES
        ('', ''),
        ('path', i.path),
        ('element', CASE WHEN i.event_type = 'element.click'
                         THEN COALESCE(i.metadata->>'selector', i.entity_id) END),
        ('referrer', CASE WHEN i.event_type = 'page.view'
                          THEN substring(i.referrer FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+') END),
        ('entity_type', i.entity_type)
    ) AS d(dim, key)"
    };
}

/// Events per hour cell (`project_id, hour, event_type, dim, key, n`) of the rows of the CTE
/// named by the argument (`ins` for the write statement, `del` for the purge): counted once and
/// shared by the `rollup_hour` and `rollup_day` upserts (day cells are sums of hour cells), so
/// neither statement counts the per-event dimensions twice.
macro_rules! rollup_hour_cells_sql {
    ($rows:literal) => {
        concat!(
            "SELECT i.project_id, date_trunc('hour', i.occurred_at, 'UTC') AS hour, i.event_type, d.dim, d.key,
           count(*) AS n
    FROM ",
            $rows,
            " i CROSS JOIN LATERAL ",
            rollup_dims_sql!(),
            "
    WHERE d.key IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5"
        )
    };
}

/// A scroll report's aggregates (views, depth_sum, reached25..100) over rows with `depth` and
/// `prev` (each clamped to 0..100): shared like [`rollup_dims_sql`].
macro_rules! rollup_scroll_sums_sql {
    () => {
        "count(*) FILTER (WHERE prev = 0) AS views, sum(GREATEST(depth - prev, 0)) AS depth_sum,
           count(*) FILTER (WHERE prev < 25 AND depth >= 25) AS r25, count(*) FILTER (WHERE prev < 50 AND depth >= 50) AS r50,
           count(*) FILTER (WHERE prev < 75 AND depth >= 75) AS r75, count(*) FILTER (WHERE prev < 100 AND depth >= 100) AS r100"
    };
}

pub mod accounts;
pub mod archive;
pub mod events;
pub mod partitions;
pub mod projects;
pub mod retention;
pub mod rollups;
pub mod users;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sqlx::PgPool;

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
    /// The archive store failed, or an archive does not match what was exported.
    #[error("archive: {0}")]
    Archive(String),
}

impl StorageError {
    /// Errors that are about the database being unreachable or busy, not about the data: the
    /// same write will succeed later, so the worker waits instead of spending attempts.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Sqlx(e) => sqlx_transient(e),
            StorageError::Db(DbErr::Conn(_)) | StorageError::Db(DbErr::ConnectionAcquire(_)) => {
                true
            }
            StorageError::Db(DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)))
            | StorageError::Db(DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))) => {
                sqlx_transient(e)
            }
            _ => false,
        }
    }
}

fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // 08: connection exception; 40: serialization failure / deadlock; 53: insufficient
            // resources; 57: operator intervention (shutdown); 58: system error.
            ["08", "40", "53", "57", "58"]
                .iter()
                .any(|c| code.starts_with(c))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// The primary (all writes) and the connection analytics reads use (a replica when configured).
#[derive(Clone, Debug)]
pub struct Db {
    pub primary: DatabaseConnection,
    pub read: DatabaseConnection,
}

impl Db {
    pub async fn connect(settings: &Settings) -> Result<Self, StorageError> {
        let primary = connect_one(settings.database_url.expose(), settings.database_pool).await?;
        let read = match &settings.database_read_url {
            Some(url) => connect_one(url.expose(), settings.database_pool).await?,
            None => primary.clone(),
        };
        Ok(Self { primary, read })
    }

    pub fn pool(&self) -> &PgPool {
        self.primary.get_postgres_connection_pool()
    }

    pub fn read_pool(&self) -> &PgPool {
        self.read.get_postgres_connection_pool()
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        self.primary.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}

async fn connect_one(url: &str, pool: u32) -> Result<DatabaseConnection, StorageError> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(pool)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        // JIT compiling costs more than it saves on these statements: 150 ms of compile time
        // was measured on a 300 ms funnel query at 10M events.
        // Custom plans always: a generic plan (chosen after 5 runs of a prepared statement)
        // cannot prune partitions or pick the path index for `path = $n`; the same funnel took
        // 600 ms with it instead of 100 ms. Planning costs a few ms at most here.
        .map_sqlx_postgres_opts(|o| {
            o.options([("jit", "off"), ("plan_cache_mode", "force_custom_plan")])
        });
    Ok(Database::connect(opts).await?)
}
