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
use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::net::TcpListener;

use crate::export::{Exposition, Selection, Sink};

use super::self_metrics::{InternalEvent, RenderAbandoned};
use super::state::ServiceState;
use super::web::{require_basic_auth, Web};

/// The wallboard page: self-contained, no external assets.
pub const WALLBOARD: &str = include_str!("wallboard.html");

pub fn router(state: Arc<ServiceState>, web: &Web) -> Result<Router, super::peers::PeerError> {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/", get(|| async { Html(WALLBOARD) }))
        .with_state(state.clone())
        .merge(super::api::routes(state.clone())?);
    Ok(match &web.auth {
        Some(auth) => router.layer(from_fn_with_state(
            (auth.clone(), state),
            require_basic_auth,
        )),
        None => router,
    })
}

/// Whether an `Accept-Encoding` header accepts gzip: `gzip` (or `*`) with a quality above 0.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for coding in value.split(',') {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                "*" => any = Some(q > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// A `?window=` that names no window of the export profile (nor `now`, the live gauges').
fn unknown_window(state: &ServiceState, selection: &Selection) -> Option<String> {
    let export = &state.config().center.export;
    (selection.windows.iter())
        .find(|w| *w != "now" && !export.window(w))
        .cloned()
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
    if let Some(w) = unknown_window(&state, &selection) {
        let text = format!("window {w:?} is not exported (see [export] windows)\n");
        return (StatusCode::BAD_REQUEST, text).into_response();
    }
    let gzip = accepts_gzip(&headers);
    // Scrapes that arrive together share one snapshot of every partition worker; when a
    // partition cannot answer, the scrape is refused: its queues would read 0.
    let gathered = match state.gather().await {
        Ok(g) => g,
        Err(incomplete) => {
            let text = format!("{incomplete}\n");
            return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
        }
    };
    if !selection.families.is_empty() {
        let mut names = Exposition::names();
        state.render_into(&gathered, &Selection::default(), &mut names);
        let known = names.into_names();
        if let Some(f) = selection.families.iter().find(|f| !known.contains(f)) {
            let text = format!("family {f:?} is not written by this instance's export profile\n");
            return (StatusCode::BAD_REQUEST, text).into_response();
        }
    }
    // Rendering and compressing take a core for a large center: on a blocking thread, at most
    // max_concurrent_scrapes at once, written into the response a chunk at a time as it is
    // rendered, so a scrape's memory does not grow with its series.
    let Ok(turn) = state.render_turns().clone().acquire_owned().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
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
        state.render_into(&gathered, &selection, &mut out);
        if out.finish_stream().is_err() {
            // the reader stopped taking the response (write_timeout) or went away
            RenderAbandoned.emit(state.metrics());
        }
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

/// Serves until `shutdown` completes: over TLS and behind basic auth when `web` says so, under
/// the `[http]` connection limits (`super::listener`).
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServiceState>,
    web: Web,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone(), &web).map_err(std::io::Error::other)?;
    super::listener::serve(listener, app, web.tls, state, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_sent_only_when_accepted_with_a_quality_above_zero() {
        assert!(accept("gzip"));
        assert!(accept("deflate, gzip;q=0.5"));
        assert!(accept("GZIP"));
        assert!(accept("*"));
        assert!(!accept("gzip;q=0"));
        assert!(!accept("gzip; q=0.0, identity"));
        assert!(!accept("*;q=0"));
        assert!(!accept("gzip;q=0, *"), "an explicit gzip;q=0 wins over *");
        assert!(!accept("identity"));
        assert!(!accept("gzipx"));
    }
}
