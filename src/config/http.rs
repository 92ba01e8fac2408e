//! `[http]`: where the service listens, its TLS and basic auth file, its connection limits, and
//! the peers whose live views the API gathers.

use std::path::PathBuf;

use serde::Deserialize;

use crate::time::Span;

/// `[http]`: where /metrics, /healthz, /readyz and the wallboard are served.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// TLS and basic auth, in the Prometheus exporter-toolkit web configuration format (the
    /// file node_exporter takes as `--web.config.file`); plain HTTP when left out.
    #[serde(default)]
    pub web_config_file: Option<PathBuf>,
    /// Connections held open at most; a new one beyond closes the oldest (a flood of idle
    /// connections cannot lock out `/healthz` or a scrape).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A request's header (and a TLS handshake) must arrive within this.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: Span,
    /// A connection from which nothing arrives for this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Span,
    /// A reader that takes nothing of a response for this long is cut off.
    #[serde(default = "default_write_timeout")]
    pub write_timeout: Span,
    /// `/metrics` responses rendered at once; more wait for a turn (memory per scrape is
    /// bounded: the text is streamed, not held).
    #[serde(default = "default_max_concurrent_scrapes")]
    pub max_concurrent_scrapes: usize,
    /// Whether `/api/v1/waiting` shows each waiting contact's id as its platform wrote it.
    #[serde(default = "default_true")]
    pub show_contact_ids: bool,
    /// The other instances of a scaled-out group (`http://host:9898`, `https://…`): the live
    /// API asks each for its own partitions' view and answers with the whole group's.
    #[serde(default)]
    pub peers: Vec<String>,
    /// A peer must answer within this, or the live API refuses (503) rather than show a part.
    #[serde(default = "default_peer_timeout")]
    pub peer_timeout: Span,
    /// PEM file of the CA that signed the `https` peers' certificates.
    #[serde(default)]
    pub peer_ca_file: Option<PathBuf>,
    /// Basic auth user name sent to the peers (with the password in `peer_password_file`).
    #[serde(default)]
    pub peer_username: Option<String>,
    #[serde(default)]
    pub peer_password_file: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            web_config_file: None,
            max_connections: default_max_connections(),
            header_read_timeout: default_header_read_timeout(),
            idle_timeout: default_idle_timeout(),
            write_timeout: default_write_timeout(),
            max_concurrent_scrapes: default_max_concurrent_scrapes(),
            show_contact_ids: true,
            peers: Vec::new(),
            peer_timeout: default_peer_timeout(),
            peer_ca_file: None,
            peer_username: None,
            peer_password_file: None,
        }
    }
}

fn default_peer_timeout() -> Span {
    Span::from_secs(2)
}

fn default_true() -> bool {
    true
}
fn default_max_connections() -> usize {
    512
}
fn default_header_read_timeout() -> Span {
    Span::from_secs(10)
}
fn default_idle_timeout() -> Span {
    Span::from_secs(60)
}
fn default_write_timeout() -> Span {
    Span::from_secs(30)
}
fn default_max_concurrent_scrapes() -> usize {
    8
}

fn default_listen() -> String {
    "127.0.0.1:9898".into()
}
