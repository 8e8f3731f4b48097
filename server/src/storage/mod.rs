//! PostgreSQL access: connections, and one module per concern that owns its SQL.
//!
//! Invariant: HTTP handlers and GraphQL resolvers never write SQL; they call into `storage` (for
//! writes and tenant records) or `analytics` (for queries). Everything goes through SeaORM's
//! connection: entities for tenant records, and hand-written statements
//! (`Statement::from_sql_and_values`, fixed ones in `sql/*.sql`) where the work needs arrays,
//! `ON CONFLICT`, CTEs or partitions. The one exception is `COPY` (archives), which SeaORM does
//! not offer: it uses the sqlx pool under the same connection.
//!
//! Past the edges, inputs arrive as validated types ([`crate::domain`]): storage fails only on
//! the database or the archive store, never on what a caller asked.

pub mod accounts;
pub mod archive;
pub mod audit;
pub mod citus;
pub mod events;
pub mod export;
pub mod partitions;
pub mod projects;
pub mod retention;
pub mod rollups;
pub mod share_links;
pub mod users;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    FromQueryResult, RuntimeErr, Statement, TryGetable, Value,
};

use crate::config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The archive store failed, or an archive does not match what was exported (or does not
    /// exist).
    #[error("archive: {0}")]
    Archive(String),
}

/// Errors of the `COPY` streams (the sqlx pool under SeaORM's connection) are database errors
/// like any other.
impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        StorageError::Db(DbErr::Query(RuntimeErr::SqlxError(e)))
    }
}

impl StorageError {
    /// Errors that are about the database being unreachable or busy, not about the data: the
    /// same write will succeed later, so the worker waits instead of spending attempts.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Db(DbErr::Conn(_)) | StorageError::Db(DbErr::ConnectionAcquire(_)) => {
                true
            }
            StorageError::Db(DbErr::Exec(RuntimeErr::SqlxError(e)))
            | StorageError::Db(DbErr::Query(RuntimeErr::SqlxError(e))) => sqlx_transient(e),
            _ => false,
        }
    }

    /// A statement cancelled by `statement_timeout` (SQLSTATE 57014): the query was too
    /// expensive, not the database broken.
    pub fn is_timeout(&self) -> bool {
        self.sqlstate().as_deref() == Some("57014")
    }

    /// The PostgreSQL error code (SQLSTATE) of a database error, if it is one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            StorageError::Db(DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(e))))
            | StorageError::Db(DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(e)))) => {
                e.code().map(|c| c.into_owned())
            }
            _ => None,
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
    /// The primary is a Citus coordinator (the `citus` extension is installed): the write
    /// statement then keeps custom plans (see `events::insert_known`), the one branch on Citus
    /// in the code (docs/SCALING.md).
    pub citus: bool,
}

impl Db {
    /// The read connection is a pool of its own even without a replica: its sessions carry
    /// the analytics `statement_timeout` (`SIGHTLINE_QUERY_TIMEOUT_MS`), which the worker's
    /// writes and the maintenance jobs on the primary must not have.
    pub async fn connect(settings: &Settings) -> Result<Self, StorageError> {
        let primary =
            connect_one(settings.database_url.expose(), settings.database_pool, None).await?;
        let timeout = Some(settings.api.query_timeout).filter(|t| !t.is_zero());
        let read_url = settings
            .database_read_url
            .as_ref()
            .unwrap_or(&settings.database_url);
        let read = match (&settings.database_read_url, timeout) {
            (None, None) => primary.clone(),
            _ => connect_one(read_url.expose(), settings.database_pool, timeout).await?,
        };
        let mut db = Self {
            primary,
            read,
            citus: false,
        };
        db.citus = citus::is_coordinator(&db).await?;
        Ok(db)
    }

    /// The sqlx pool under the primary connection, for `COPY` streams only (SeaORM has none):
    /// the archive's export and restore.
    pub fn copy_pool(&self) -> &sqlx::PgPool {
        self.primary.get_postgres_connection_pool()
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        self.primary.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}

async fn connect_one(
    url: &str,
    pool: u32,
    statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, StorageError> {
    let timeout_ms = statement_timeout.map(|t| t.as_millis().to_string());
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
        .map_sqlx_postgres_opts(move |o| {
            let o = o.options([("jit", "off"), ("plan_cache_mode", "force_custom_plan")]);
            match &timeout_ms {
                Some(ms) => o.options([("statement_timeout", ms.as_str())]),
                None => o,
            }
        });
    Database::connect(opts)
        .await
        .map_err(|e| without_password(e, url))
}

/// Connection errors may quote the URL they could not use; never with its password.
fn without_password(e: DbErr, url: &str) -> StorageError {
    let text = e.to_string();
    if !text.contains(url) {
        return StorageError::Db(e);
    }
    let masked = crate::config::mask_url_passwords(url);
    StorageError::Db(DbErr::Custom(text.replace(url, &masked)))
}

/// A PostgreSQL statement with its values bound in order (`$1`, `$2`, ...).
pub fn sql(text: impl Into<String>, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, text, values)
}

/// The first column of the one row `stmt` returns.
pub async fn one<T: TryGetable>(
    conn: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<T, StorageError> {
    let row = conn
        .query_one(stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the statement returned no row".into()))?;
    Ok(row.try_get_by_index(0)?)
}

/// The first column of every row `stmt` returns.
pub async fn column<T: TryGetable>(
    conn: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<Vec<T>, StorageError> {
    conn.query_all(stmt)
        .await?
        .iter()
        .map(|r| r.try_get_by_index(0).map_err(StorageError::from))
        .collect()
}

/// Every row `stmt` returns, as `T`.
pub async fn rows<T: FromQueryResult>(
    conn: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<Vec<T>, StorageError> {
    Ok(T::find_by_statement(stmt).all(conn).await?)
}

/// Runs `stmt`; returns the number of rows it changed.
pub async fn exec(conn: &impl ConnectionTrait, stmt: Statement) -> Result<u64, StorageError> {
    Ok(conn.execute(stmt).await?.rows_affected())
}
