//! Archive of raw events: one project's rows of one UTC day exported to a gzip-compressed CSV
//! file in an object store (a local directory by default, S3 when `SIGHTLINE_ARCHIVE_URL` is an
//! `s3://` URL), verified, deleted from `activities`; and the way back (restore).
//!
//! Invariants:
//! - Rows are deleted only after their file was written, read back from the store and matched
//!   (record count equal to the rows counted, SHA-256 of the uncompressed CSV equal to the one
//!   computed while exporting), and only the rows that were exported: export, count and delete
//!   run in one REPEATABLE READ transaction, so events stored meanwhile (late arrivals) are
//!   neither exported nor deleted; the next run archives them as another part.
//! - `archive_parts` lists a part in the transaction that deletes its rows: a part listed there
//!   is complete. A part written but not listed (the commit failed) is removed best-effort and is
//!   harmless anyway (restore reads listed parts only).
//! - Restore is idempotent: rows are inserted with ON CONFLICT DO NOTHING on the primary key,
//!   each part is checked against its recorded count and checksum first, and a file can only
//!   bring back rows of its own project and day.
//! - Users purged after a day was archived never come back: restore withholds their rows
//!   (`purged_users`), and once a restored day is archived again its new part replaces the
//!   old ones, so the files no longer hold them either ([`rewrite_day`] does both at once). Until
//!   then their events remain in the archive files, and their share in that day's rollups.
//!
//! Object keys: `<prefix>/activities/project=<uuid>/day=<YYYY-MM-DD>/part-<uuid v7>.csv.gz`;
//! `archive_parts` records them without the prefix, so an archive moved elsewhere (copied to
//! another bucket, directory or prefix) is found again once `SIGHTLINE_ARCHIVE_URL` names the
//! new place. Changing the URL without moving the files leaves earlier parts unreachable:
//! restore then fails with "not found", and nothing is written.
//!
//! The one module on sqlx directly ([`Db::copy_pool`]): `COPY` streams (export, restore) are not
//! in SeaORM, and the statements that must share their transaction (count, delete, checks) run
//! on the same sqlx transaction.

use std::io::{Read, Write};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use object_store::{path::Path, ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{rollups, Db, StorageError};
use crate::domain::DayRange;

/// The exported columns, in this order (the CSV header names them).
const COLUMNS: &str = "event_id, project_id, event_type, user_id, anonymous_id, session_id, \
    community_id, entity_type, entity_id, path, referrer, metadata, ip_address, user_agent, is_bot, \
    occurred_at, received_at";

/// Columns older archives may carry that `activities` no longer has: restored into the
/// staging table, then left behind (`id`, a sequence value, was dropped by migration 0008).
const RETIRED_COLUMNS: &[&str] = &["id"];

/// The column list of an archive file, from its CSV header: what its `COPY` into the staging
/// table names. Each must be a current or retired column, so a file that is not one of our
/// archives is refused before anything is read into the database.
fn header_columns(csv: &[u8]) -> Result<String, StorageError> {
    let line = csv.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| archive_err("archive header is not UTF-8"))?;
    let known: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
    let mut names = Vec::new();
    for name in line.trim_end_matches('\r').split(',').map(str::trim) {
        if !known.contains(&name) && !RETIRED_COLUMNS.contains(&name) {
            return Err(archive_err(format!(
                "archive header names an unknown column {name:?}"
            )));
        }
        names.push(name);
    }
    if !known.iter().all(|k| names.contains(k)) {
        return Err(archive_err(format!(
            "archive header {line:?} lacks columns of {COLUMNS}"
        )));
    }
    Ok(names.join(", "))
}

/// Where archives go.
#[derive(Clone)]
pub struct ArchiveStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    /// The directory of a local store: its files are made private to the server's user
    /// (archives hold every stored event, IP addresses and user ids included).
    local_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for ArchiveStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveStore")
            .field("url", &self.url)
            .finish()
    }
}

/// Sets `path`'s permission bits (Unix; elsewhere the platform's defaults stay).
fn private(path: &std::path::Path, mode: u32) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| archive_err(format!("{}: {e}", path.display())))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn archive_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Archive(e.to_string())
}

