//! The HTTP face: `/metrics` (contract + self-metrics), `/healthz`, `/readyz` and the
//! built-in wallboard at `/`.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::clock::wall_now;

use super::state::ServiceState;

/// The wallboard page: self-contained, no external assets.
pub const WALLBOARD: &str = include_str!("wallboard.html");

pub fn router(state: Arc<ServiceState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/", get(|| async { Html(WALLBOARD) }))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<ServiceState>>) -> impl IntoResponse {
    let body = tokio::task::spawn_blocking(move || state.render_metrics(wall_now()))
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn readyz(State(state): State<Arc<ServiceState>>) -> impl IntoResponse {
    if state.ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServiceState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
