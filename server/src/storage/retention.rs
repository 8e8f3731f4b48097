//! Retention: what is kept how long, applied per project.
//!
//! - Raw events older than the project's `retention_days` (whole UTC days before
//!   `today - retention_days`) are archived day by day ([`archive::archive_day`]: exported,
//!   verified, then deleted), except days a restore holds.
//! - Rollups are kept for `rollup_retention_days` (default 400, about 13 months), except
//!   `rollup_minute`, kept `SIGHTLINE_ROLLUP_MINUTE_DAYS` (default 3: it serves recent series
//!   only). Pruning records each table's horizon in `rollup_horizons`, which `rollup verify`
//!   honours. `sessions` rows go with the rollups, once they ended before the cutoff.
//! - Partitions (a day, week or month each) are shared by every project, so a partition is
//!   dropped only when it is empty (every project archived its rows, or had none) and its last
//!   day is past the shortest retention of any project. A late event for a dropped day lands in DEFAULT, maintenance
//!   recreates the day, and the next run archives it as another part: nothing is lost.
//!
//! Safe with several workers: a run holds a transaction-scoped advisory lock (another worker's
//! run is skipped, not queued), each day's archive takes its own lock, and dropping a partition
//! takes the partition-creation lock.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, TransactionTrait};
use uuid::Uuid;

use super::archive::{self, ArchiveStore, ArchivedDay};
use super::{column, exec, one, rows, sql, Db, StorageError};

/// Rollup tables pruned at the project's rollup retention (bucket column).
const ROLLUP_TABLES: [&str; 7] = [
    "rollup_hour",
    "rollup_day",
    "rollup_uniques_hour",
    "rollup_uniques_day",
    "rollup_scroll_hour",
    "rollup_scroll_day",
    "rollup_sessions_hour",
];

#[derive(Debug, Clone)]
pub struct RetentionOptions {
    /// Days of `rollup_minute` kept.
    pub minute_days: u32,
    /// Report what would be done, change nothing.
    pub dry_run: bool,
}

#[derive(Debug, Default)]
pub struct RetentionReport {
    /// Another worker was running retention; nothing was done.
    pub skipped: bool,
    /// Days archived (in a dry run: that would be, without a key).
    pub archived: Vec<ArchivedDay>,
    /// Days whose archive failed (the rows stay; retried next run): (project, day, error).
    pub failed: Vec<(Uuid, NaiveDate, String)>,
    /// Rollup and session rows pruned (or that would be).
    pub rollup_rows: u64,
    /// Partitions dropped (in a dry run: empty ones that would be).
    pub dropped: Vec<String>,
}

/// The store is opened on first use: a run with nothing to archive touches no store.
pub struct LazyStore {
    url: String,
    store: Option<ArchiveStore>,
}

impl LazyStore {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            store: None,
        }
    }

    pub fn get(&mut self) -> Result<&ArchiveStore, StorageError> {
        if self.store.is_none() {
            self.store = Some(ArchiveStore::open(&self.url)?);
        }
        self.store
            .as_ref()
            .ok_or_else(|| StorageError::Archive("store not opened".into()))
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// An `activities` partition and the days it covers: `[first, end)`.
struct Partition {
    name: String,
    first: NaiveDate,
    end: NaiveDate,
}

impl Partition {
    /// From the names `sightline_ensure_partition` gives: activities_pYYYYMMDD (a day),
    /// activities_wYYYYMMDD (the week from that Monday), activities_mYYYYMM (a month).
    fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("activities_")?;
        let (kind, digits) = rest.split_at_checked(1)?;
        let (first, end) = match kind {
            "p" => {
                let d = NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
                (d, d.succ_opt()?)
            }
            "w" => {
                let d = NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
                (d, d.checked_add_days(chrono::Days::new(7))?)
            }
            "m" => {
                let d = NaiveDate::parse_from_str(&format!("{digits}01"), "%Y%m%d").ok()?;
                (d, d.checked_add_months(chrono::Months::new(1))?)
            }
            _ => return None,
        };
        Some(Self {
            name: name.to_string(),
            first,
            end,
        })
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.first.iter_days().take_while(|d| *d < self.end)
    }
}

async fn partitions(db: &Db) -> Result<Vec<Partition>, StorageError> {
    let names: Vec<String> = column(
        &db.primary,
        sql(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'activities'::regclass AND c.relname ~ '^activities_([pw][0-9]{8}|m[0-9]{6})$' ORDER BY 1",
            [],
        ),
    )
    .await?;
    Ok(names.iter().filter_map(|n| Partition::parse(n)).collect())
}

