//! The HTTP server's connections: accepted by one loop, each served by hyper over TLS or plain
//! TCP, under the `[http]` limits — at most `max_connections` open (a new one closes the oldest,
//! so a flood of idle connections cannot lock out `/healthz` or a scrape), a request header and a
//! TLS handshake within `header_read_timeout`, nothing from the client for `idle_timeout` or a
//! response not taken for `write_timeout` closes the connection. Every limit hit is counted.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpConfig;

use super::self_metrics::{
    ConnectionClosed, ConnectionReason, ConnectionsServed, InternalEvent, SelfMetrics,
};
use super::state::ServiceState;

/// How long open connections may finish their requests once the server stops.
const GRACE: Duration = Duration::from_secs(5);

/// The connections open, oldest first, each with the token that closes it.
#[derive(Default)]
struct Open {
    next: u64,
    by_age: BTreeMap<u64, CancellationToken>,
}

/// Accepts and serves connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<ServiceState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config().http.clone();
    let tls = tls.map(TlsAcceptor::from);
    let open = Arc::new(Mutex::new(Open::default()));
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.cancel();
    });
    let tracker = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // out of file descriptors and the like: wait, do not spin
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let (id, close) = admit(&open, limits.max_connections, &stop, state.metrics());
        let conn = Connection {
            app: app.clone(),
            tls: tls.clone(),
            limits: limits.clone(),
            close,
        };
        let (open, state) = (open.clone(), state.clone());
        tracker.spawn(async move {
            let reason = conn.serve(stream).await;
            let mut open = lock(&open);
            // an evicted connection was counted, and stopped being served, when evicted
            if open.by_age.remove(&id).is_some() {
                ConnectionsServed(open.by_age.len()).emit(state.metrics());
                if let Some(reason) = reason {
                    ConnectionClosed { reason }.emit(state.metrics());
                }
            }
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(GRACE, tracker.wait()).await;
    Ok(())
}

fn lock(open: &Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a new connection, closed when the server `stop`s; at `max` open, the oldest is told
/// to close (it finishes the request it is answering, if any) and is no longer counted as served.
fn admit(
    open: &Mutex<Open>,
    max: usize,
    stop: &CancellationToken,
    metrics: &SelfMetrics,
) -> (u64, CancellationToken) {
    let mut open = lock(open);
    while open.by_age.len() >= max.max(1) {
        let Some((_, oldest)) = open.by_age.pop_first() else {
            break;
        };
        oldest.cancel();
        ConnectionClosed {
            reason: ConnectionReason::Evicted,
        }
        .emit(metrics);
    }
    let id = open.next;
    open.next += 1;
    let close = stop.child_token();
    open.by_age.insert(id, close.clone());
    ConnectionsServed(open.by_age.len()).emit(metrics);
    (id, close)
}

/// One accepted connection and what it is served under.
struct Connection {
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: HttpConfig,
    /// Cancelled when newer connections need its place (an eviction, counted then) or when the
    /// server stops.
    close: CancellationToken,
}

/// A configured limit as a timeout (never zero: a zero timeout would fire at once).
fn duration(span: crate::time::Span) -> Duration {
    span.as_std().max(Duration::from_millis(1))
}

impl Connection {
    /// Serves the connection to its end; why the server closed it, when a timeout did.
    async fn serve(self, stream: TcpStream) -> Option<ConnectionReason> {
        let _ = stream.set_nodelay(true);
        let mut timed = TimeoutStream::new(stream);
        timed.set_read_timeout(Some(duration(self.limits.idle_timeout)));
        timed.set_write_timeout(Some(duration(self.limits.write_timeout)));
        let timed = Box::pin(timed);
        match self.tls.clone() {
            None => self.http(timed).await,
            Some(acceptor) => {
                let handshake = duration(self.limits.header_read_timeout);
                tokio::select! {
                    done = tokio::time::timeout(handshake, acceptor.accept(timed)) => match done {
                        Ok(Ok(tls)) => self.http(tls).await,
                        Ok(Err(_)) => None,
                        Err(_) => Some(ConnectionReason::Timeout),
                    },
                    _ = self.close.cancelled() => None,
                }
            }
        }
    }

    async fn http<I>(&self, io: I) -> Option<ConnectionReason>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = TowerToHyperService::new(self.app.clone());
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(duration(self.limits.header_read_timeout))
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service);
        let mut conn: Pin<&mut _> = std::pin::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            _ = self.close.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.as_mut().await
            }
        };
        match result {
            Err(e) if timed_out(&e) => Some(ConnectionReason::Timeout),
            _ => None,
        }
    }
}

/// Whether hyper gave up on a connection for a timeout (its header read, or the socket's read
/// or write timeout).
fn timed_out(e: &hyper::Error) -> bool {
    if e.is_timeout() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::TimedOut;
        }
        source = s.source();
    }
    false
}