impl ArchiveStore {
    /// `s3://bucket[/prefix]` (credentials, region and endpoint from the usual `AWS_*`
    /// variables), `file:///abs/dir`, or a directory path (created if missing).
    pub fn open(url: &str) -> Result<Self, StorageError> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(archive_err(format!("archive URL {url} names no bucket")));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(archive_err)?;
            return Ok(Self {
                store: Arc::new(store),
                prefix: Path::from(prefix.trim_matches('/')),
                url: url.to_string(),
                local_dir: None,
            });
        }
        if url.contains("://") && !url.starts_with("file://") {
            return Err(archive_err(format!(
                "archive URL {url}: only a directory, file:// or s3:// is supported"
            )));
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if dir.is_empty() {
            return Err(archive_err("archive directory is empty"));
        }
        std::fs::create_dir_all(dir).map_err(|e| archive_err(format!("{dir}: {e}")))?;
        // Best effort: a directory given by the operator may belong to another user.
        if let Err(e) = private(std::path::Path::new(dir), 0o700) {
            tracing::warn!(error = %e, "cannot make the archive directory private (0700)");
        }
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(archive_err)?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
            url: url.to_string(),
            local_dir: Some(std::path::PathBuf::from(dir)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new part's key, relative to the store's prefix (what `archive_parts` records, so the
    /// archive can be moved to another bucket or prefix by copying it).
    fn new_key(project: Uuid, day: NaiveDate) -> String {
        format!(
            "activities/project={project}/day={day}/part-{}.csv.gz",
            Uuid::now_v7()
        )
    }

    /// Makes a part just written readable by the server's user only (mode 0600), and the
    /// directories above it 0700. A no-op on object stores (their access is the bucket's).
    fn make_private(&self, key: &str) -> Result<(), StorageError> {
        let Some(root) = &self.local_dir else {
            return Ok(());
        };
        let file = key
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(root.clone(), |path, part| path.join(part));
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root.as_path()) {
            if let Err(e) = private(d, 0o700) {
                tracing::warn!(error = %e, "cannot make an archive directory private (0700)");
            }
            dir = d.parent();
        }
        private(&file, 0o600)
    }

    /// Where a recorded key lives in the store.
    fn location(&self, key: &str) -> Path {
        key.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |path, part| path.child(part))
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let got = self
            .store
            .get(&self.location(key))
            .await
            .map_err(archive_err)?;
        Ok(got.bytes().await.map_err(archive_err)?.to_vec())
    }
}

/// What the export of one day found, or would find in a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedDay {
    pub project: Uuid,
    pub day: NaiveDate,
    pub rows: u64,
    /// Empty in a dry run.
    pub object_key: String,
    pub bytes: u64,
}

/// What a restore brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub parts: usize,
    /// Rows in the files.
    pub rows: u64,
    /// Rows inserted (the rest were already there or withheld).
    pub inserted: u64,
    /// Rows of users purged since the day was archived, left out.
    pub withheld: u64,
    /// Rollup rows rewritten for the day (0 when the stored ones matched the rows).
    pub rollup_rows: u64,
}

/// `[day, day + 1)` in UTC.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    // The last representable day has no successor; it ends where it starts (no rows).
    (at(day), at(day.succ_opt().unwrap_or(day)))
}

/// Records in a CSV text as PostgreSQL writes it (quotes doubled inside quoted fields, so a
/// quote toggles the state and a doubled one toggles it back), not counting the header line.
fn csv_records(data: &[u8]) -> u64 {
    let mut quoted = false;
    let mut lines = 0u64;
    for &b in data {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => lines += 1,
            _ => {}
        }
    }
    lines.saturating_sub(1)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Exports, verifies and deletes one project's rows of one day (see the module invariants).