/// One retention pass over every project (see the module doc).
pub async fn run(
    db: &Db,
    store: &mut LazyStore,
    opts: &RetentionOptions,
) -> Result<RetentionReport, StorageError> {
    run_with_progress(db, store, opts, &|_| {}).await
}

/// [`run`], telling `progress` of each day archived (or, in a dry run, to archive) as it goes:
/// the CLI's progress display.
pub async fn run_with_progress(
    db: &Db,
    store: &mut LazyStore,
    opts: &RetentionOptions,
    progress: &(dyn Fn(&ArchivedDay) + Sync),
) -> Result<RetentionReport, StorageError> {
    let mut report = RetentionReport::default();
    // Held for the run; released by the rollback at the end (or when the connection dies).
    let guard = db.primary.begin().await?;
    let locked: bool = one(
        &guard,
        sql(
            "SELECT pg_try_advisory_xact_lock(hashtext('sightline_retention'))",
            [],
        ),
    )
    .await?;
    if !locked {
        report.skipped = true;
        return Ok(report);
    }
    let today = Utc::now().date_naive();
    let projects: Vec<Kept> = rows(
        &db.primary,
        sql(
            "SELECT id, retention_days, rollup_retention_days FROM projects ORDER BY id",
            [],
        ),
    )
    .await?;
    let partitions = partitions(db).await?;
    for &Kept {
        id: project,
        retention_days: keep_days,
        rollup_retention_days: keep_rollup_days,
    } in &projects
    {
        let cutoff = today - Duration::days(keep_days.into());
        for day in partitions
            .iter()
            .flat_map(|p| p.days())
            .filter(|d| *d < cutoff)
        {
            let before = report.archived.len();
            archive_one(db, store, opts, project, day, &mut report).await?;
            if let Some(done) = report.archived.get(before) {
                progress(done);
            }
        }
        let rollup_cutoff = midnight(today - Duration::days(keep_rollup_days.into()));
        let minute_cutoff = midnight(today - Duration::days(opts.minute_days.into()));
        let mut prunes: Vec<(&str, &str, DateTime<Utc>)> = ROLLUP_TABLES
            .iter()
            .map(|t| (*t, "bucket < $2", rollup_cutoff))
            .collect();
        // A session goes when all of it is past retention: the recount reads the start of a
        // session that began on an archived day from its row.
        prunes.push((
            "sessions",
            "started_at < $2 AND last_seen < $2",
            rollup_cutoff,
        ));
        prunes.push(("rollup_minute", "bucket < $2", minute_cutoff));
        for (table, expired, before) in prunes {
            report.rollup_rows += prune(db, project, table, expired, before, opts.dry_run).await?;
        }
    }
    if let Some(shortest) = projects.iter().map(|p| p.retention_days).min() {
        let cutoff = today - Duration::days(shortest.into());
        for p in partitions.iter().filter(|p| p.end <= cutoff) {
            if drop_if_empty(db, &p.name, opts.dry_run).await? {
                report.dropped.push(p.name.clone());
            }
        }
    }
    guard.rollback().await?;
    Ok(report)
}

/// How long a project keeps its raw events and its rollups.
#[derive(FromQueryResult)]
struct Kept {
    id: Uuid,
    retention_days: i32,
    rollup_retention_days: i32,
}

