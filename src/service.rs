//! `callpulse run`: the Kafka consumer, the partition workers and the HTTP server, started
//! together and stopped together by one shutdown future.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::ingest::{consume, IngestError};
use crate::metrics::Shared;

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
    Ingest(#[from] IngestError),
    #[error("consumer thread panicked")]
    Panicked,
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
    let shared = Shared::new(config);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("serving http://{addr}/metrics (wallboard at http://{addr}/)");
    }
    let runtime = tokio::runtime::Handle::current();
    let consumer_shared = shared.clone();
    let consumer = std::thread::Builder::new()
        .name("kafka-consumer".into())
        .spawn(move || consume(consumer_shared, runtime))
        .map_err(ServiceError::Http)?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(crate::http::serve(listener, shared.clone(), async move {
        let _ = http_stopped.await;
    }));
    shutdown.await;
    tracing::info!("shutting down: finishing batches, committing offsets, leaving the group");
    shared.stopping.store(true, Ordering::Relaxed);
    let consumed = tokio::task::spawn_blocking(move || consumer.join()).await;
    let _ = stop_http.send(());
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
