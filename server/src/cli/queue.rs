//! `sightline queue`: the ingest queue in Redis (pause storage for database work, resume, show).

use anyhow::Context;
use clap::Subcommand;
use sightline::queue::Queue;
use sightline::redis_conn::RedisConn;

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

impl QueueCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let conn = RedisConn::connect(settings.redis_url.expose())
            .await
            .context("connect to Redis")?;
        let queue = Queue::new(conn, &settings.queue, &settings.worker);
        match self {
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
}