async fn archive_one(
    db: &Db,
    store: &mut LazyStore,
    opts: &RetentionOptions,
    project: Uuid,
    day: NaiveDate,
    report: &mut RetentionReport,
) -> Result<(), StorageError> {
    let (lo, hi) = archive::day_bounds(day);
    // A cheap probe first: most old days of most projects are already archived.
    let probe = sql(
        "SELECT (SELECT count(*) FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3), \
                EXISTS (SELECT 1 FROM archive_restores WHERE project_id = $1 AND day = $4 AND keep_until > now())",
        [project.into(), lo.into(), hi.into(), day.into()],
    );
    let (rows, held): (i64, bool) = match db.primary.query_one(probe).await? {
        Some(r) => r.try_get_many_by_index()?,
        None => (0, false),
    };
    if rows == 0 || held {
        return Ok(());
    }
    if opts.dry_run {
        report.archived.push(ArchivedDay {
            project,
            day,
            rows: rows as u64,
            object_key: String::new(),
            bytes: 0,
        });
        return Ok(());
    }
    let done = match store.get() {
        Ok(s) => archive::archive_day(db, s, project, day).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(Some(a)) => report.archived.push(a),
        Ok(None) => {}
        // The database itself failing ends the run; an archive problem is one day's.
        Err(e @ StorageError::Archive(_)) => {
            tracing::warn!(%project, %day, error = %e, "archiving failed; the rows stay");
            report.failed.push((project, day, e.to_string()));
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn prune(
    db: &Db,
    project: Uuid,
    table: &str,
    expired: &str,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, StorageError> {
    // The table and its expiry condition vary (one of ROLLUP_TABLES, `sessions`,
    // `rollup_minute`: names from this module, never from input); the values are bound.
    let values = || [project.into(), before.into()];
    if dry_run {
        let count = format!("SELECT count(*) FROM {table} WHERE project_id = $1 AND {expired}");
        let n: i64 = one(&db.primary, sql(count, values())).await?;
        return Ok(n as u64);
    }
    let tx = db.primary.begin().await?;
    let delete = format!("DELETE FROM {table} WHERE project_id = $1 AND {expired}");
    let n = exec(&tx, sql(delete, values())).await?;
    exec(
        &tx,
        sql(
            "INSERT INTO rollup_horizons (project_id, rollup, before) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, rollup) DO UPDATE SET before = GREATEST(rollup_horizons.before, EXCLUDED.before)",
            [project.into(), table.into(), before.into()],
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// Drops a day partition when no project has a row in it, under the lock that partition
/// creation takes (so no day is created and dropped at once).
///
/// Found empty without locks first (the common case of a partition another project still keeps
/// costs nobody a lock), then locked against writers and found empty again before the drop: an
/// insert committing while `DROP` waited for its lock (a restore of that day, a late event)
/// would otherwise be dropped with the partition. Locks are taken parent first, as every insert
/// and query takes them, so the drop cannot deadlock with them.
async fn drop_if_empty(db: &Db, name: &str, dry_run: bool) -> Result<bool, StorageError> {
    // `name` comes from the catalog and matched one of the partition name patterns.
    let empty_sql = format!("SELECT NOT EXISTS (SELECT 1 FROM {name})");
    let empty: bool = one(&db.primary, sql(empty_sql.clone(), [])).await?;
    if !empty || dry_run {
        return Ok(empty);
    }
    let tx = db.primary.begin().await?;
    tx.execute_unprepared("SELECT pg_advisory_xact_lock(hashtext('sightline_partitions'))")
        .await?;
    // Dropping a partition locks `activities` itself: never queue behind a long query (and hold
    // every other query up behind us); the next run tries again.
    tx.execute_unprepared("SET LOCAL lock_timeout = '2s'")
        .await?;
    let locked = tx
        .execute_unprepared(&format!(
            "LOCK TABLE ONLY activities, {name} IN ACCESS EXCLUSIVE MODE"
        ))
        .await
        .map_err(StorageError::from);
    if let Err(e) = locked {
        if busy(&e) {
            tracing::info!(partition = name, "partition busy; dropping it next run");
            return Ok(false);
        }
        return Err(e);
    }
    let still_empty: bool = one(&tx, sql(empty_sql, [])).await?;
    if !still_empty {
        return Ok(false);
    }
    tx.execute_unprepared(&format!("DROP TABLE {name}")).await?;
    tx.commit().await?;
    tracing::info!(partition = name, "dropped an empty expired partition");
    Ok(true)
}

/// A lock not obtained within `lock_timeout`.
fn busy(e: &StorageError) -> bool {
    e.sqlstate().as_deref() == Some("55P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_give_their_days() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        let p = Partition::parse("activities_p20261231").expect("day");
        assert_eq!((p.first, p.end), (d(2026, 12, 31), d(2027, 1, 1)));
        let w = Partition::parse("activities_w20261228").expect("week");
        assert_eq!(w.days().count(), 7);
        assert_eq!(w.end, d(2027, 1, 4));
        let m = Partition::parse("activities_m202602").expect("month");
        assert_eq!((m.first, m.end), (d(2026, 2, 1), d(2026, 3, 1)));
        assert_eq!(m.days().count(), 28);
        assert!(Partition::parse("activities_default").is_none());
        assert!(Partition::parse("activities_p2026").is_none());
    }
}
