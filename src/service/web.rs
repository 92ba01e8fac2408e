//! Protected endpoints: the Prometheus exporter-toolkit web configuration file
//! (`[http] web_config_file`, as node_exporter's `--web.config.file`): TLS from
//! `tls_server_config` and basic auth from `basic_auth_users` (bcrypt hashes), so the same file
//! and the same Prometheus scrape config serve callpulse as they serve node_exporter.
//!
//! Supported: `cert_file`, `key_file`, `client_ca_file`, `client_auth_type` (`NoClientCert`,
//! `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`), `min_version` / `max_version`
//! (`TLS12`, `TLS13`), and `basic_auth_users`. Keys the toolkit knows but callpulse does not
//! implement (cipher suites, curve preferences, `http_server_config`, inline certificates) are
//! refused with their name rather than silently ignored. Certificates are read at start.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use serde::Deserialize;

use super::self_metrics::{AuthChecked, AuthOutcome, InternalEvent};
use super::state::ServiceState;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("web config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("web config {path}: {source}")]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error("web config: {0} is not supported by callpulse")]
    Unsupported(&'static str),
    #[error("web config: {what} {path}: {reason}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("web config: TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("web config: client certificates: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    #[error("web config: basic_auth_users.{0}: not a bcrypt hash")]
    NotBcrypt(String),
    #[error("web config: basic_auth_users.{user}: bcrypt cost {cost} is outside {}..={} (a higher cost lets every unauthenticated request burn a core for seconds or days)", BCRYPT_COSTS.start(), BCRYPT_COSTS.end())]
    Cost { user: String, cost: u32 },
    #[error("web config: {0} is present but empty: give its settings, or remove the key (an empty section would serve without it)")]
    Empty(&'static str),
}

/// bcrypt costs accepted in `basic_auth_users` (exporter-toolkit's hashers write 10 to 12; each
/// step doubles the time one check takes).
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=14;

/// How long a request waits for a bcrypt check before it is refused as busy (503).
const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A key present with no value (`tls_server_config:`) is `Some(None)`, an absent one `None`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The file as exporter-toolkit reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default, deserialize_with = "present")]
    tls_server_config: Option<Option<TlsServerConfig>>,
    #[serde(default)]
    http_server_config: Option<serde_yaml_ng::Value>,
    #[serde(default, deserialize_with = "present")]
    basic_auth_users: Option<Option<BTreeMap<String, String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfig {
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
}

/// What the HTTP server enforces: TLS and the users allowed in.
#[derive(Clone, Default)]
pub struct Web {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
}

