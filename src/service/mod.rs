//! `callpulse run`: the Kafka consumer ([`consumer`]), its partition workers ([`worker`]) and
//! the HTTP server ([`http`]), sharing one [`state::ServiceState`], started together and
//! stopped together by one shutdown token.

pub mod api;
mod batch;
pub mod checkpoint;
pub mod consumer;
pub mod http;
pub mod keying;
mod listener;
pub mod peers;
pub mod scrape;
pub mod self_metrics;
pub mod state;
mod view;
pub mod web;
pub mod worker;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use consumer::{consume, ConsumeError};
use state::ServiceState;

pub use worker::PUBLISH_EVERY;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("http server: {0}")]
    Http(#[source] std::io::Error),
    #[error(transparent)]
    Consumer(#[from] ConsumeError),
    #[error("consumer thread panicked")]
    Panicked,
    #[error(transparent)]
    Web(#[from] web::WebError),
    #[error(transparent)]
    Peers(#[from] peers::PeerError),
}

/// Binds `[http] listen` and runs until `shutdown` completes.
pub async fn run(
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let addr = config.http.listen.clone();
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServiceError::Listen { addr, source })?;
    serve(config, listener, shutdown).await
}

/// Runs the service on an already bound listener (tests bind port 0) until `shutdown`:
/// then the consumer finishes its batches, commits, leaves the group, and the server stops.
pub async fn serve(
    config: Arc<Config>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    serve_clocked(config, Clock::Wall, listener, shutdown).await
}

/// [`serve`] with the time of day read from `clock` (the soak tool's compressed clock).
pub async fn serve_clocked(
    config: Arc<Config>,
    clock: Clock,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let web = web::Web::of(&config)?;
    // the peers' CA and password files are read before the group is joined
    peers::Peers::of(&config.http)?;
    let state = ServiceState::with_clock(config, clock);
    if let Ok(addr) = listener.local_addr() {
        let scheme = web.scheme();
        tracing::info!(
            security = web.describe(),
            "serving {scheme}://{addr}/metrics (wallboard at {scheme}://{addr}/)"
        );
    }
    for not in &state.config().center.export.not_exported {
        tracing::info!("{not}");
    }
    let stop = CancellationToken::new();
    let consumer = spawn_consumer(state.clone(), stop.clone()).map_err(ServiceError::Http)?;
    let http_stop = CancellationToken::new();
    let http = tokio::spawn(http::serve(
        listener,
        state.clone(),
        web,
        http_stop.clone().cancelled_owned(),
    ));
    shutdown.await;
    tracing::info!("shutting down: finishing batches, committing offsets, leaving the group");
    stop.cancel();
    let consumed = tokio::task::spawn_blocking(move || consumer.join()).await;
    http_stop.cancel();
    let served = http.await;
    match consumed {
        Ok(Ok(result)) => result?,
        _ => return Err(ServiceError::Panicked),
    }
    if let Ok(Err(e)) = served {
        return Err(ServiceError::Http(e));
    }
    Ok(())
}

/// Starts the Kafka consumer on its own thread (it blocks in librdkafka); it runs until `stop`
/// is cancelled. Call from inside a tokio runtime: the partition workers run on it.
pub fn spawn_consumer(
    state: Arc<ServiceState>,
    stop: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<Result<(), ConsumeError>>> {
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("kafka-consumer".into())
        .spawn(move || consume(state, runtime, stop))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