/// `None` when there was nothing to archive, the day is held by a restore, or another worker
/// is archiving it right now.
pub async fn archive_day(
    db: &Db,
    store: &ArchiveStore,
    project: Uuid,
    day: NaiveDate,
) -> Result<Option<ArchivedDay>, StorageError> {
    let (lo, hi) = day_bounds(day);
    let mut tx = db.copy_pool().begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await?;
    // Timestamps in the files read the same whatever the server's time zone.
    sqlx::query("SET LOCAL TimeZone = 'UTC'")
        .execute(&mut *tx)
        .await?;
    let (locked,): (bool,) = sqlx::query_as(
        "SELECT pg_try_advisory_xact_lock(hashtext('sightline_archive'), hashtext($1::text || $2::text))",
    )
    .bind(project)
    .bind(day)
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(None);
    }
    let (held,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM archive_restores WHERE project_id = $1 AND day = $2 AND keep_until > now())",
    )
    .bind(project)
    .bind(day)
    .fetch_one(&mut *tx)
    .await?;
    if held {
        return Ok(None);
    }
    let (rows,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3",
    )
    .bind(project)
    .bind(lo)
    .bind(hi)
    .fetch_one(&mut *tx)
    .await?;
    if rows == 0 {
        return Ok(None);
    }
    let csv = export_csv(&mut tx, project, lo, hi).await?;
    let rows = rows as u64;
    let (sha, records) = (sha256_hex(&csv), csv_records(&csv));
    if records != rows {
        return Err(archive_err(format!(
            "export of {project} {day}: {records} CSV records for {rows} rows"
        )));
    }
    let gz = tokio::task::spawn_blocking(move || {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&csv)?;
        enc.finish()
    })
    .await
    .map_err(archive_err)?
    .map_err(archive_err)?;
    let bytes = gz.len() as u64;
    let key_text = ArchiveStore::new_key(project, day);
    store
        .store
        .put(&store.location(&key_text), PutPayload::from(gz))
        .await
        .map_err(archive_err)?;
    store.make_private(&key_text)?;
    // Re-read what the store holds, not what was sent.
    let checked = check_part(store, &key_text, rows, &sha).await;
    let done = match checked {
        Ok(()) => finish_archive(&mut tx, project, day, lo, hi, rows, &key_text, &sha, bytes).await,
        Err(e) => Err(e),
    };
    let superseded = match done {
        Ok(s) => s,
        Err(e) => {
            drop(tx);
            discard(store, &key_text).await;
            return Err(e);
        }
    };
    if let Err(e) = tx.commit().await {
        discard(store, &key_text).await;
        return Err(e.into());
    }
    for old in superseded {
        discard(store, &old).await;
    }
    tracing::info!(%project, %day, rows, bytes, key = %key_text, "archived raw events");
    Ok(Some(ArchivedDay {
        project,
        day,
        rows,
        object_key: key_text,
        bytes,
    }))
}

/// The rows of the day as CSV with a header, in a stable order.
async fn export_csv(
    conn: &mut PgConnection,
    project: Uuid,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<Vec<u8>, StorageError> {
    // COPY takes no parameters; the values are a UUID and timestamps we format ourselves.
    let sql = format!(
        "COPY (SELECT {COLUMNS} FROM activities WHERE project_id = '{project}' \
           AND occurred_at >= '{lo}' AND occurred_at < '{hi}' ORDER BY occurred_at, event_id) \
         TO STDOUT WITH (FORMAT csv, HEADER true)",
        lo = lo.to_rfc3339(),
        hi = hi.to_rfc3339(),
    );
    let mut out = Vec::new();
    let mut stream = conn.copy_out_raw(&sql).await?;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Reads a part back from the store, gunzips it, and checks its record count and checksum.
async fn check_part(
    store: &ArchiveStore,
    key: &str,
    rows: u64,
    sha: &str,
) -> Result<(), StorageError> {
    let csv = read_part(store, key).await?;
    let (got_sha, got_rows) = (sha256_hex(&csv), csv_records(&csv));
    if got_rows != rows || got_sha != sha {
        return Err(archive_err(format!(
            "{key} reads back as {got_rows} records (sha256 {got_sha}), expected {rows} ({sha})"
        )));
    }
    Ok(())
}

async fn read_part(store: &ArchiveStore, key: &str) -> Result<Vec<u8>, StorageError> {
    let gz = store.read(key).await?;
    tokio::task::spawn_blocking(move || {
        let mut csv = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut csv)?;
        Ok::<_, std::io::Error>(csv)
    })
    .await
    .map_err(archive_err)?
    .map_err(|e| archive_err(format!("{key}: {e}")))
}

/// Deletes the exported rows and records the part. When the day had been restored (and its
/// hold expired), the rows in the database include every older part's rows (minus users purged
/// meanwhile), so the new part replaces them: their keys are returned for deletion.
#[allow(clippy::too_many_arguments)]
async fn finish_archive(
    tx: &mut PgConnection,
    project: Uuid,
    day: NaiveDate,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    rows: u64,
    key: &str,
    sha: &str,
    bytes: u64,
) -> Result<Vec<String>, StorageError> {
    let deleted = sqlx::query(
        "DELETE FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3",
    )
    .bind(project)
    .bind(lo)
    .bind(hi)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted != rows {
        return Err(archive_err(format!(
            "{project} {day}: deleting {rows} archived rows removed {deleted}"
        )));
    }
    let restored = sqlx::query("DELETE FROM archive_restores WHERE project_id = $1 AND day = $2")
        .bind(project)
        .bind(day)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let superseded: Vec<String> = if restored > 0 {
        sqlx::query_scalar(
            "DELETE FROM archive_parts WHERE project_id = $1 AND day = $2 RETURNING object_key",
        )
        .bind(project)
        .bind(day)
        .fetch_all(&mut *tx)
        .await?
    } else {
        Vec::new()
    };
    sqlx::query(
        "INSERT INTO archive_parts (project_id, day, object_key, rows, sha256, bytes) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(project)
    .bind(day)
    .bind(key)
    .bind(rows as i64)
    .bind(sha)
    .bind(bytes as i64)
    .execute(&mut *tx)
    .await?;
    Ok(superseded)
}

/// Removes an object nobody references (a failed archive's part, a superseded part).
async fn discard(store: &ArchiveStore, key: &str) {
    if let Err(e) = store.store.delete(&store.location(key)).await {
        tracing::warn!(key, error = %e, "could not delete an unreferenced archive part");
    }
}

/// Rows of the project archived for each day (dry runs and reports).
pub async fn archived_days(db: &Db, project: Uuid) -> Result<Vec<(NaiveDate, i64)>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT day, sum(rows)::bigint FROM archive_parts WHERE project_id = $1 GROUP BY day ORDER BY day",
    )
    .bind(project)
    .fetch_all(db.copy_pool())
    .await?)
}

