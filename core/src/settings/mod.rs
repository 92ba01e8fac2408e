//! The center's settings the data path runs on: windows, limits and queues' targets
//! ([`Settings`]), the export profile, the platform adapters' settings and the live view's
//! thresholds; the tables of the configuration file they are read from ([`tables`]). Kafka,
//! HTTP, logging and alert-rule settings are the service's, not these.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;

mod error;
mod export;
mod input;
mod live;
pub mod tables;

pub use error::SettingError;
pub use export::{
    ExportConfig, FileExport, NotExported, Profile, HISTOGRAM_BOUNDS, QUANTILES, STANDARD_LEFT_OUT,
    WINDOWED_FAMILIES,
};
pub use input::{
    ActivityState, DefaultChannel, Identities, InputConfig, InputFormat, UnknownFormat,
    FREESWITCH_EVENT_BYTES,
};
pub use live::LiveThresholds;
pub use tables::{Center, FileEngine, FileQueue};

use crate::time::{LocalClock, Span, DAY};
use tables::default_forecast_window;

/// What an engine runs on: `[engine]`, `[defaults]`, `[queues.*]` and `[export]`, validated.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub engine: EngineConfig,
    pub defaults: QueueSettings,
    /// Queues named in the config; they are exported even before their first event.
    pub queues: BTreeMap<String, QueueSettings>,
    /// `[export]`: which windows, windowed families, quantiles and histogram bounds are written.
    pub export: ExportConfig,
}

impl Settings {
    /// The settings of a queue: its own table over `[defaults]`, or `[defaults]` alone.
    pub fn queue(&self, name: &str) -> &QueueSettings {
        self.queues.get(name).unwrap_or(&self.defaults)
    }

    /// Settings from configuration text holding only the center's tables (`[engine]`,
    /// `[defaults]`, `[queues.*]`, `[export]`); the error names the key and its line.
    pub fn parse(text: &str) -> Result<Settings, SettingError> {
        let center: Center = toml::from_str(text).map_err(SettingError::syntax)?;
        center.resolve(text, None).map(|(settings, _)| settings)
    }
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
    /// it is `bad_timestamp` and moves nothing (docs/metrics.md).
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
    /// Target (maximum) of the mean first response (docs/metrics.md); no default: no breach.
    pub first_response_target: Option<Span>,
    /// How far back an earlier contact of the same customer makes a repeat (docs/metrics.md).
    pub repeat_window: Span,
    /// How long an abandoning customer has to get through to count as recovered.
    pub callback_window: Span,
    /// A contact with no event for this long is expired (docs/events.md; at least 7 days for a
    /// contact with an e-mail leg, see `engine::EMAIL_TIMEOUT`).
    pub contact_timeout: Span,
    /// When the agents view turns a long not-ready, wrap-up or conversation amber and red.
    pub live: LiveThresholds,
}

impl Default for QueueSettings {
    /// The contract's defaults (`docs/metrics.md`).
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
/// Longest rolling window accepted: exact to the second, memory bounded by what the window holds.
pub const MAX_WINDOW: Span = Span::from_millis(7 * DAY);

impl fmt::Display for SlFormula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlFormula::AbandonsNegative => "abandons_negative",
            SlFormula::IgnoreAbandons => "ignore_abandons",
            SlFormula::AbandonsPositive => "abandons_positive",
        })
    }
}
