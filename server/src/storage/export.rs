//! The raw export: every stored event of a project in a time range, as CSV or NDJSON, streamed
//! by PostgreSQL's `COPY ... TO STDOUT` (one of the [`Db::copy_pool`]-style sqlx streams SeaORM
//! does not offer), on the read connection. Nothing is buffered here: the stream yields what the
//! server sends, and the server sends no faster than it is read, so memory stays flat however
//! many rows a range holds.
//!
//! Rows come in storage order (partition by partition, so roughly by time), not sorted: sorting
//! ten million rows would hold them all before the first one is sent.

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::stream::{BoxStream, StreamExt};
use sqlx::postgres::PgPoolCopyExt;
use uuid::Uuid;

use super::{Db, StorageError};

/// The exported columns (`SELECT` of the `COPY`): the event as the API shows it (`props` the
/// event's properties, times in RFC 3339 UTC), plus `is_bot`; no IP address or user agent.
const ROWS: &str = include_str!("sql/export_rows.sql");

/// An export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header line, then one line per event (RFC 4180 quoting; `props` as JSON text).
    Csv,
    /// One JSON object per line (`props` an object, absent values `null`).
    Ndjson,
}

/// The `COPY` statement of an export. COPY takes no parameters; the values are a UUID and
/// timestamps formatted here, never text from a request.
fn statement(project: Uuid, from: DateTime<Utc>, to: DateTime<Utc>, format: Format) -> String {
    let rows = ROWS
        .replace("{project}", &project.to_string())
        .replace("{from}", &from.to_rfc3339_opts(SecondsFormat::Micros, true))
        .replace("{to}", &to.to_rfc3339_opts(SecondsFormat::Micros, true));
    match format {
        Format::Csv => format!("COPY ({rows}) TO STDOUT WITH (FORMAT csv, HEADER true)"),
        // One JSON text per line. CSV mode with a delimiter and a quote character that JSON
        // text never holds raw (it escapes every control character) writes each value as is;
        // the text format would double every backslash of the JSON.
        Format::Ndjson => format!(
            "COPY (SELECT row_to_json(r)::text FROM ({rows}) r) \
             TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
        ),
    }
}

/// The export as a stream of byte chunks (each a row or more, as the server sends them). The
/// stream holds a pooled read connection until it ends or is dropped.
pub async fn stream(
    db: &Db,
    project: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    format: Format,
) -> Result<BoxStream<'static, Result<bytes::Bytes, StorageError>>, StorageError> {
    let sql = statement(project, from, to, format);
    let pool = db.read.get_postgres_connection_pool();
    let copy = pool.copy_out_raw(&sql).await?;
    Ok(copy.map(|chunk| chunk.map_err(StorageError::from)).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_holds_only_formatted_values() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        };
        let sql = statement(
            Uuid::from_u128(7),
            t("2026-11-01T00:00:00Z"),
            t("2026-11-02T00:00:00.5Z"),
            Format::Ndjson,
        );
        assert!(sql.contains("project_id = '00000000-0000-0000-0000-000000000007'"));
        assert!(sql.contains("occurred_at >= '2026-11-01T00:00:00.000000Z'"));
        assert!(sql.contains("occurred_at < '2026-11-02T00:00:00.500000Z'"));
        assert!(!sql.contains('{'), "a placeholder is left: {sql}");
    }
}
