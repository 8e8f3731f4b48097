//! `sightline loadgen | bench | bench-queries | bench-export | bench-noise | bench-trivial |
//! generate | demo | bench-enrich`:
//! the operator tools (`crate::tools`), which need no platform settings unless they touch its
//! databases.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use sightline::app::shutdown_on_signal;
use sightline::queue::Queue;
use sightline::redis_conn::RedisConn;
use sightline::storage::{projects, Db};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::tools::{bench, demo, generate, loadgen};

#[derive(clap::Args)]
pub struct LoadgenArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Public key of the project to load.
    #[arg(long, env = "SIGHTLINE_PUBLIC_KEY")]
    key: String,
    /// Events per second in total; omit for as fast as the server answers.
    #[arg(long)]
    rate: Option<u32>,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop after this many events.
    #[arg(long)]
    events: Option<u64>,
    #[arg(long, default_value_t = 20)]
    batch: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value_t = 10_000)]
    users: u32,
    #[arg(long, default_value_t = 200)]
    paths: u32,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Write the id of every event sent to this file, one per line, prefixed by its outcome:
    /// `a` accepted, `r` rejected, `u` never answered.
    #[arg(long)]
    ids_out: Option<PathBuf>,
}

impl LoadgenArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        sightline::telemetry::init_tracing(false);
        let cfg = loadgen::LoadgenConfig {
            url: self.url,
            key: self.key,
            rate: self.rate,
            duration: Duration::from_secs(self.duration),
            max_events: self.events,
            batch: self.batch,
            concurrency: self.concurrency,
            users: self.users,
            paths: self.paths,
            allow_remote: self.allow_remote,
            seed: rand::random(),
            backlog: None,
        };
        let stop = CancellationToken::new();
        tokio::spawn(shutdown_on_signal(stop.clone()));
        let report = loadgen::run(cfg, stop).await?;
        if let Some(path) = &self.ids_out {
            report
                .write_ids(path)
                .with_context(|| format!("writing event ids to {}", path.display()))?;
        }
        println!("{}", serde_json::to_string(&report)?);
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, env = "SIGHTLINE_PUBLIC_KEY")]
    key: String,
    #[arg(long, env = "SIGHTLINE_PROJECT_ID")]
    project: Uuid,
    /// Base URL of `sightline bench-trivial`, the HTTP reference.
    #[arg(long)]
    trivial_url: String,
    /// PID of the server process, to report its peak memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// PID of the worker process, to report its peak memory.
    #[arg(long)]
    worker_pid: Option<u32>,
    #[arg(long, default_value_t = 60)]
    e2e_secs: u64,
    #[arg(long, default_value_t = 10)]
    http_secs: u64,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// End-to-end phase: most accepted events awaiting storage before the load waits for
    /// the worker (0: offer without limit).
    #[arg(long, default_value_t = 200_000)]
    e2e_backlog: u64,
}

impl BenchArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let conn = RedisConn::connect(settings.redis_url.expose())
            .await
            .context("connect to Redis")?;
        let cfg = bench::BenchConfig {
            url: self.url,
            key: self.key,
            project_id: self.project,
            database_url: settings.database_url.expose().to_string(),
            server_pid: self.server_pid,
            worker_pid: self.worker_pid,
            e2e_duration: Duration::from_secs(self.e2e_secs),
            http_duration: Duration::from_secs(self.http_secs),
            concurrency: self.concurrency,
            trivial_url: self.trivial_url,
            e2e_backlog: self.e2e_backlog,
            queue: Queue::new(conn, &settings.queue, &settings.worker),
        };
        let figures = bench::run(cfg).await?;
        println!("{}", serde_json::to_string(&figures)?);
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    #[arg(long, env = "SIGHTLINE_PROJECT_ID")]
    project: Uuid,
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Distinct visitors to draw from.
    #[arg(long, default_value_t = 200_000)]
    users: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Events per insert statement.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 3)]
    writers: usize,
}

