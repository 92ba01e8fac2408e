//! Configuration: the TOML file's documented serde types, validated once into a [`Config`]
//! the rest of the program trusts. Errors name the key and the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::de::{self, Deserializer};
use serde::Deserialize;

mod export;
mod file;
mod http;
mod input;
mod kafka;
mod live;

pub use export::{
    ExportConfig, NotExported, Profile, HISTOGRAM_BOUNDS, QUANTILES, STANDARD_LEFT_OUT,
    WINDOWED_FAMILIES,
};
pub use http::HttpConfig;
pub use input::{
    ActivityState, DefaultChannel, Identities, InputConfig, InputFormat, UnknownFormat,
    FREESWITCH_EVENT_BYTES,
};
pub use kafka::KafkaConfig;
pub use live::{LiveThresholds, PeerUrl};

use file::*;

use crate::time::{LocalClock, Span, DAY, SECOND};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// Config text (not a file) that does not validate; the message names the key and line.
    #[error("{0}")]
    Text(String),
}

/// The whole validated configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub engine: EngineConfig,
    pub defaults: QueueSettings,
    /// Queues named in the config; they are exported even before their first event.
    pub queues: BTreeMap<String, QueueSettings>,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub alerts: AlertsConfig,
    /// `[export]`: which windows, windowed families, quantiles and histogram bounds are written.
    pub export: ExportConfig,
}

/// A rolling window: its length and the label it is exported under (as written in the config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollingWindow {
    pub label: String,
    pub span: Span,
}

/// `[engine]`: windows, lateness and the limits a hostile producer cannot pass.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub windows: Vec<RollingWindow>,
    pub interval: Span,
    pub allowed_lateness: Span,
    pub max_queues: usize,
    pub max_open_contacts: usize,
    /// Agents remembered; beyond it agents logged out for longest (and final) are forgotten.
    pub max_agents: usize,
    /// Customer histories (one per customer and queue) held at most; beyond, the least
    /// recently active are forgotten (counted in `callpulse_customers_forgotten_total`).
    pub max_customers: usize,
    pub dedup_horizon: Span,
    pub dedup_capacity: usize,
    pub survey_horizon: Span,
    pub max_message_bytes: usize,
    /// How far ahead of the wall clock an event's time may be in `run` and `demo`; further,
    /// it is `bad_timestamp` and moves nothing (kpis.md 1.2).
    pub max_clock_skew: Span,
    /// At `max_queues`, queues not configured and idle this long are forgotten to make room
    /// for a new one (a burst of junk names cannot lock out real queues for good).
    pub forget_idle_queues_after: Span,
    /// The rolling window the forecast reads (`forecast_window`); `None` without rolling windows.
    pub forecast_window: Option<RollingWindow>,
    /// Labels of the windows the engine keeps: those the export profile writes and the
    /// forecast's (a window nobody reads costs memory and time for nothing); `None`: every window.
    pub kept: Option<Vec<String>>,
}

impl EngineConfig {
    /// Where the forecast window stands among the rolling windows (which come first in a
    /// snapshot's windows), and its length.
    pub fn forecast(&self) -> Option<(usize, Span)> {
        let f = self.forecast_window.as_ref()?;
        self.windows
            .iter()
            .filter(|w| self.keeps(&w.label))
            .position(|w| w == f)
            .map(|i| (i, f.span))
    }

    /// Whether the engine keeps the window labelled `label` (a rolling window's, `interval`,
    /// `today`).
    pub fn keeps(&self, label: &str) -> bool {
        self.kept
            .as_ref()
            .is_none_or(|kept| kept.iter().any(|k| k == label))
    }

    /// Labels of the windows the engine keeps, in the order of every queue's windows: the
    /// rolling windows, then `interval` and `today`.
    pub fn kept_labels(&self) -> Vec<String> {
        (self.windows.iter().map(|w| w.label.as_str()))
            .chain(["interval", "today"])
            .filter(|l| self.keeps(l))
            .map(str::to_string)
            .collect()
    }
}

/// How the service level ratio treats abandoned contacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlFormula {
    AbandonsNegative,
    IgnoreAbandons,
    AbandonsPositive,
}

/// Everything a queue's KPIs and targets depend on.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSettings {
    pub clock: LocalClock,
    pub sl_threshold: Span,
    pub sl_formula: SlFormula,
    pub short_abandon: Span,
    pub wrapup: bool,
    pub sl_target: f64,
    pub abandon_target: f64,
    pub asa_target: Span,
    pub aht_target: Span,
    pub oldest_wait_target: Span,
    pub min_volume: u64,
    /// Target (maximum) of the mean first response (kpis.md 1.1); no default: no breach.
    pub first_response_target: Option<Span>,
    /// How far back an earlier contact of the same customer makes a repeat (kpis.md 1.1).
    pub repeat_window: Span,
    /// How long an abandoning customer has to get through to count as recovered.
    pub callback_window: Span,
    /// A contact with no event for this long is expired (events.md 1.2; at least 7 days for a
    /// contact with an e-mail leg, see `engine::EMAIL_TIMEOUT`).
    pub contact_timeout: Span,
    /// When the agents view turns a long not-ready, wrap-up or conversation amber and red.
    pub live: LiveThresholds,
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

