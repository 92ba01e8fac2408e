//! The HTTP face: `/metrics` (contract + self-metrics; a slice by `?queue=`, `?window=`,
//! `?family=`, `?shard=i/n`; gzip when accepted), `/healthz`, `/readyz` and the built-in
//! wallboard at `/`; over TLS and behind basic auth when `[http] web_config_file` says so
//! ([`super::web`]).

use std::future::Future;
use std::sync::Arc;

use std::io::Write;

use axum::body::{Body, Bytes};
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

use crate::export::{Exposition, Selection, Sink};

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
    // The partition workers each hand over a snapshot of their engine (between two batches);
    // rendering and compressing take a core for a large center: on a blocking thread, off the
    // async workers and the partition workers, written
    // into the response a chunk at a time as it is rendered, so a scrape's memory does not
    // grow with its series.
    let views = state.scrape_views().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let body = Chunks {
            tx,
            buf: Vec::new(),
        };
        let sink: Sink = if gzip {
            Box::new(Gzip(Some(GzEncoder::new(body, Compression::fast()))))
        } else {
            Box::new(body)
        };
        let mut out = Exposition::streaming(sink);
        state.render_into(state.now(), &selection, &views, &mut out);
        // an error here is a scraper that went away: nothing to tell
        let _ = out.finish_stream();
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        let encoding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        ([content_type, vary, encoding], body).into_response()
    } else {
        ([content_type, vary], body).into_response()
    }
}

/// The response body being written: bytes handed to the response in pieces of [`PIECE`].
struct Chunks {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

/// Bytes sent to the response at a time.
const PIECE: usize = 64 * 1024;

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::take(&mut self.buf));
        (self.tx.blocking_send(Ok(piece)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    /// Sends what is left.
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A gzip stream into the response; flushing ends it (the exposition flushes once, at the end).
struct Gzip(Option<GzEncoder<Chunks>>);

impl Write for Gzip {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self.0.as_mut() {
            Some(gz) => gz.write(data),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.take() {
            Some(gz) => gz.finish()?.flush(),
            None => Ok(()),
        }
    }
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
