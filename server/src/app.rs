//! Startup and lifecycle: the one place that assembles the parts. It builds what the process's
//! [`Mode`] needs (the worker builds no HTTP router, schema or enqueuer), hands each router its
//! own state, and runs the background tasks until a shutdown signal. `main` and the integration
//! tests use it the same way: `Application::build(settings, mode)`, then `port()`, then
//! `run_until_stopped(shutdown)`.

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

use crate::auth::password::PasswordWork;
use crate::auth::revocation::Revocation;
use crate::auth::share::ShareLinks;
use crate::auth::throttle::LoginThrottle;
use crate::auth::JwtKeys;
use crate::config::Settings;
use crate::edge::{self, body_limit, body_limit::Shape, body_limit::OTHER_ROUTES};
use crate::graphql::{self, ApiContext};
use crate::ingest::Intake;
use crate::live::LiveHub;
use crate::queue::{Enqueuer, Queue};
use crate::redis_conn::RedisConn;
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

impl Mode {
    fn serves(self) -> bool {
        matches!(self, Mode::Serve | Mode::All)
    }

    fn works(self) -> bool {
        matches!(self, Mode::Worker | Mode::All)
    }
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
    #[error("single sign-on: {0}")]
    Oidc(String),
    #[error("audience enrichment: {0}")]
    Enrich(#[from] crate::enrich::EnrichError),
}

/// The HTTP side of a process: its socket, its router (each part with its own state) and what
/// its background tasks need.
struct Http {
    listener: TcpListener,
    router: Router,
    /// `/metrics` on an address of its own (`SIGHTLINE_METRICS_BIND`).
    metrics: Option<(TcpListener, Router)>,
    live: LiveHub,
    intake: Arc<Intake>,
}

pub struct Application {
    settings: Arc<Settings>,
    db: Db,
    queue: Queue,
    http: Option<Http>,
    port: u16,
    /// The worker's enricher: present when this process works the queue ([`Mode`]). Built here
    /// so a GeoIP database that cannot be read stops the start rather than every country.
    enricher: Option<crate::enrich::Enricher>,
}

impl Application {
    pub async fn build(settings: Settings, mode: Mode) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let db = Db::connect(&settings).await?;
        let conn = RedisConn::connect(settings.redis_url.expose()).await?;
        let queue = Queue::new(conn, &settings.queue, &settings.worker);
        let (http, port) = if mode.serves() {
            let http = build_http(&settings, &db, &queue).await?;
            let port = http.listener.local_addr().map(|a| a.port()).unwrap_or(0);
            (Some(http), port)
        } else {
            (None, 0)
        };
        let enricher = if mode.works() {
            Some(crate::enrich::Enricher::new(settings.geoip_db.as_deref())?)
        } else {
            None
        };
        Ok(Self {
            settings,
            db,
            queue,
            http,
            port,
            enricher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The live feed's fan-out hub (processes that serve HTTP only).
    pub fn live(&self) -> Option<&LiveHub> {
        self.http.as_ref().map(|h| &h.live)
    }

    /// Runs until `shutdown` is cancelled, then drains: HTTP stops accepting, in-flight
    /// requests finish, the worker finishes or releases its batch. Nothing in here ends the
    /// process on its own: failures are logged and retried by the part that had them.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        let settings = self.settings;
        if let Some(enricher) = self.enricher {
            let w = Arc::new(Worker::new(
                self.queue.clone(),
                self.db.clone(),
                settings.clone(),
                enricher,
            ));
            tasks.spawn(w.run(settings.worker.lanes, shutdown.clone()));
            tasks.spawn(worker::run_maintenance(
                self.db.clone(),
                self.queue.clone(),
                (*settings).clone(),
                shutdown.clone(),
            ));
        }
        tasks.spawn(sample_queue_depth(self.queue.clone(), shutdown.clone()));
        if let Some(http) = self.http {
            tasks.spawn(
                http.live
                    .run(settings.redis_url.expose().to_string(), shutdown.clone()),
            );
            let intake = http.intake;
            let stop = shutdown.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(60)) => intake.prune(),
                    }
                }
            });
            if let Some((listener, app)) = http.metrics {
                let stop = shutdown.clone();
                tasks.spawn(async move {
                    let server = axum::serve(listener, app)
                        .with_graceful_shutdown(async move { stop.cancelled().await });
                    if let Err(e) = server.await {
                        tracing::error!(error = %e, "metrics server failed");
                    }
                });
            }
            let (listener, app) = (http.listener, http.router);
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
    }
}

