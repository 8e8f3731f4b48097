//! The `sightline` command line: one binary, one subcommand per job, one file per command group
//! (each command an args struct with its `run`). Errors reach the user as one line (anyhow at
//! this edge only).

mod admin;
mod archive;
mod config;
mod migrate;
mod project;
mod queue;
mod rollup;
mod serve;
mod token;
mod tools;
mod user;

use clap::{Parser, Subcommand};
use sightline::app::Mode;
use sightline::config::Settings;

#[derive(Parser)]
#[command(
    name = "sightline",
    version,
    about = "Sightline: self-hosted product analytics",
    after_help = "Settings: `sightline --help` lists them; `sightline config` shows their values.",
    after_long_help = sightline::config::help_text()
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
    Migrate(migrate::MigrateArgs),
    /// Prints each setting's effective value and its source (default, file, environment),
    /// secrets masked; exits non-zero when the configuration is invalid.
    Config(config::ConfigArgs),
    /// Issues an API token (JWT) for operators and scripts.
    Token(token::TokenArgs),
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Project administration.
    Project {
        #[command(subcommand)]
        command: project::ProjectCommand,
    },
    /// Rollup upkeep.
    Rollup {
        #[command(subcommand)]
        command: rollup::RollupCommand,
    },
    /// The ingest queue in Redis: pause storage (ingest keeps accepting), resume, show depths.
    Queue {
        #[command(subcommand)]
        command: queue::QueueCommand,
    },
    /// Retention and archives of raw events.
    Archive {
        #[command(subcommand)]
        command: archive::ArchiveCommand,
    },
    /// Tracked users (the people a site tracks).
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Sends a realistic beacon load (page views, clicks, scrolls) to a server and prints figures.
    Loadgen(tools::LoadgenArgs),
    /// The end-to-end benchmark against a running server (scripts/bench sets it up).
    Bench(tools::BenchArgs),
    /// Writes a realistic synthetic history for a project (10 million events over 30 days by
    /// default) through the worker's insert statement, rollups included; shows a progress bar.
    Generate(tools::GenerateArgs),
    /// Measures GraphQL query latencies (p50/p95) against a running server: the benchmark's
    /// phase 4, over the data `generate` wrote.
    BenchQueries(tools::BenchQueriesArgs),
    /// Measures this machine's scheduling noise (how late a sleeping thread wakes; how often a
    /// busy thread per core is kept off its CPU): the floor under any latency figure here.
    BenchNoise(tools::BenchNoiseArgs),
    /// The trivial HTTP handler the benchmark compares ingest with.
    #[command(hide = true)]
    BenchTrivial(tools::BenchTrivialArgs),
    /// Serves the demo site (demo/) on its own port, with the tracker tag pointing at a server.
    Demo(tools::DemoArgs),
    /// Measures audience enrichment (user agent, GeoIP, referrer/UTM) in nanoseconds per event
    /// over a realistic mix, cold and warm (docs/BENCHMARKS.md, "Audience enrichment").
    BenchEnrich(tools::BenchEnrichArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::All) {
        Command::All => serve::run(Mode::All).await,
        Command::Serve => serve::run(Mode::Serve).await,
        Command::Worker => serve::run(Mode::Worker).await,
        Command::Migrate(args) => args.run().await,
        Command::Config(args) => args.run(),
        Command::Token(args) => args.run(),
        Command::Admin { command } => command.run().await,
        Command::Project { command } => command.run().await,
        Command::Rollup { command } => command.run().await,
        Command::Queue { command } => command.run().await,
        Command::Archive { command } => command.run().await,
        Command::User { command } => command.run().await,
        Command::Loadgen(args) => args.run().await,
        Command::Bench(args) => args.run().await,
        Command::Generate(args) => args.run().await,
        Command::BenchQueries(args) => args.run().await,
        Command::BenchNoise(args) => args.run().await,
        Command::BenchTrivial(args) => args.run().await,
        Command::Demo(args) => args.run().await,
        Command::BenchEnrich(args) => args.run().await,
    }
}

/// The settings of commands that talk to the platform's databases, loaded once, with logging
/// set up as they ask.
fn settings() -> anyhow::Result<Settings> {
    let settings = Settings::from_env()?;
    sightline::telemetry::init_tracing(settings.log_json);
    Ok(settings)
}
