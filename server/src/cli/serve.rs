//! `sightline all | serve | worker`: the platform's long-running processes.

use sightline::app::{shutdown_on_signal, Application, Mode};
use tokio_util::sync::CancellationToken;

pub async fn run(mode: Mode) -> anyhow::Result<()> {
    let settings = super::settings()?;
    let app = Application::build(settings, mode).await?;
    if mode != Mode::Worker {
        tracing::info!(port = app.port(), "listening");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await;
    Ok(())
}