/// Brings an archived day back into `activities` (each part checked against its recorded count
/// and checksum first), keeps it out of retention for `keep_days`, and rebuilds the day's
/// rollups from the rows.
pub async fn restore_day(
    db: &Db,
    store: &ArchiveStore,
    project: Uuid,
    day: NaiveDate,
    keep_days: u32,
) -> Result<Restored, StorageError> {
    let (lo, hi) = day_bounds(day);
    let parts: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT object_key, rows, sha256 FROM archive_parts WHERE project_id = $1 AND day = $2 ORDER BY archived_at, object_key",
    )
    .bind(project)
    .bind(day)
    .fetch_all(db.copy_pool())
    .await?;
    if parts.is_empty() {
        return Err(archive_err(format!(
            "no archive of project {project} for {day}"
        )));
    }
    let mut files = Vec::with_capacity(parts.len());
    for (key, rows, sha) in &parts {
        let csv = read_part(store, key).await?;
        let (got_sha, got_rows) = (sha256_hex(&csv), csv_records(&csv));
        if got_sha != *sha || got_rows != *rows as u64 {
            return Err(archive_err(format!(
                "{key} does not match its record: {got_rows} records (sha256 {got_sha}), recorded {rows} ({sha})"
            )));
        }
        files.push(csv);
    }
    let rows: u64 = parts.iter().map(|p| p.1 as u64).sum();
    let mut tx = db.copy_pool().begin().await?;
    sqlx::query("SELECT sightline_ensure_day_partition($1)")
        .bind(day)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TEMP TABLE archive_restore (LIKE activities INCLUDING DEFAULTS) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    for retired in RETIRED_COLUMNS {
        sqlx::query(&format!(
            "ALTER TABLE archive_restore ADD COLUMN {retired} text"
        ))
        .execute(&mut *tx)
        .await?;
    }
    for csv in &files {
        let columns = header_columns(csv)?;
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY archive_restore ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ))
            .await?;
        for chunk in csv.chunks(1 << 20) {
            copy.send(chunk).await?;
        }
        copy.finish().await?;
    }
    let (foreign,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM archive_restore WHERE project_id <> $1 OR occurred_at < $2 OR occurred_at >= $3",
    )
    .bind(project)
    .bind(lo)
    .bind(hi)
    .fetch_one(&mut *tx)
    .await?;
    if foreign > 0 {
        return Err(archive_err(format!(
            "the archive of {project} {day} holds {foreign} rows of another project or day; nothing restored"
        )));
    }
    let withheld = sqlx::query(
        "DELETE FROM archive_restore r USING purged_users p \
         WHERE p.project_id = $1 AND r.user_id IS NOT NULL AND p.user_hash = sightline_user_hash(r.user_id)",
    )
    .bind(project)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let inserted = sqlx::query(&format!(
        "INSERT INTO activities ({COLUMNS}) SELECT {COLUMNS} FROM archive_restore ON CONFLICT DO NOTHING"
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // EXCLUDED's values, not now(): Citus runs ON CONFLICT's SET on the worker nodes and
    // refuses functions there that are not IMMUTABLE.
    sqlx::query(
        "INSERT INTO archive_restores (project_id, day, restored_at, keep_until) \
         VALUES ($1, $2, now(), now() + make_interval(days => $3)) \
         ON CONFLICT (project_id, day) DO UPDATE SET restored_at = EXCLUDED.restored_at, keep_until = EXCLUDED.keep_until",
    )
    .bind(project)
    .bind(day)
    .bind(keep_days as i32)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // Rollups usually outlive raw events (13 months against 90 days) and still hold the day:
    // rebuilt only when retention pruned them or they do not match the rows.
    let days = DayRange {
        from: day,
        to: hi.date_naive(),
    };
    let rollup_rows = if rollups::pruned_at(db, project, lo).await?
        || !rollups::verify(db, project, days).await?.is_empty()
    {
        let n = rollups::fix(db, project, days).await?;
        rollups::rebuild_day_extras(db, project, lo, hi).await?;
        n
    } else {
        0
    };
    tracing::info!(%project, %day, rows, inserted, withheld, "restored archived raw events");
    Ok(Restored {
        parts: parts.len(),
        rows,
        inserted,
        withheld,
        rollup_rows,
    })
}

/// Rewrites a day's archive from its rows: restored (users purged since are withheld and the
/// day's rollups rebuilt without them), then archived again as one new part that replaces the
/// old ones. How a purge reaches archived days.
pub async fn rewrite_day(
    db: &Db,
    store: &ArchiveStore,
    project: Uuid,
    day: NaiveDate,
) -> Result<(Restored, ArchivedDay), StorageError> {
    let restored = restore_day(db, store, project, day, 0).await?;
    match archive_day(db, store, project, day).await? {
        Some(archived) => Ok((restored, archived)),
        None => Err(archive_err(format!(
            "{project} {day} was restored but not archived again (another run is archiving it, or it has no rows left); run `archive run`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_headers_of_this_and_the_older_layout_are_read_and_others_refused() {
        let now = format!("{}\n1,2\n", COLUMNS.replace(' ', ""));
        assert_eq!(
            header_columns(now.as_bytes()).expect("current layout"),
            COLUMNS
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let before_0008 = format!("id,{}\r\n", COLUMNS.replace(' ', ""));
        assert!(header_columns(before_0008.as_bytes())
            .expect("layout with id")
            .starts_with("id, event_id"));
        assert!(header_columns(b"event_id,evil); DROP TABLE x; --\n").is_err());
        assert!(header_columns(b"event_id,project_id\n").is_err());
    }

    #[test]
    fn csv_records_ignore_newlines_inside_quotes() {
        let csv = b"a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\nthere\"\n3,plain\n";
        assert_eq!(csv_records(csv), 3);
        assert_eq!(csv_records(b"a,b\n"), 0);
    }

    #[test]
    fn only_directories_file_and_s3_urls_are_accepted() {
        let err = ArchiveStore::open("gs://bucket/x").expect_err("unsupported");
        assert!(err.to_string().contains("only a directory"), "{err}");
        let err = ArchiveStore::open("s3://").expect_err("no bucket");
        assert!(err.to_string().contains("no bucket"), "{err}");
        let s3 = ArchiveStore::open("s3://bucket/prod/sightline/").expect("s3 store");
        assert_eq!(
            s3.location("activities/x/part-1.csv.gz").to_string(),
            "prod/sightline/activities/x/part-1.csv.gz"
        );
        let dir = std::env::temp_dir().join(format!("sightline-archive-{}", Uuid::new_v4()));
        let s = ArchiveStore::open(&format!("file://{}", dir.display())).expect("local dir");
        assert!(dir.is_dir());
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).expect("date");
        let key = ArchiveStore::new_key(Uuid::nil(), day);
        assert_eq!(s.location(&key).to_string(), key);
        assert!(
            key.starts_with(
                "activities/project=00000000-0000-0000-0000-000000000000/day=2026-01-02/part-"
            ),
            "{key}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