impl Default for QueueSettings {
    /// The contract's defaults (`kpis.md`).
    fn default() -> Self {
        QueueSettings {
            clock: LocalClock {
                zone: Tz::UTC,
                day_start: NaiveTime::MIN,
            },
            sl_threshold: Span::from_secs(20),
            sl_formula: SlFormula::AbandonsNegative,
            short_abandon: Span::from_secs(5),
            wrapup: false,
            sl_target: 0.80,
            abandon_target: 0.05,
            asa_target: Span::from_secs(30),
            aht_target: Span::from_secs(360),
            oldest_wait_target: Span::from_secs(120),
            min_volume: 10,
            first_response_target: None,
            repeat_window: Span::from_secs(24 * 3600),
            callback_window: Span::from_secs(3600),
            contact_timeout: Span::from_secs(8 * 3600),
            live: LiveThresholds::default(),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let windows: Vec<RollingWindow> = ["5m", "15m", "1h"]
            .iter()
            .map(|l| RollingWindow {
                label: l.to_string(),
                span: l.parse().unwrap_or(Span::from_secs(300)),
            })
            .collect();
        EngineConfig {
            forecast_window: default_forecast_window(&windows),
            windows,
            interval: Span::from_secs(900),
            allowed_lateness: Span::from_secs(60),
            max_queues: 1_000,
            max_open_contacts: 1_000_000,
            max_agents: 100_000,
            max_customers: 1_000_000,
            dedup_horizon: Span::from_secs(900),
            dedup_capacity: 1_000_000,
            survey_horizon: Span::from_secs(48 * 3600),
            max_message_bytes: 64 * 1024,
            max_clock_skew: Span::from_secs(300),
            forget_idle_queues_after: Span::from_secs(3600),
            kept: None,
        }
    }
}

/// Longest rolling window accepted: exact to the second, memory bounded by what the window holds.
pub const MAX_WINDOW: Span = Span::from_millis(7 * DAY);

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse_text(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and validates config text; the error names the key and its line.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_text(text).map_err(ConfigError::Text)
    }

