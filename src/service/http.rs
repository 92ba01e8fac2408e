//! The HTTP face: `/metrics` (contract + self-metrics; a slice by `?queue=`, `?window=`,
//! `?family=`, `?shard=i/n`; gzip when accepted), `/healthz`, `/readyz` and the built-in
//! wallboard at `/`; over TLS and behind basic auth when `[http] web_config_file` says so
//! ([`super::web`]).

use std::future::Future;
use std::sync::Arc;

use std::io::Write;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::net::TcpListener;

use crate::export::Selection;

use super::state::ServiceState;
use super::web::{require_basic_auth, Web};

/// The wallboard page: self-contained, no external assets.
pub const WALLBOARD: &str = include_str!("wallboard.html");

pub fn router(state: Arc<ServiceState>, web: &Web) -> Router {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/", get(|| async { Html(WALLBOARD) }))
        .with_state(state);
    match &web.auth {
        Some(auth) => router.layer(from_fn_with_state(auth.clone(), require_basic_auth)),
        None => router,
    }
}

/// `/metrics`: the whole exposition, or a slice of it by `?queue=`, `?window=`, `?family=`
/// and `?shard=i/n`; gzip when the scraper accepts it (Prometheus does).
async fn metrics(
    State(state): State<Arc<ServiceState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let selection = match Selection::parse(query.as_deref().unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // rendering and compressing take a core for a large center: off the async workers
    let body = tokio::task::spawn_blocking(move || {
        let text = state.render_selected(state.now(), &selection);
        if gzip {
            gzipped(text.as_bytes()).map_err(|_| text.into_bytes())
        } else {
            Err(text.into_bytes())
        }
    })
    .await
    .unwrap_or_else(|_| Err(Vec::new()));
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    match body {
        Ok(zipped) => (
            [
                content_type,
                vary,
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            ],
            zipped,
        )
            .into_response(),
        Err(plain) => ([content_type, vary], plain).into_response(),
    }
}

fn gzipped(text: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::with_capacity(text.len() / 8), Compression::fast());
    gz.write_all(text)?;
    gz.finish()
}

async fn readyz(State(state): State<Arc<ServiceState>>) -> impl IntoResponse {
    if state.ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Serves until `shutdown` completes: over TLS and behind basic auth when `web` says so.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServiceState>,
    web: Web,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state, &web);
    let Some(tls) = web.tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, RustlsConfig::from_config(tls))?
        .handle(handle)
        .serve(app.into_make_service())
        .await
}