/// Builds the HTTP side: the ingest intake (with its enqueuer), the GraphQL API, the static
/// files and the operations endpoints, each router with its own state, and binds the socket.
async fn build_http(settings: &Settings, db: &Db, queue: &Queue) -> Result<Http, StartError> {
    let jwt = JwtKeys::from_settings(&settings.jwt).map_err(StartError::Jwt)?;
    let enqueuer = Enqueuer::start(queue.clone(), settings.redis_url.expose(), 8192);
    let salt = crate::ingest::DailySalt::new(queue.conn(), queue.key("cookieless-salt:"));
    let intake = Arc::new(Intake::new(
        settings.ingest.clone(),
        db.clone(),
        enqueuer,
        salt,
    ));
    let live = LiveHub::with_buffer(settings.live_buffer);
    let revocation = Arc::new(Revocation::new(db.clone()));
    let export = crate::export::router(db.clone(), jwt.clone(), revocation.clone());
    let api = ApiContext {
        db: db.clone(),
        queue: queue.clone(),
        jwt,
        live: live.clone(),
        intake: intake.clone(),
        throttle: Arc::new(LoginThrottle::new(
            queue.conn(),
            &settings.queue.prefix,
            &settings.login,
        )),
        passwords: Arc::new(PasswordWork::new(
            settings.login.hash_concurrency,
            settings.login.hash_queue,
        )),
        revocation,
        share_links: Arc::new(ShareLinks::new(db.clone())),
        single_sign_on: settings.oidc.is_some(),
    };
    let sso = match &settings.oidc {
        Some(oidc) => {
            let provider =
                crate::auth::oidc::Provider::new(oidc.clone()).map_err(StartError::Oidc)?;
            crate::sso::router(Arc::new(crate::sso::Sso {
                provider,
                db: db.clone(),
                redis: queue.conn(),
                key_base: format!("{}:oidc:", settings.queue.prefix),
                jwt: api.jwt.clone(),
                revocation: api.revocation.clone(),
                intake: intake.clone(),
            }))
        }
        None => crate::sso::router_off(),
    };
    let ops = Ops {
        db: db.clone(),
        queue: queue.clone(),
        metrics: telemetry::metrics_handle(),
        metrics_token: settings.metrics.token.clone(),
    };
    let metrics = match settings.metrics.bind {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            let router = Router::new()
                .route("/metrics", get(metrics_endpoint))
                .with_state(ops.clone());
            Some((listener, router))
        }
        None => None,
    };
    let router = router(
        settings,
        crate::ingest::router(intake.clone()),
        graphql::router(api, &settings.api),
        export.merge(sso),
        ops,
    );
    let listener = TcpListener::bind(settings.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: settings.bind,
            source,
        })?;
    Ok(Http {
        listener,
        router,
        metrics,
        live,
        intake,
    })
}

/// What the operations endpoints (`/readyz`, `/metrics`) read.
#[derive(Clone)]
struct Ops {
    db: Db,
    queue: Queue,
    metrics: PrometheusHandle,
    /// The bearer token `/metrics` requires (`SIGHTLINE_METRICS_TOKEN`).
    metrics_token: Option<crate::config::Secret>,
}

/// The whole HTTP surface: the ingest and GraphQL routers as given, the tracker's and the
/// dashboard's files, the operations endpoints, and the layers every request goes through.
fn router(
    settings: &Settings,
    ingest: Router,
    graphql: Router,
    export: Router,
    ops: Ops,
) -> Router {
    let web = &settings.web_dir;
    let spa = ServeDir::new(web).fallback(ServeFile::new(web.join("index.html")));
    let mut ops_routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    if settings.metrics.bind.is_none() {
        ops_routes = ops_routes.route("/metrics", get(metrics_endpoint));
    }
    let ops = ops_routes.with_state(ops);
    let others = Router::new()
        .merge(export)
        .merge(tracker_routes(&settings.tracker_dir))
        .merge(ops)
        .fallback_service(spa);
    Router::new()
        .merge(body_limit::limit(
            ingest,
            settings.ingest.max_body_bytes,
            Shape::Contract,
        ))
        .merge(body_limit::limit(
            graphql,
            settings.graphql_max_body_bytes,
            Shape::GraphQL,
        ))
        .merge(body_limit::limit(others, OTHER_ROUTES, Shape::Contract))
        .layer(middleware::from_fn(edge::headers::security_headers))
        .layer(middleware::from_fn(track_latency))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The tracker's files: public, loaded by every customer site from its own origin. The loader
/// imports the wasm-bindgen module, and cross-origin module imports need CORS.
fn tracker_routes(dir: &std::path::Path) -> Router {
    Router::new()
        .route_service("/sightline.js", ServeFile::new(dir.join("sightline.js")))
        .nest_service("/tracker", ServeDir::new(dir))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            axum::http::HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::HeaderName::from_static("cross-origin-resource-policy"),
            axum::http::HeaderValue::from_static("cross-origin"),
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

async fn metrics_endpoint(State(ops): State<Ops>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &ops.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared in constant time: the token is a password.
        if !constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                Json(serde_json::json!({ "error": "send Authorization: Bearer <SIGHTLINE_METRICS_TOKEN>", "code": "unauthorized" })),
            )
                .into_response();
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        ops.metrics.render(),
    )
        .into_response()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // Hashing first makes the comparison independent of where the inputs differ and of their
    // lengths.
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Readiness: "ok" or "unavailable" per dependency. Error texts (host names, users, versions)
/// go to the log, not to whoever asks: `/readyz` is public behind most load balancers.
async fn readyz(State(ops): State<Ops>) -> Response {
    let hide = |what: &'static str| {
        move |e: String| {
            tracing::warn!(dependency = what, error = %e, "readiness check failed");
            "unavailable".to_string()
        }
    };
    let db = ops
        .db
        .ping()
        .await
        .map_err(|e| e.to_string())
        .map_err(hide("postgres"));
    let redis = ops
        .queue
        .ping()
        .await
        .map_err(|e| e.to_string())
        .map_err(hide("redis"));
    let migrations = match migration::Migrator::get_pending_migrations(&ops.db.primary).await {
        Ok(p) if p.is_empty() => Ok(()),
        Ok(p) => Err(format!(
            "{} migrations pending: run `sightline migrate`",
            p.len()
        )),
        Err(e) => Err(hide("migrations")(e.to_string())),
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