impl Web {
    /// Reads and checks a web configuration file (certificates included).
    pub fn load(path: &Path) -> Result<Web, WebError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebError::Read {
            path: path.into(),
            source,
        })?;
        let file: WebConfigFile = if text.trim().is_empty() {
            WebConfigFile::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|source| WebError::Yaml {
                path: path.into(),
                source,
            })?
        };
        if file.http_server_config.is_some() {
            return Err(WebError::Unsupported("http_server_config"));
        }
        let users = match file.basic_auth_users {
            Some(None) => return Err(WebError::Empty("basic_auth_users")),
            Some(Some(users)) if users.is_empty() => {
                return Err(WebError::Empty("basic_auth_users"))
            }
            Some(Some(users)) => Some(users),
            None => None,
        };
        for (user, hash) in users.iter().flatten() {
            let parts: bcrypt::HashParts = hash
                .parse()
                .map_err(|_| WebError::NotBcrypt(user.clone()))?;
            if !BCRYPT_COSTS.contains(&parts.get_cost()) {
                return Err(WebError::Cost {
                    user: user.clone(),
                    cost: parts.get_cost(),
                });
            }
        }
        let tls = match file.tls_server_config {
            Some(None) => return Err(WebError::Empty("tls_server_config")),
            Some(Some(t)) => Some(Arc::new(t.server_config()?)),
            None => None,
        };
        let auth = users.map(|users| Arc::new(BasicAuth::new(users)));
        Ok(Web { tls, auth })
    }

    /// What `[http] web_config_file` says (plain HTTP, no auth, without one).
    pub fn of(config: &crate::config::Config) -> Result<Web, WebError> {
        match &config.http.web_config_file {
            Some(path) => Web::load(path),
            None => Ok(Web::default()),
        }
    }

    /// How the server is reached, for the start-up log and the demo's banner.
    pub fn describe(&self) -> &'static str {
        match (self.tls.is_some(), self.auth.is_some()) {
            (true, true) => "https, basic auth on",
            (true, false) => "https, no authentication",
            (false, true) => "http (no TLS), basic auth on",
            (false, false) => "http (no TLS), no authentication",
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

fn pem_error(what: &'static str, path: &Path, reason: impl ToString) -> WebError {
    WebError::Pem {
        what,
        path: path.into(),
        reason: reason.to_string(),
    }
}

impl TlsServerConfig {
    fn server_config(self) -> Result<rustls::ServerConfig, WebError> {
        let refused: [(&'static str, bool); 7] = [
            ("tls_server_config.cert (inline)", self.cert.is_some()),
            ("tls_server_config.key (inline)", self.key.is_some()),
            (
                "tls_server_config.client_ca (inline)",
                self.client_ca.is_some(),
            ),
            (
                "tls_server_config.client_allowed_sans",
                self.client_allowed_sans.is_some(),
            ),
            (
                "tls_server_config.cipher_suites",
                self.cipher_suites.is_some(),
            ),
            (
                "tls_server_config.prefer_server_cipher_suites",
                self.prefer_server_cipher_suites.is_some(),
            ),
            (
                "tls_server_config.curve_preferences",
                self.curve_preferences.is_some(),
            ),
        ];
        if let Some((key, _)) = refused.iter().find(|(_, set)| *set) {
            return Err(WebError::Unsupported(key));
        }
        let (Some(cert_file), Some(key_file)) = (&self.cert_file, &self.key_file) else {
            return Err(WebError::Unsupported(
                "tls_server_config without both cert_file and key_file",
            ));
        };
        let certs = CertificateDer::pem_file_iter(cert_file)
            .map_err(|e| pem_error("cert_file", cert_file, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error("cert_file", cert_file, e))?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| pem_error("key_file", key_file, e))?;
        let versions = self.versions()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let auth = self.client_auth_type.as_deref().unwrap_or("NoClientCert");
        let builder = match auth {
            "NoClientCert" => builder.with_no_client_auth(),
            "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
                let Some(ca) = &self.client_ca_file else {
                    return Err(WebError::Unsupported(
                        "client_auth_type verifying certificates without client_ca_file",
                    ));
                };
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca)
                    .map_err(|e| pem_error("client_ca_file", ca, e))?
                {
                    let cert = cert.map_err(|e| pem_error("client_ca_file", ca, e))?;
                    roots
                        .add(cert)
                        .map_err(|e| pem_error("client_ca_file", ca, e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if auth == "VerifyClientCertIfGiven" {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                builder.with_client_cert_verifier(verifier.build()?)
            }
            _ => {
                return Err(WebError::Unsupported(
                    "client_auth_type other than NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
                ))
            }
        };
        let mut config = builder.with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, WebError> {
        let rank = |v: &Option<String>, default: u8| match v.as_deref() {
            None => Ok(default),
            Some("TLS12") => Ok(2),
            Some("TLS13") => Ok(3),
            Some(_) => Err(WebError::Unsupported(
                "TLS versions other than TLS12 and TLS13",
            )),
        };
        let (min, max) = (rank(&self.min_version, 2)?, rank(&self.max_version, 3)?);
        Ok([(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(r, _)| (min..=max).contains(r))
            .map(|(_, v)| v)
            .collect())
    }
}

/// `basic_auth_users`: bcrypt hashes by user. A password that passed is remembered (as a keyed
/// hash of the credentials, never the password) so a scrape every 15 s does not pay bcrypt each time;
/// a header that failed is remembered too, so repeating it costs nothing. One bcrypt check runs
/// at a time: what unauthenticated clients can burn is one core, and a request that cannot get
/// a check within `CHECK_WAIT` is refused as busy.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    passed: Mutex<HashMap<u64, ()>>,
    failed: Mutex<HashMap<u64, ()>>,
    checks: tokio::sync::Semaphore,
    key: (u64, u64),
}

/// Headers remembered as passed, and as failed, at most (then forgotten all at once).
const REMEMBERED: usize = 1024;

fn remember(map: &Mutex<HashMap<u64, ()>>, seen: u64) {
    if let Ok(mut m) = map.lock() {
        if m.len() >= REMEMBERED {
            m.clear();
        }
        m.insert(seen, ());
    }
}

fn knows(map: &Mutex<HashMap<u64, ()>>, seen: u64) -> bool {
    map.lock().is_ok_and(|m| m.contains_key(&seen))
}

/// `user:password` of an `Authorization: Basic …` header (the scheme in any case, RFC 7617).
fn credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            passed: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            checks: tokio::sync::Semaphore::new(1),
            key: (rand::random(), rand::random()),
        }
    }

    /// The keyed hash credentials are remembered by (never the password itself).
    fn remembered(&self, user: &str, password: &str) -> u64 {
        let mut h = siphasher::sip::SipHasher13::new_with_keys(self.key.0, self.key.1);
        (user, password).hash(&mut h);
        h.finish()
    }

    /// What becomes of a request carrying `header` as its `Authorization`.
    pub async fn check(self: Arc<Self>, header: Option<String>) -> AuthOutcome {
        let Some((user, password)) = header.as_deref().and_then(credentials) else {
            return AuthOutcome::Refused;
        };
        let seen = self.remembered(&user, &password);
        if knows(&self.passed, seen) {
            return AuthOutcome::Remembered;
        }
        if knows(&self.failed, seen) {
            return AuthOutcome::Refused;
        }
        let Ok(Ok(permit)) = tokio::time::timeout(CHECK_WAIT, self.checks.acquire()).await else {
            return AuthOutcome::Busy;
        };
        // an unknown user costs a bcrypt check too, so timing does not tell users apart
        const UNKNOWN: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
        let hash = self.users.get(&user).cloned();
        let ok = tokio::task::spawn_blocking(move || {
            let matched = bcrypt::verify(&password, hash.as_deref().unwrap_or(UNKNOWN));
            hash.is_some() && matched.unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        drop(permit);
        if ok {
            remember(&self.passed, seen);
            AuthOutcome::Verified
        } else {
            remember(&self.failed, seen);
            AuthOutcome::Refused
        }
    }
}

/// The middleware in front of every route when `basic_auth_users` is set.
pub async fn require_basic_auth(
    State((auth, state)): State<(Arc<BasicAuth>, Arc<ServiceState>)>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let outcome = auth.check(header).await;
    AuthChecked { outcome }.emit(state.metrics());
    match outcome {
        AuthOutcome::Verified | AuthOutcome::Remembered => next.run(request).await,
        AuthOutcome::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "Busy checking credentials\n",
        )
            .into_response(),
        AuthOutcome::Refused => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"callpulse\"")],
            "Unauthorized\n",
        )
            .into_response(),
    }
}
