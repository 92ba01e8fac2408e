//! The peers of a scaled-out group (`[http] peers`): the live API asks each for its own
//! partitions' view (`/api/v1/local`, which never asks further: no loop between peers) over
//! plain HTTP or HTTPS with a configured CA, with basic auth when configured, all at once and
//! each within `peer_timeout`. A peer that does not answer, or answers with anything but its
//! view, is named: the API then refuses rather than show the group's view without it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Request, StatusCode};
use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

use crate::config::{HttpConfig, PeerUrl};
use crate::live::LiveView;

/// The path a peer serves its own partitions' view at.
pub const LOCAL_PATH: &str = "/api/v1/local";
/// A peer's view is refused beyond this size (10,000 agents take about 3 MB).
const MAX_VIEW_BYTES: usize = 256 << 20;

/// What `/api/v1/local` answers: one instance's own partitions and their merged view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalView {
    pub version: u32,
    /// `topic/partition`, in order.
    pub partitions: Vec<String>,
    pub view: LiveView,
}

/// The peer settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("http.{key} {path}: {reason}")]
    File {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{0}")]
    Config(String),
}

/// Why one peer gave no view.
#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("{0}")]
    Request(#[from] axum::http::Error),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("its view: {0}")]
    Body(String),
}

/// The configured peers and how to reach them.
pub struct Peers {
    peers: Vec<(String, PeerUrl)>,
    timeout: Duration,
    tls: Option<TlsConnector>,
    auth: Option<HeaderValue>,
}