impl GenerateArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let db = Db::connect(&settings).await?;
        let project = self.project;
        projects::by_id(&db, project)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no project {project}"))?;
        let cfg = generate::GenerateConfig {
            project_id: project,
            events: self.events,
            days: self.days,
            users: self.users,
            seed: self.seed,
            batch: self.batch.clamp(100, 50_000),
            writers: self.writers,
        };
        // The same enrichment as the worker's, so breakdowns over generated data are real.
        let enricher = sightline::enrich::Enricher::new(settings.geoip_db.as_deref())?;
        let r = generate::run(&db, cfg, enricher).await?;
        println!(
            "generated {} events in {:.1} s: {:.0} events/s",
            r.events, r.seconds, r.events_per_s
        );
        Ok(())
    }
}

/// The running server and project a benchmark reads from.
#[derive(clap::Args)]
pub struct ServerTarget {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, env = "SIGHTLINE_PROJECT_ID")]
    project: Uuid,
    /// Admin (or analyst) token for the project.
    #[arg(long, env = "SIGHTLINE_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(clap::Args)]
pub struct BenchQueriesArgs {
    #[command(flatten)]
    target: ServerTarget,
    /// Runs of each query.
    #[arg(long, default_value_t = 40)]
    runs: usize,
    /// Days the data spans (queries cover the last 7 and all of them).
    #[arg(long, default_value_t = 30)]
    days: u32,
}

impl BenchQueriesArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let t = self.target;
        let figures = bench::queries(&t.url, t.project, &t.token, self.runs, self.days).await?;
        println!("{}", serde_json::to_string(&figures)?);
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct BenchExportArgs {
    #[command(flatten)]
    target: ServerTarget,
    /// `csv` or `ndjson`.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Days up to now to export.
    #[arg(long, default_value_t = 31)]
    days: u32,
    /// The server's pid, to sample its resident memory while it streams.
    #[arg(long)]
    server_pid: Option<u32>,
}

impl BenchExportArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let to = chrono::Utc::now() + chrono::Duration::hours(1);
        let figures = bench::export::run(bench::export::ExportBench {
            url: self.target.url,
            project: self.target.project,
            token: self.target.token,
            format: self.format,
            from: to - chrono::Duration::days(self.days.into()),
            to,
            server_pid: self.server_pid,
        })
        .await?;
        println!("{}", serde_json::to_string(&figures)?);
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct BenchNoiseArgs {
    #[arg(long, default_value_t = 10)]
    secs: u64,
}

impl BenchNoiseArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let span = Duration::from_secs(self.secs.max(1));
        let figures = tokio::task::spawn_blocking(move || bench::noise::measure(span))
            .await
            .context("the noise probe panicked")??;
        println!("{figures}");
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct BenchTrivialArgs {
    #[arg(long)]
    bind: SocketAddr,
}

impl BenchTrivialArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        bench::serve_trivial(self.bind).await
    }
}

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8081")]
    bind: SocketAddr,
    /// Base URL of the Sightline server the demo pages report to.
    #[arg(long)]
    server: String,
    /// Public key of the project the demo pages report to.
    #[arg(long)]
    key: String,
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
}

impl DemoArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        sightline::telemetry::init_tracing(false);
        let stop = CancellationToken::new();
        tokio::spawn(shutdown_on_signal(stop.clone()));
        demo::serve(self.bind, self.server, self.key, self.dir, stop).await
    }
}

#[derive(clap::Args)]
pub struct BenchEnrichArgs {
    /// Events enriched per pass.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Distinct visitors the events come from (each keeps one device and one country).
    #[arg(long, default_value_t = 2_000)]
    visitors: u64,
    /// Warm passes; the figures are their medians.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// GeoIP database (MMDB); without one the geo lookup is not measured.
    #[arg(long, env = "SIGHTLINE_GEOIP_DB")]
    geoip_db: Option<PathBuf>,
}

impl BenchEnrichArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let figures = tokio::task::spawn_blocking(move || {
            bench::enrich::run(
                self.events,
                self.visitors,
                self.rounds,
                self.geoip_db.as_deref(),
            )
        })
        .await
        .context("the enrichment benchmark panicked")??;
        println!("{}", serde_json::to_string(&figures)?);
        Ok(())
    }
}
