//! The `sightline` command line: one binary, one subcommand per job. Errors reach the user as one
//! line (anyhow at this edge only).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sea_orm_migration::MigratorTrait;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::app::{shutdown_on_signal, Application, Mode};
use crate::auth::{password, JwtKeys, Role};
use crate::config::Settings;
use crate::storage::{projects, Db};

#[derive(Parser)]
#[command(
    name = "sightline",
    version,
    about = "Sightline: self-hosted product analytics"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// HTTP server and queue worker in one process (the default).
    All,
    /// HTTP only: ingest, GraphQL, dashboard and tracker files.
    Serve,
    /// Queue worker and maintenance only.
    Worker,
    /// Applies pending database migrations and creates the upcoming partitions.
    Migrate,
    /// Issues an API token (JWT) for operators and scripts.
    Token {
        /// admin | analyst | viewer | service
        #[arg(long, default_value = "admin")]
        role: String,
        /// Project ids the token may use; omit for all (admin only).
        #[arg(long = "project")]
        projects: Vec<Uuid>,
        /// Subject (who the token is for).
        #[arg(long, default_value = "operator")]
        sub: String,
        /// Lifetime in seconds (default: the configured token TTL).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Project administration.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Rollup upkeep.
    Rollup {
        #[command(subcommand)]
        command: RollupCommand,
    },
    /// The ingest queue in Redis: pause storage (ingest keeps accepting), resume, show depths.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Retention and archives of raw events.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Tracked users (the people a site tracks).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Sends a realistic beacon load (page views, clicks, scrolls) to a server and prints figures.
    Loadgen {
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
    },
    /// The end-to-end benchmark against a running server (scripts/bench sets it up).
    Bench {
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
    },
    /// Writes a realistic synthetic history for a project (10 million events over 30 days by
    /// default) through the worker's insert statement, rollups included; shows a progress bar.
    Generate {
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
    },
    /// Measures GraphQL query latencies (p50/p95) against a running server: the benchmark's
    /// phase 4, over the data `generate` wrote.
    BenchQueries {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, env = "SIGHTLINE_PROJECT_ID")]
        project: Uuid,
        /// Admin (or analyst) token for the project.
        #[arg(long, env = "SIGHTLINE_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        /// Runs of each query.
        #[arg(long, default_value_t = 40)]
        runs: usize,
        /// Days the data spans (queries cover the last 7 and all of them).
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Measures this machine's scheduling noise (how late a sleeping thread wakes; how often a
    /// busy thread per core is kept off its CPU): the floor under any latency figure here.
    BenchNoise {
        #[arg(long, default_value_t = 10)]
        secs: u64,
    },
    /// The trivial HTTP handler the benchmark compares ingest with.
    #[command(hide = true)]
    BenchTrivial {
        #[arg(long)]
        bind: SocketAddr,
    },
    /// Serves the demo site (demo/) on its own port, with the tracker tag pointing at a server.
    Demo {
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
    },
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Creates (or, with --update, resets) an account. The first admin is made this way.
    Create {
        #[arg(long)]
        email: String,
        /// Password; read from SIGHTLINE_ADMIN_PASSWORD when omitted.
        #[arg(long, env = "SIGHTLINE_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long = "project")]
        projects: Vec<Uuid>,
        /// Reset the password and role when the account exists.
        #[arg(long)]
        update: bool,
    },
}

#[derive(Subcommand)]
pub enum RollupCommand {
    /// Recounts the additive rollups of whole UTC days from raw events and prints every cell
    /// that differs (expected: none; exits 1 when any). --fix rewrites them from raw.
    Verify {
        #[arg(long)]
        project: Uuid,
        /// First UTC day (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Day after the last one (YYYY-MM-DD).
        #[arg(long)]
        to: chrono::NaiveDate,
        #[arg(long)]
        fix: bool,
    },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Stops workers taking jobs, as BullMQ's `Queue.pause()` does: beacons are still accepted
    /// and wait in Redis (up to SIGHTLINE_QUEUE_MAX_WAITING jobs) until `resume`. For database
    /// maintenance; a batch a worker already holds is still stored.
    Pause,
    /// Lets workers take jobs again; what was held is stored first.
    Resume,
    /// Prints whether the queue is paused and how many jobs are in each state.
    Status,
}

