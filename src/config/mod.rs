//! Configuration: the TOML file's documented serde types, validated once into a [`Config`]
//! the rest of the program trusts. The center's tables (`[engine]`, `[defaults]`, `[queues.*]`,
//! `[export]`) are read and validated by `callpulse_core::settings`; this module adds the
//! service's own: `[kafka]`, `[http]`, `[log]` and `[alerts]`. Errors name the key and the line.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, Deserializer};
use serde::Deserialize;

mod http;
mod kafka;
mod peers;

pub use callpulse_core::settings::*;
pub use http::HttpConfig;
pub use kafka::KafkaConfig;
pub use peers::PeerUrl;

use crate::time::Span;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: String,
        #[source]
        source: SettingError,
    },
    /// Config text (not a file) that does not validate; the error names the key and line.
    #[error(transparent)]
    Text(#[from] SettingError),
}

/// The whole validated configuration: the center's settings, which every engine shares, and
/// the service's own.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `[engine]`, `[defaults]`, `[queues.*]` and `[export]`: what the engines run on.
    pub center: Arc<Settings>,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub alerts: AlertsConfig,
}

/// The configuration file as written: the center's tables and the service's.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    engine: FileEngine,
    #[serde(default)]
    defaults: FileQueue,
    #[serde(default)]
    queues: BTreeMap<String, FileQueue>,
    #[serde(default)]
    export: FileExport,
    #[serde(default)]
    kafka: KafkaConfig,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default = "file_alerts")]
    alerts: AlertsConfig,
}

/// `[log]`: `format = "human" | "json"`, `level` as an env-filter directive.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_log_format")]
    pub format: LogFormat,
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Human,
    Json,
}

fn default_log_format() -> LogFormat {
    LogFormat::Human
}
fn default_log_level() -> String {
    "info".into()
}

/// `[alerts]`: how `callpulse rules` writes alerting rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// The window the KPI alerts watch. When left out: "15m" if that is a window, else the
    /// first rolling window, else "interval". `""`: no windowed KPI alerts.
    #[serde(default = "unset_window")]
    pub window: String,
    #[serde(default = "default_for")]
    pub r#for: Span,
    #[serde(default = "default_keep_firing")]
    pub keep_firing_for: Span,
    #[serde(default)]
    pub runbook_url: Option<String>,
    #[serde(default)]
    pub severity: BTreeMap<String, String>,
    #[serde(default = "default_silence")]
    pub no_events_for: Span,
    /// Burn factor of `CallcenterServiceLevelFastBurn` (5m and 1h windows): it fires when the SL
    /// error ratio exceeds `fast_burn * (1 - sl_target)` on both. Above 1.0; a factor B can
    /// only fire for targets above `1 - 1/B` (the error ratio is at most 1), hence defaults
    /// far below the SRE workbook's 14.4 / 6, which need targets above 0.93 / 0.83.
    #[serde(default = "default_fast_burn", deserialize_with = "burn_factor")]
    pub fast_burn: f64,
    /// Burn factor of `CallcenterServiceLevelSlowBurn` (30m and 6h windows), above 1.0.
    #[serde(default = "default_slow_burn", deserialize_with = "burn_factor")]
    pub slow_burn: f64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            window: "15m".into(),
            r#for: default_for(),
            keep_firing_for: default_keep_firing(),
            runbook_url: None,
            severity: BTreeMap::new(),
            no_events_for: default_silence(),
            fast_burn: default_fast_burn(),
            slow_burn: default_slow_burn(),
        }
    }
}

/// The keys `[alerts.severity]` accepts: the windowed and live KPIs, the two burn-rate alerts,
/// the predicted service-level breach and the monitor's own alerts (`callpulse rules` uses
/// exactly these; a test holds them equal).
pub const SEVERITY_KEYS: [&str; 14] = [
    "service_level",
    "abandon",
    "asa",
    "aht",
    "first_response",
    "oldest_wait",
    "service_level_fast_burn",
    "service_level_slow_burn",
    "service_level_predicted",
    "CallpulseDown",
    "CallpulseNotReady",
    "CallpulseLagGrowing",
    "CallpulseRejectsSpiking",
    "CallpulseNoEvents",
];

/// Marks `[alerts] window` as not written, to be resolved against `[engine] windows`.
const UNSET_WINDOW: &str = "\u{0}unset";

fn unset_window() -> String {
    UNSET_WINDOW.into()
}

fn file_alerts() -> AlertsConfig {
    AlertsConfig {
        window: unset_window(),
        ..AlertsConfig::default()
    }
}

fn default_for() -> Span {
    Span::from_secs(120)
}
fn default_keep_firing() -> Span {
    Span::from_secs(300)
}
fn default_silence() -> Span {
    Span::from_secs(600)
}
fn default_fast_burn() -> f64 {
    2.0
}
fn default_slow_burn() -> f64 {
    1.2
}

/// An error-budget burn factor: a finite number above 1.0 (checked while parsing, so the
/// error carries the line).
fn burn_factor<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if v.is_finite() && v > 1.0 {
        Ok(v)
    } else {
        Err(de::Error::custom(format!(
            "burn factor {v} must be a number above 1.0 (at 1.0 the error budget lasts exactly its period)"
        )))
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Text(source) => ConfigError::Invalid {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    /// Parses and validates config text, one table after the other; the error names the key
    /// and its line.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(SettingError::syntax)?;
        let center = Center {
            engine: file.engine,
            defaults: file.defaults,
            queues: file.queues,
            export: file.export,
        };
        let written = (file.alerts.window != UNSET_WINDOW).then_some(file.alerts.window.as_str());
        let (center, window) = center.resolve(text, written)?;
        let alerts = AlertsConfig {
            window,
            ..file.alerts
        };
        alerts.check()?;
        file.kafka.check()?;
        peers::check_peers(&file.http).map_err(SettingError::message)?;
        Ok(Config {
            center: Arc::new(center),
            kafka: file.kafka,
            http: file.http,
            log: file.log,
            alerts,
        })
    }

    /// The settings of a queue: its own table over `[defaults]`, or `[defaults]` alone.
    pub fn queue(&self, name: &str) -> &QueueSettings {
        self.center.queue(name)
    }
}

impl AlertsConfig {
    /// `[alerts.severity]` names only alerts `callpulse rules` writes.
    fn check(&self) -> Result<(), SettingError> {
        match (self.severity.keys()).find(|k| !SEVERITY_KEYS.contains(&k.as_str())) {
            Some(key) => Err(SettingError::new(
                "alerts.severity",
                format!("unknown key {key:?}; one of {}", SEVERITY_KEYS.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