impl Peers {
    /// Reads the peer keys of `[http]` (and the CA and password files they name).
    pub fn of(http: &HttpConfig) -> Result<Peers, PeerError> {
        let mut peers = Vec::with_capacity(http.peers.len());
        for url in &http.peers {
            let peer = PeerUrl::parse(url).map_err(PeerError::Config)?;
            peers.push((url.trim_end_matches('/').to_string(), peer));
        }
        let tls = match &http.peer_ca_file {
            Some(path) => Some(connector(path)?),
            None => None,
        };
        let auth = match (&http.peer_username, &http.peer_password_file) {
            (Some(user), Some(path)) => {
                let password = std::fs::read_to_string(path).map_err(|e| PeerError::File {
                    key: "peer_password_file",
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                let pair = format!("{user}:{}", password.trim_end_matches(['\r', '\n']));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                Some(
                    HeaderValue::from_str(&value)
                        .map_err(|e| PeerError::Config(format!("http.peer_username: {e}")))?,
                )
            }
            _ => None,
        };
        Ok(Peers {
            peers,
            timeout: http.peer_timeout.as_std(),
            tls,
            auth,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Every peer's view, asked at once; or the peers (as configured) that gave none.
    pub async fn gather(self: &Arc<Self>) -> Result<Vec<LocalView>, Vec<String>> {
        let mut asks = JoinSet::new();
        for i in 0..self.peers.len() {
            let peers = self.clone();
            asks.spawn(async move {
                let (url, peer) = &peers.peers[i];
                let answer = tokio::time::timeout(peers.timeout, peers.ask(peer))
                    .await
                    .unwrap_or(Err(AskError::Timeout(peers.timeout)));
                if let Err(e) = &answer {
                    tracing::warn!(peer = %url, "live view of a peer: {e}");
                }
                (i, answer.ok())
            });
        }
        let mut views = vec![None; self.peers.len()];
        while let Some(done) = asks.join_next().await {
            if let Ok((i, view)) = done {
                views[i] = view;
            }
        }
        let missing: Vec<String> = views
            .iter()
            .zip(&self.peers)
            .filter(|(v, _)| v.is_none())
            .map(|(_, (url, _))| url.clone())
            .collect();
        if missing.is_empty() {
            Ok(views.into_iter().flatten().collect())
        } else {
            Err(missing)
        }
    }

    /// One peer's own view.
    async fn ask(&self, peer: &PeerUrl) -> Result<LocalView, AskError> {
        let tcp = TcpStream::connect((peer.host.as_str(), peer.port)).await?;
        let _ = tcp.set_nodelay(true);
        let body = if peer.https {
            let tls = self
                .tls
                .as_ref()
                .ok_or_else(|| AskError::Body("an https peer without http.peer_ca_file".into()))?;
            let name = ServerName::try_from(peer.host.clone())
                .map_err(|e| AskError::Body(format!("server name: {e}")))?;
            let stream = tls.connect(name, tcp).await?;
            self.request(TokioIo::new(stream), peer).await?
        } else {
            self.request(TokioIo::new(tcp), peer).await?
        };
        let view: LocalView =
            serde_json::from_slice(&body).map_err(|e| AskError::Body(e.to_string()))?;
        Ok(view)
    }

    async fn request<IO>(&self, io: IO, peer: &PeerUrl) -> Result<axum::body::Bytes, AskError>
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        let connection = tokio::spawn(connection);
        let host = if peer.host.contains(':') {
            format!("[{}]:{}", peer.host, peer.port)
        } else {
            format!("{}:{}", peer.host, peer.port)
        };
        let mut request = Request::get(format!("{}{LOCAL_PATH}", peer.prefix))
            .header(header::HOST, host)
            .header(header::ACCEPT, "application/json");
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        let response = sender
            .send_request(request.body(axum::body::Body::empty())?)
            .await?;
        if response.status() != StatusCode::OK {
            connection.abort();
            return Err(AskError::Status(response.status()));
        }
        let body =
            axum::body::to_bytes(axum::body::Body::new(response.into_body()), MAX_VIEW_BYTES)
                .await
                .map_err(|e| AskError::Body(e.to_string()));
        connection.abort();
        body
    }
}

/// A TLS client trusting the CA certificates of `path` only.
fn connector(path: &PathBuf) -> Result<TlsConnector, PeerError> {
    let bad = |reason: String| PeerError::File {
        key: "peer_ca_file",
        path: path.clone(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;
    use tokio::net::TcpListener;

    use super::*;
    use crate::live::WaitingRow;

    fn peers(urls: Vec<String>, timeout_ms: i64) -> Arc<Peers> {
        let http = HttpConfig {
            peers: urls,
            peer_timeout: crate::time::Span::from_millis(timeout_ms),
            ..HttpConfig::default()
        };
        Arc::new(Peers::of(&http).unwrap())
    }

    fn one_waiting(id: &str) -> LocalView {
        LocalView {
            version: 1,
            partitions: vec!["events/1".into()],
            view: LiveView {
                at: 5,
                agents: vec![],
                waiting: vec![WaitingRow {
                    queue: "sales".into(),
                    since: 1,
                    channel: crate::event::Channel::Voice,
                    priority: None,
                    contact_id: id.into(),
                }],
            },
        }
    }

    /// A peer serving `view` at `/api/v1/local` to requests with `auth` (any, when `None`).
    async fn serving(view: LocalView, auth: Option<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            LOCAL_PATH,
            get(move |headers: axum::http::HeaderMap| async move {
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if auth.is_some() && given != auth {
                    return Err(StatusCode::UNAUTHORIZED);
                }
                Ok(serde_json::to_vec(&view).unwrap())
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn every_peer_hands_over_its_own_view() {
        let a = serving(one_waiting("c1"), None).await;
        let b = serving(one_waiting("c2"), None).await;
        let views = peers(vec![a, b], 5_000).gather().await.unwrap();
        let ids: Vec<&str> = views
            .iter()
            .map(|v| v.view.waiting[0].contact_id.as_str())
            .collect();
        assert_eq!(ids, ["c1", "c2"]);
    }

    #[tokio::test]
    async fn a_peer_that_does_not_answer_in_time_is_named() {
        let answering = serving(one_waiting("c1"), None).await;
        // accepts the connection, never answers
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_url = format!("http://{}", silent.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        // and one where nothing listens
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let all = vec![answering, silent_url.clone(), closed_url.clone()];
        let started = std::time::Instant::now();
        let missing = peers(all, 300).gather().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            missing,
            [silent_url, closed_url.trim_end_matches('/').to_string()]
        );
    }

    #[tokio::test]
    async fn peers_behind_basic_auth_get_the_configured_credentials() {
        let dir = std::env::temp_dir().join(format!("callpulse-peer-pw-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        // base64("wall:s3cret")
        let url = serving(one_waiting("c1"), Some("Basic d2FsbDpzM2NyZXQ=")).await;
        let without = peers(vec![url.clone()], 5_000).gather().await;
        assert!(without.is_err());
        let http = HttpConfig {
            peers: vec![url],
            peer_username: Some("wall".into()),
            peer_password_file: Some(dir.clone()),
            ..HttpConfig::default()
        };
        let with = Arc::new(Peers::of(&http).unwrap()).gather().await;
        let _ = std::fs::remove_file(&dir);
        assert_eq!(with.unwrap().len(), 1);
    }
}