#[derive(Subcommand)]
pub enum ArchiveCommand {
    /// One retention pass now (what the worker's maintenance timer does): raw days past each
    /// project's retention exported to SIGHTLINE_ARCHIVE_URL, verified and deleted; rollups
    /// past their retention pruned; empty expired partitions dropped.
    Run {
        /// Print what would be archived and pruned; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-imports a project's archived day (idempotent) and rebuilds that day's rollups.
    Restore {
        #[arg(long)]
        project: Uuid,
        /// UTC day (YYYY-MM-DD).
        #[arg(long)]
        day: chrono::NaiveDate,
        /// Days retention leaves the restored rows in place before archiving them again.
        #[arg(long, default_value_t = 7)]
        keep_days: u32,
    },
    /// Rewrites an archived day's files from their rows without the users purged since it was
    /// archived (GDPR), and takes them out of that day's rollups.
    Rewrite {
        #[arg(long)]
        project: Uuid,
        /// UTC day (YYYY-MM-DD).
        #[arg(long)]
        day: chrono::NaiveDate,
    },
    /// Lists a project's archived days and their row counts.
    List {
        #[arg(long)]
        project: Uuid,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Deletes a user (GDPR): their events in every partition, their profile, and their
    /// contributions to every rollup, in one transaction (the purgeUser mutation's work).
    Purge {
        #[arg(long)]
        project: Uuid,
        /// The site's user id (`user_id` of their events).
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Creates a project and prints its id and keys as KEY=VALUE lines (the secret only now).
    Create {
        #[arg(long)]
        name: String,
        /// Origins allowed to send beacons (repeat the flag).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// When a project of this name exists, rotate its keys and set its origins instead of
        /// creating another (used by scripts/up so re-runs reuse the data).
        #[arg(long)]
        reuse: bool,
    },
    /// Lists projects.
    List,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::All);
    if let Command::Demo {
        bind,
        server,
        key,
        dir,
    } = command
    {
        crate::telemetry::init_tracing(false);
        return crate::demo::serve(bind, server, key, dir).await;
    }
    if let Command::Loadgen {
        url,
        key,
        rate,
        duration,
        events,
        batch,
        concurrency,
        users,
        paths,
        allow_remote,
    } = command
    {
        crate::telemetry::init_tracing(false);
        let cfg = crate::loadgen::LoadgenConfig {
            url,
            key,
            rate,
            duration: Duration::from_secs(duration),
            max_events: events,
            batch,
            concurrency,
            users,
            paths,
            allow_remote,
            seed: rand::random(),
            backlog: None,
        };
        let stop = CancellationToken::new();
        tokio::spawn(shutdown_on_signal(stop.clone()));
        let report = crate::loadgen::run(cfg, stop).await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Command::BenchNoise { secs } = command {
        let span = Duration::from_secs(secs.max(1));
        let figures = tokio::task::spawn_blocking(move || crate::bench::noise::measure(span))
            .await
            .context("the noise probe panicked")??;
        println!("{figures}");
        return Ok(());
    }
    if let Command::BenchTrivial { bind } = command {
        return crate::bench::serve_trivial(bind).await;
    }
    let settings = Settings::from_env()?;
    crate::telemetry::init_tracing(settings.log_json);
    match command {
        Command::All => run_app(settings, Mode::All).await,
        Command::Serve => run_app(settings, Mode::Serve).await,
        Command::Worker => run_app(settings, Mode::Worker).await,
        Command::Migrate => {
            let db = Db::connect(&settings).await?;
            migration::Migrator::up(&db.primary, None)
                .await
                .context("migration failed")?;
            let created = crate::storage::partitions::maintain_with(
                &db,
                settings.partition_days_ahead,
                settings.partition_unit,
            )
            .await?;
            println!("migrations applied; {created} partitions created");
            Ok(())
        }
        Command::Token {
            role,
            projects,
            sub,
            ttl,
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            if projects.is_empty() && role != Role::Admin {
                bail!("--project is required for role {}", role.as_str());
            }
            let keys = JwtKeys::from_settings(&settings.jwt).map_err(anyhow::Error::msg)?;
            let scope = if projects.is_empty() {
                None
            } else {
                Some(projects.as_slice())
            };
            println!(
                "{}",
                keys.issue(&sub, role, scope, ttl.map(Duration::from_secs))?
            );
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    role,
                    projects,
                    update,
                },
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let db = Db::connect(&settings).await?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&password))
                .await?
                .map_err(anyhow::Error::msg)?;
            let scope = if projects.is_empty() {
                None
            } else {
                Some(projects)
            };
            let (account, created) =
                crate::storage::accounts::upsert(&db, &email, &hash, role, scope, update).await?;
            println!(
                "{} account {} ({})",
                if created {
                    "created"
                } else if update {
                    "updated"
                } else {
                    "kept existing"
                },
                account.email,
                account.role
            );
            Ok(())
        }
        Command::Rollup {
            command:
                RollupCommand::Verify {
                    project,
                    from,
                    to,
                    fix,
                },
        } => {
            use crate::storage::rollups;
            let db = Db::connect(&settings).await?;
            let bar = crate::telemetry::progress_bar(
                Some(rollups::RECOUNTED_TABLES as u64),
                "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} tables, recounting {msg}",
            );
            let diffs = rollups::verify_with_progress(&db, project, from, to, &|i, table| {
                bar.set_position(i as u64);
                bar.set_message(table.to_string());
            })
            .await?;
            bar.finish_and_clear();
            for d in &diffs {
                println!(
                    "{}\t{}\t{}\tstored {}\texpected {}",
                    d.table,
                    d.bucket.to_rfc3339(),
                    d.cell,
                    d.stored,
                    d.expected
                );
            }
            println!(
                "{} differences between the rollups and raw events",
                diffs.len()
            );
            if fix && !diffs.is_empty() {
                let rows = rollups::fix(&db, project, from, to).await?;
                let left = rollups::verify(&db, project, from, to).await?;
                println!(
                    "rewrote {rows} rollup rows from raw events; {} differences left",
                    left.len()
                );
                anyhow::ensure!(left.is_empty(), "rollups still differ after --fix");
                return Ok(());
            }
            anyhow::ensure!(diffs.is_empty(), "rollups differ from raw events");
            Ok(())
        }
        Command::Archive { command } => run_archive(&settings, command).await,
        Command::Queue { command } => run_queue(&settings, command).await,
        Command::User {
            command: UserCommand::Purge { project, user },
        } => {
            let db = Db::connect(&settings).await?;
            let purged = crate::storage::users::purge(&db, project, &user).await?;
            println!(
                "purged user {user}: {} events, {} profile rows",
                purged.events, purged.users
            );
            Ok(())
        }
        Command::Project { command } => {
            let db = Db::connect(&settings).await?;
            match command {
                ProjectCommand::Create {
                    name,
                    origins,
                    reuse,
                } => {
                    let existing = if reuse {
                        projects::by_name(&db, &name).await?
                    } else {
                        None
                    };
                    let (project, keys) = match existing {
                        Some(p) => {
                            projects::update(
                                &db,
                                p.id,
                                projects::ProjectUpdate {
                                    allowed_origins: Some(origins),
                                    ..Default::default()
                                },
                            )
                            .await?;
                            projects::rotate_keys(&db, p.id)
                                .await?
                                .context("project vanished")?
                        }
                        None => projects::create(&db, &name, origins).await?,
                    };
                    println!("SIGHTLINE_PROJECT_ID={}", project.id);
                    println!("SIGHTLINE_PUBLIC_KEY={}", keys.public_key);
                    println!("SIGHTLINE_SECRET_KEY={}", keys.secret_key);
                    Ok(())
                }
                ProjectCommand::List => {
                    for p in projects::list(&db, None).await? {
                        println!(
                            "{}\t{}\t{}\t{}",
                            p.id,
                            p.name,
                            p.public_key,
                            p.allowed_origins.join(",")
                        );
                    }
                    Ok(())
                }
            }
        }
        Command::Bench {
            url,
            key,
            project,
            trivial_url,
            server_pid,
            worker_pid,
            e2e_secs,
            http_secs,
            concurrency,
            e2e_backlog,
        } => {
            let cfg = crate::bench::BenchConfig {
                url,
                key,
                project_id: project,
                database_url: settings.database_url.expose().to_string(),
                server_pid,
                worker_pid,
                e2e_duration: Duration::from_secs(e2e_secs),
                http_duration: Duration::from_secs(http_secs),
                concurrency,
                trivial_url,
                e2e_backlog,
                queue: crate::queue::Queue::new(
                    crate::queue::RedisConn::connect(settings.redis_url.expose())
                        .await
                        .context("connect to Redis")?,
                    &settings.queue,
                    &settings.worker,
                ),
            };
            let figures = crate::bench::run(cfg).await?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
        Command::Generate {
            project,
            events,
            days,
            users,
            seed,
            batch,
            writers,
        } => {
            let db = Db::connect(&settings).await?;
            projects::by_id(&db, project)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no project {project}"))?;
            let cfg = crate::generate::GenerateConfig {
                project_id: project,
                events,
                days,
                users,
                seed,
                batch: batch.clamp(100, 50_000),
                writers,
            };
            let r = crate::generate::run(&db, cfg).await?;
            println!(
                "generated {} events in {:.1} s: {:.0} events/s",
                r.events, r.seconds, r.events_per_s
            );
            Ok(())
        }
        Command::BenchQueries {
            url,
            project,
            token,
            runs,
            days,
        } => {
            let figures = crate::bench::queries(&url, project, &token, runs, days).await?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
        Command::Demo { .. }
        | Command::Loadgen { .. }
        | Command::BenchTrivial { .. }
        | Command::BenchNoise { .. } => {
            unreachable!("handled above")
        }
    }
}

async fn run_queue(settings: &Settings, command: QueueCommand) -> anyhow::Result<()> {
    let conn = crate::queue::RedisConn::connect(settings.redis_url.expose())
        .await
        .context("connect to Redis")?;
    let queue = crate::queue::Queue::new(conn, &settings.queue, &settings.worker);
    match command {
        QueueCommand::Pause => {
            let changed = queue.pause().await?;
            println!("{}", if changed { "paused" } else { "already paused" });
        }
        QueueCommand::Resume => {
            let changed = queue.resume().await?;
            println!("{}", if changed { "resumed" } else { "was not paused" });
        }
        QueueCommand::Status => {
            let c = queue.counts().await?;
            println!(
                "{}: wait {} active {} delayed {} failed {} completed {}",
                if c.paused { "paused" } else { "running" },
                c.waiting,
                c.active,
                c.delayed,
                c.failed,
                c.completed
            );
        }
    }
    Ok(())
}

async fn run_archive(settings: &Settings, command: ArchiveCommand) -> anyhow::Result<()> {
    use crate::storage::{archive, retention};
    let db = Db::connect(settings).await?;
    match command {
        ArchiveCommand::Run { dry_run } => {
            if !dry_run {
                // Rows still in DEFAULT go to their day first, so they are archived too.
                crate::storage::partitions::maintain_with(
                    &db,
                    settings.partition_days_ahead,
                    settings.partition_unit,
                )
                .await?;
            }
            let mut store = retention::LazyStore::new(settings.archive_url.clone());
            let opts = retention::RetentionOptions {
                minute_days: settings.rollup_minute_days,
                dry_run,
            };
            let verb = if dry_run { "would archive" } else { "archived" };
            let bar = crate::telemetry::progress_bar(
                None,
                "{spinner} [{elapsed_precise}] {pos} days {msg}",
            );
            let rows = std::sync::atomic::AtomicU64::new(0);
            let r = retention::run_with_progress(&db, &mut store, &opts, &|a| {
                let total = rows.fetch_add(a.rows, std::sync::atomic::Ordering::Relaxed) + a.rows;
                bar.inc(1);
                bar.set_message(format!(
                    "{verb} ({total} rows), last {} {}",
                    a.project, a.day
                ));
            })
            .await?;
            bar.finish_and_clear();
            if r.skipped {
                println!("another worker is running retention right now; nothing done");
                return Ok(());
            }
            for a in &r.archived {
                println!(
                    "{verb}\t{}\t{}\t{} rows\t{} bytes\t{}",
                    a.project, a.day, a.rows, a.bytes, a.object_key
                );
            }
            for (project, day, error) in &r.failed {
                println!("failed\t{project}\t{day}\t{error}");
            }
            for p in &r.dropped {
                println!("{}\t{p}", if dry_run { "would drop" } else { "dropped" });
            }
            println!(
                "{} days {verb} ({} rows), {} rollup/session rows {}, {} partitions {}",
                r.archived.len(),
                r.archived.iter().map(|a| a.rows).sum::<u64>(),
                r.rollup_rows,
                if dry_run { "to prune" } else { "pruned" },
                r.dropped.len(),
                if dry_run { "empty" } else { "dropped" },
            );
            anyhow::ensure!(
                r.failed.is_empty(),
                "{} days could not be archived",
                r.failed.len()
            );
            Ok(())
        }
        ArchiveCommand::Restore {
            project,
            day,
            keep_days,
        } => {
            let store = archive::ArchiveStore::open(&settings.archive_url)?;
            let r = archive::restore_day(&db, &store, project, day, keep_days).await?;
            println!(
                "restored {day} of {project}: {} parts, {} rows in the archive, {} inserted, {} withheld (purged users), {} were there; {} rollup rows rebuilt; kept {keep_days} days",
                r.parts,
                r.rows,
                r.inserted,
                r.withheld,
                r.rows - r.inserted - r.withheld,
                r.rollup_rows
            );
            Ok(())
        }
        ArchiveCommand::Rewrite { project, day } => {
            let store = archive::ArchiveStore::open(&settings.archive_url)?;
            let (r, a) = archive::rewrite_day(&db, &store, project, day).await?;
            println!(
                "rewrote {day} of {project}: {} rows read from {} parts, {} withheld (purged users), {} rows in the new part {}",
                r.rows, r.parts, r.withheld, a.rows, a.object_key
            );
            Ok(())
        }
        ArchiveCommand::List { project } => {
            for (day, rows) in archive::archived_days(&db, project).await? {
                println!("{day}\t{rows}");
            }
            Ok(())
        }
    }
}

async fn run_app(settings: Settings, mode: Mode) -> anyhow::Result<()> {
    let app = Application::build(settings, mode).await?;
    if mode != Mode::Worker {
        tracing::info!(port = app.port(), "listening");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await
}