    fn parse_text(text: &str) -> Result<Config, String> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let line_of = |span: std::ops::Range<usize>| {
            text[..span.start.min(text.len())].lines().count().max(1)
        };
        let mut engine = EngineConfig::default();
        if let Some(windows) = &file.engine.windows {
            let mut seen = Vec::new();
            let mut list = Vec::new();
            for w in windows.get_ref() {
                let label = w.get_ref().clone();
                let at = |why: String| format!("line {}: engine.windows: {why}", line_of(w.span()));
                let span: Span = label
                    .parse()
                    .map_err(|e: crate::time::SpanError| at(e.to_string()))?;
                if span.millis() < SECOND || span.millis() % SECOND != 0 {
                    return Err(at(format!(
                        "window {label:?} must be a whole number of seconds, at least 1s"
                    )));
                }
                if span > MAX_WINDOW {
                    return Err(at(format!(
                        "window {label:?} is longer than the maximum of {MAX_WINDOW}"
                    )));
                }
                if matches!(label.as_str(), "interval" | "today" | "now") || seen.contains(&span) {
                    return Err(at(format!("window {label:?} is listed twice")));
                }
                seen.push(span);
                list.push(RollingWindow { label, span });
            }
            engine.windows = list;
        }
        engine.forecast_window = match &file.engine.forecast_window {
            None => default_forecast_window(&engine.windows),
            Some(f) => Some(forecast_window(f, &engine.windows, line_of(f.span()))?),
        };
        let e = &file.engine;
        engine.interval = e.interval.map_or(engine.interval, |i| i.0);
        engine.allowed_lateness = e.allowed_lateness.unwrap_or(engine.allowed_lateness);
        engine.max_queues = e.max_queues.map_or(engine.max_queues, |p| p.0);
        engine.max_open_contacts = e
            .max_open_contacts
            .map_or(engine.max_open_contacts, |p| p.0);
        engine.max_agents = e.max_agents.map_or(engine.max_agents, |p| p.0);
        engine.max_customers = e.max_customers.map_or(engine.max_customers, |p| p.0);
        // a repeated id is recognised as long as its event could still be applied: the
        // horizon covers the lateness (a CTR seen after its contact events counts once)
        engine.dedup_horizon = match e.dedup_horizon {
            Some(h) if h < engine.allowed_lateness => {
                return Err(format!(
                    "engine.dedup_horizon ({h}) is shorter than engine.allowed_lateness ({}): \
                     a repeated event within the lateness would count twice",
                    engine.allowed_lateness
                ))
            }
            Some(h) => h,
            None => engine.dedup_horizon.max(engine.allowed_lateness),
        };
        engine.dedup_capacity = e.dedup_capacity.map_or(engine.dedup_capacity, |p| p.0);
        engine.survey_horizon = e.survey_horizon.unwrap_or(engine.survey_horizon);
        engine.max_message_bytes = e
            .max_message_bytes
            .map_or(engine.max_message_bytes, |p| p.0);
        engine.max_clock_skew = e.max_clock_skew.unwrap_or(engine.max_clock_skew);
        engine.forget_idle_queues_after = e
            .forget_idle_queues_after
            .unwrap_or(engine.forget_idle_queues_after);
        // `[engine] contact_timeout` (before 1.2 the only one) is the default of `[defaults]`
        let base = QueueSettings {
            contact_timeout: e
                .contact_timeout
                .unwrap_or(QueueSettings::default().contact_timeout),
            ..QueueSettings::default()
        };
        let defaults = file.defaults.over(&base);
        let queues = file
            .queues
            .iter()
            .map(|(name, q)| (name.clone(), q.over(&defaults)))
            .collect::<BTreeMap<_, _>>();
        for name in queues.keys() {
            if name.is_empty() || name.chars().count() > 128 {
                return Err(format!(
                    "queues.{name:?}: a queue name has 1 to 128 characters"
                ));
            }
        }
        // A short abandon must be decided before the service level is: otherwise a late abandon
        // could retract a miss already counted final (a counter would decrease).
        for (name, q) in std::iter::once(("[defaults]".to_string(), &defaults))
            .chain(queues.iter().map(|(n, q)| (format!("queues.{n}"), q)))
        {
            if q.short_abandon > q.sl_threshold {
                return Err(format!(
                    "{name}: short_abandon ({}) is longer than sl_threshold ({}); a short abandon must be decided before the service level",
                    q.short_abandon, q.sl_threshold
                ));
            }
        }
        if queues.len() > engine.max_queues {
            return Err(format!(
                "queues: {} queues configured but engine.max_queues is {}",
                queues.len(),
                engine.max_queues
            ));
        }
        let mut file = file;
        if file.alerts.window == UNSET_WINDOW {
            file.alerts.window = if engine.windows.iter().any(|w| w.label == "15m") {
                "15m".into()
            } else {
                engine
                    .windows
                    .first()
                    .map_or_else(|| "interval".into(), |w| w.label.clone())
            };
        }
        if !matches!(file.alerts.window.as_str(), "" | "interval" | "today")
            && !engine.windows.iter().any(|w| w.label == file.alerts.window)
        {
            return Err(format!(
                "alerts.window: {:?} is not one of engine.windows, \"interval\" or \"today\"",
                file.alerts.window
            ));
        }
        live::check_peers(&file.http)?;
        let mut topics: Vec<&str> = file.kafka.topics.iter().map(String::as_str).collect();
        for input in &file.kafka.inputs {
            input.check()?;
            if topics.contains(&input.topic.as_str()) {
                return Err(format!(
                    "kafka.inputs: topic {:?} is listed twice (in kafka.topics or kafka.inputs)",
                    input.topic
                ));
            }
            topics.push(&input.topic);
        }
        if let Some(key) = file
            .alerts
            .severity
            .keys()
            .find(|k| !SEVERITY_KEYS.contains(&k.as_str()))
        {
            return Err(format!(
                "alerts.severity: unknown key {key:?}; one of {}",
                SEVERITY_KEYS.join(", ")
            ));
        }
        let written = export::Written {
            windows: file.engine.windows.is_some(),
            interval: file.engine.interval.is_some(),
        };
        let export = file.export.resolve(
            &engine.windows,
            &file.alerts.window,
            engine.forecast_window.as_ref(),
            written,
        )?;
        engine.kept = Some(
            (export.windows.iter().cloned())
                .chain(engine.forecast_window.iter().map(|f| f.label.clone()))
                .collect(),
        );
        Ok(Config {
            engine,
            defaults,
            queues,
            kafka: file.kafka,
            http: file.http,
            log: file.log,
            alerts: file.alerts,
            export,
        })
    }

    /// The settings of a queue: its own table over `[defaults]`, or `[defaults]` alone.
    pub fn queue(&self, name: &str) -> &QueueSettings {
        self.queues.get(name).unwrap_or(&self.defaults)
    }
}

impl fmt::Display for SlFormula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlFormula::AbandonsNegative => "abandons_negative",
            SlFormula::IgnoreAbandons => "ignore_abandons",
            SlFormula::AbandonsPositive => "abandons_positive",
        })
    }
}

#[cfg(test)]
mod tests;
