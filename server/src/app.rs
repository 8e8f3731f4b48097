//! Startup and lifecycle: builds the shared state, the HTTP router and the background tasks, and
//! runs them until a shutdown signal. `main` and the integration tests use it the same way:
//! `Application::build(settings, mode)`, then `port()`, then `run_until_stopped(shutdown)`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::JwtKeys;
use crate::config::Settings;
use crate::graphql::{self, ApiSchema};
use crate::ingest::{KeyCache, Limits};
use crate::live::LiveHub;
use crate::queue::{Enqueuer, Queue, RedisConn};
use crate::storage::Db;
use crate::telemetry::{self, names};
use crate::worker::{self, Worker};

/// Which parts run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP only (ingest, GraphQL, static files).
    Serve,
    /// Queue consumer and maintenance only.
    Worker,
    /// Both: the default for local use.
    All,
}

/// Everything request handlers share: one pointer, cloned by every extractor and middleware of
/// every request (a struct of a dozen handles cost two atomic updates per handle per clone: ~5%
/// of the server's CPU on 1-event beacons, measured with perf).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points at.
pub struct Shared {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub queue: Queue,
    pub enqueuer: Enqueuer,
    pub keys: KeyCache,
    pub limits: Limits,
    pub jwt: JwtKeys,
    pub live: LiveHub,
    pub schema: ApiSchema,
    pub metrics: PrometheusHandle,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Db(#[from] crate::storage::StorageError),
    #[error("cannot connect to Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("JWT keys: {0}")]
    Jwt(String),
}

pub struct Application {
    state: AppState,
    mode: Mode,
    listener: Option<TcpListener>,
    port: u16,
}

impl Application {
    pub async fn build(settings: Settings, mode: Mode) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let db = Db::connect(&settings).await?;
        let conn = RedisConn::connect(settings.redis_url.expose()).await?;
        let queue = Queue::new(conn, &settings.queue, &settings.worker);
        let jwt = JwtKeys::from_settings(&settings.jwt).map_err(StartError::Jwt)?;
        let state = AppState(Arc::new(Shared {
            enqueuer: Enqueuer::start(queue.clone(), settings.redis_url.expose(), 8192),
            keys: KeyCache::default(),
            limits: Limits::new(&settings.ingest),
            jwt,
            live: LiveHub::with_buffer(settings.live_buffer),
            schema: graphql::build_schema(),
            metrics: telemetry::metrics_handle(),
            settings: settings.clone(),
            db,
            queue,
        }));
        let (listener, port) = if mode == Mode::Worker {
            (None, 0)
        } else {
            let l = TcpListener::bind(settings.bind)
                .await
                .map_err(|source| StartError::Bind {
                    addr: settings.bind,
                    source,
                })?;
            let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
            (Some(l), port)
        };
        Ok(Self {
            state,
            mode,
            listener,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until `shutdown` is cancelled, then drains: HTTP stops accepting, in-flight
    /// requests finish, the worker finishes or releases its batch.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        let state = self.state;
        if matches!(self.mode, Mode::Worker | Mode::All) {
            let w = Arc::new(Worker::new(
                state.queue.clone(),
                state.db.clone(),
                state.settings.clone(),
            ));
            tasks.spawn(w.run(state.settings.worker.lanes, shutdown.clone()));
            tasks.spawn(worker::run_maintenance(
                state.db.clone(),
                state.queue.clone(),
                (*state.settings).clone(),
                shutdown.clone(),
            ));
        }
        tasks.spawn(sample_queue_depth(state.queue.clone(), shutdown.clone()));
        if let Some(listener) = self.listener {
            tasks.spawn(state.live.clone().run(
                state.settings.redis_url.expose().to_string(),
                shutdown.clone(),
            ));
            let limits = state.limits.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(60)) => limits.prune(),
                    }
                }
            });
            let app = router(state.clone());
            let stop = shutdown.clone();
            tasks.spawn(async move {
                let server = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move { stop.cancelled().await });
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    let tracker = &state.settings.tracker_dir;
    let web = &state.settings.web_dir;
    let spa = ServeDir::new(web).fallback(ServeFile::new(web.join("index.html")));
    Router::new()
        .merge(crate::ingest::router(&state))
        .merge(graphql::router())
        .merge(tracker_routes(tracker))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_endpoint))
        .fallback_service(spa)
        .layer(middleware::from_fn(track_latency))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The tracker's files: public, loaded by every customer site from its own origin. The loader
/// imports the wasm-bindgen module, and cross-origin module imports need CORS.
fn tracker_routes(dir: &std::path::Path) -> Router<AppState> {
    Router::new()
        .route_service("/sightline.js", ServeFile::new(dir.join("sightline.js")))
        .nest_service("/tracker", ServeDir::new(dir))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            axum::http::HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("public, max-age=300"),
        ))
}

async fn track_latency(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".to_string());
    let resp = next.run(req).await;
    metrics::histogram!(names::HTTP_REQUEST_SECONDS, "method" => method, "path" => path, "status" => resp.status().as_u16().to_string())
        .record(started.elapsed().as_secs_f64());
    resp
}

async fn metrics_endpoint(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

async fn readyz(State(state): State<AppState>) -> Response {
    let db = state.db.ping().await.map_err(|e| e.to_string());
    let redis = state.queue.ping().await.map_err(|e| e.to_string());
    let migrations = match migration::Migrator::get_pending_migrations(&state.db.primary).await {
        Ok(p) if p.is_empty() => Ok(()),
        Ok(p) => Err(format!(
            "{} migrations pending: run `sightline migrate`",
            p.len()
        )),
        Err(e) => Err(e.to_string()),
    };
    let ok = db.is_ok() && redis.is_ok() && migrations.is_ok();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    let body = serde_json::json!({ "postgres": show(&db), "redis": show(&redis), "migrations": show(&migrations) });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Publishes queue depths as gauges every few seconds.
async fn sample_queue_depth(queue: Queue, shutdown: CancellationToken) {
    loop {
        if let Ok(c) = queue.counts().await {
            metrics::gauge!(names::QUEUE_PAUSED).set(if c.paused { 1.0 } else { 0.0 });
            for (state, n) in [
                ("wait", c.waiting),
                ("active", c.active),
                ("delayed", c.delayed),
                ("failed", c.failed),
                ("completed", c.completed),
            ] {
                metrics::gauge!(names::QUEUE_JOBS, "state" => state).set(n as f64);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub async fn shutdown_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received; draining");
    token.cancel();
}
