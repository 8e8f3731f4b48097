//! `sightline demo`: serves the demo site on its own port (so it is cross-origin to the server,
//! like a real customer site), with the tracker tag filled in for a given server and key.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

struct Demo {
    dir: PathBuf,
    server: String,
    key: String,
}

/// Serves the demo pages on `bind` until `shutdown` is cancelled.
pub async fn serve(
    bind: SocketAddr,
    server: String,
    key: String,
    dir: PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let state = Arc::new(Demo {
        dir,
        server: server.trim_end_matches('/').to_string(),
        key,
    });
    let app = Router::new().fallback(page).with_state(state);
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(%bind, "demo site listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

async fn page(State(demo): State<Arc<Demo>>, uri: Uri) -> Response {
    let rel = uri.path().trim_start_matches('/');
    let rel = Path::new(rel);
    // Only plain relative paths inside the demo directory.
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut path = demo.dir.join(rel);
    if path.is_dir() {
        path = path.join("index.html");
    }
    if !path.exists() {
        // Single-page-app routes fall back to the index of the nearest directory that has one
        // (`/app/settings` -> `app/index.html`), like a real SPA host.
        path = rel
            .ancestors()
            .map(|a| demo.dir.join(a).join("index.html"))
            .find(|p| p.exists())
            .unwrap_or_else(|| demo.dir.join("index.html"));
    }
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mime = match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    };
    let body = if ext == "html" {
        String::from_utf8_lossy(&bytes)
            .replace("__SIGHTLINE_URL__", &demo.server)
            .replace("__SIGHTLINE_KEY__", &demo.key)
            .into_bytes()
    } else {
        bytes
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
