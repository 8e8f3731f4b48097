//! Logs and metrics: structured tracing output and the Prometheus recorder behind `/metrics`.
//! Metric names live in [`names`] only, so dashboards and alert rules have one place to look.

pub mod names;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global tracing subscriber (JSON lines or human-readable). Idempotent.
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_env("SIGHTLINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let result = if json {
        fmt()
            .with_env_filter(filter)
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .try_init()
    } else {
        fmt().with_env_filter(filter).compact().try_init()
    };
    // A second init (tests spawning several apps) keeps the first subscriber.
    let _ = result;
}

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".to_string()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("_size".to_string()),
                        &[
                            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
                        ],
                    )
                });
            match builder.map(|b| b.install_recorder()) {
                Ok(Ok(handle)) => handle,
                // A recorder already installed (tests): render an empty registry instead.
                _ => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// A progress display for long CLI work on stderr (hidden when stderr is not a terminal):
/// `len` steps, or a spinner when the amount of work is not known in advance. Ticks on its own
/// so slow steps still show time passing.
pub fn progress_bar(len: Option<u64>, template: &str) -> indicatif::ProgressBar {
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
