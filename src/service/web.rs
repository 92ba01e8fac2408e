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
}

/// The file as exporter-toolkit reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default)]
    tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    http_server_config: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
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
        for (user, hash) in &file.basic_auth_users {
            if !hash.starts_with("$2") {
                return Err(WebError::NotBcrypt(user.clone()));
            }
        }
        let tls = match file.tls_server_config {
            Some(t) => Some(Arc::new(t.server_config()?)),
            None => None,
        };
        let auth = (!file.basic_auth_users.is_empty()).then(|| {
            Arc::new(BasicAuth {
                users: file.basic_auth_users,
                passed: Mutex::new(HashMap::new()),
                key: (rand::random(), rand::random()),
            })
        });
        Ok(Web { tls, auth })
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
/// hash of the header, never the password) so a scrape every 15 s does not pay bcrypt each time.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    passed: Mutex<HashMap<u64, ()>>,
    key: (u64, u64),
}

impl BasicAuth {
    fn remembered(&self, header: &str) -> u64 {
        let mut h = siphasher::sip::SipHasher13::new_with_keys(self.key.0, self.key.1);
        header.hash(&mut h);
        h.finish()
    }

    async fn allows(self: Arc<Self>, header: Option<String>) -> bool {
        let Some(header) = header else {
            return false;
        };
        let seen = self.remembered(&header);
        if self.passed.lock().is_ok_and(|p| p.contains_key(&seen)) {
            return true;
        }
        let Some(credentials) = header
            .strip_prefix("Basic ")
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return false;
        };
        let Some((user, password)) = credentials.split_once(':') else {
            return false;
        };
        // an unknown user costs a bcrypt check too, so timing does not tell users apart
        const UNKNOWN: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
        let hash = self.users.get(user).cloned();
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            let matched = bcrypt::verify(&password, hash.as_deref().unwrap_or(UNKNOWN));
            hash.is_some() && matched.unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok {
            if let Ok(mut passed) = self.passed.lock() {
                if passed.len() >= 1024 {
                    passed.clear();
                }
                passed.insert(seen, ());
            }
        }
        ok
    }
}

/// The middleware in front of every route when `basic_auth_users` is set.
pub async fn require_basic_auth(
    State(auth): State<Arc<BasicAuth>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if auth.allows(header).await {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"callpulse\"")],
        "Unauthorized\n",
    )
        .into_response()
}
