//! `sightline bench-export`: streams a raw export (`GET /api/v1/export`) from a running server
//! and measures it: rows (lines) and bytes received, rows/s, and the server's resident memory
//! sampled every 100 ms while it streams (when its pid is given), so "memory stays flat" is a
//! figure: the RSS before, at its highest during, and after the export.
//!
//! Its output is one JSON object.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use uuid::Uuid;

/// What to export and from where.
pub struct ExportBench {
    pub url: String,
    pub project: Uuid,
    pub token: String,
    /// `csv` or `ndjson`.
    pub format: String,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// The server's process, whose RSS is sampled.
    pub server_pid: Option<u32>,
}

/// The current resident set of a process, in MiB (`VmRSS`).
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run(b: ExportBench) -> anyhow::Result<Value> {
    let rss_before = b.server_pid.and_then(rss_mb);
    let url = format!(
        "{}/api/v1/export?projectId={}&from={}&to={}&format={}",
        b.url.trim_end_matches('/'),
        b.project,
        b.from.format("%Y-%m-%dT%H:%M:%SZ"),
        b.to.format("%Y-%m-%dT%H:%M:%SZ"),
        b.format
    );
    let started = Instant::now();
    let mut resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&b.token)
        .send()
        .await
        .context("export request")?;
    anyhow::ensure!(
        resp.status().is_success(),
        "export answered {}: {}",
        resp.status(),
        resp.text().await.unwrap_or_default()
    );
    let first_byte = started.elapsed();
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut rss_max = rss_before.unwrap_or(0.0);
    let mut rss_samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            chunk = resp.chunk() => match chunk.context("export body")? {
                Some(c) => {
                    bytes += c.len() as u64;
                    lines += c.iter().filter(|&&b| b == b'\n').count() as u64;
                }
                None => break,
            },
            _ = tick.tick() => {
                if let Some(r) = b.server_pid.and_then(rss_mb) {
                    rss_max = rss_max.max(r);
                    rss_samples.push(r);
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64().max(f64::EPSILON);
    // CSV has a header line; NDJSON none.
    let rows = if b.format == "csv" {
        lines.saturating_sub(1)
    } else {
        lines
    };
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    // RSS over the second half of the stream against the first: flat memory keeps it level.
    let half = rss_samples.len() / 2;
    let mean = |s: &[f64]| {
        if s.is_empty() {
            None
        } else {
            Some(round1(s.iter().sum::<f64>() / s.len() as f64))
        }
    };
    Ok(json!({
        "format": b.format,
        "rows": rows,
        "bytes": bytes,
        "seconds": round1(secs),
        "first_byte_ms": round1(first_byte.as_secs_f64() * 1000.0),
        "rows_per_s": (rows as f64 / secs).round(),
        "mb_per_s": round1(bytes as f64 / secs / 1e6),
        "server_rss_mb_before": rss_before.map(round1),
        "server_rss_mb_max": b.server_pid.map(|_| round1(rss_max)),
        "server_rss_mb_first_half": mean(&rss_samples[..half]),
        "server_rss_mb_second_half": mean(&rss_samples[half..]),
        "server_rss_mb_after": b.server_pid.and_then(rss_mb).map(round1),
    }))
}
