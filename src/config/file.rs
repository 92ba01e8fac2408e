//! The configuration file as written: serde types that mirror the TOML (unknown keys are errors)
//! and the small value types that check a value while it is read, so the error carries its line.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::*;
use crate::time::{parse_time_of_day, Span};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    pub(super) engine: FileEngine,
    #[serde(default)]
    pub(super) defaults: FileQueue,
    #[serde(default)]
    pub(super) queues: BTreeMap<String, FileQueue>,
    #[serde(default)]
    pub(super) kafka: KafkaConfig,
    #[serde(default)]
    pub(super) http: HttpConfig,
    #[serde(default)]
    pub(super) log: LogConfig,
    #[serde(default = "file_alerts")]
    pub(super) alerts: AlertsConfig,
    #[serde(default)]
    pub(super) export: super::export::FileExport,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEngine {
    pub(super) windows: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
    pub(super) interval: Option<Interval>,
    pub(super) allowed_lateness: Option<Span>,
    pub(super) max_queues: Option<Positive>,
    pub(super) max_open_contacts: Option<Positive>,
    pub(super) max_agents: Option<Positive>,
    pub(super) max_customers: Option<Positive>,
    pub(super) contact_timeout: Option<Span>,
    pub(super) dedup_horizon: Option<Span>,
    pub(super) dedup_capacity: Option<Positive>,
    pub(super) survey_horizon: Option<Span>,
    pub(super) max_message_bytes: Option<Positive>,
    pub(super) max_clock_skew: Option<Span>,
    pub(super) forget_idle_queues_after: Option<Span>,
    pub(super) forecast_window: Option<toml::Spanned<String>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct FileQueue {
    pub(super) timezone: Option<Zone>,
    pub(super) day_start: Option<TimeOfDay>,
    pub(super) sl_threshold: Option<Span>,
    pub(super) sl_formula: Option<SlFormula>,
    pub(super) short_abandon: Option<Span>,
    pub(super) wrapup: Option<bool>,
    pub(super) sl_target: Option<Ratio>,
    pub(super) abandon_target: Option<Ratio>,
    pub(super) asa_target: Option<Span>,
    pub(super) aht_target: Option<Span>,
    pub(super) oldest_wait_target: Option<Span>,
    pub(super) min_volume: Option<u64>,
    pub(super) first_response_target: Option<Span>,
    pub(super) repeat_window: Option<Span>,
    pub(super) callback_window: Option<Span>,
    pub(super) contact_timeout: Option<Span>,
    pub(super) not_ready_warn: Option<Span>,
    pub(super) not_ready_alarm: Option<Span>,
    pub(super) wrapup_warn: Option<Span>,
    pub(super) wrapup_alarm: Option<Span>,
    pub(super) talk_warn: Option<Span>,
    pub(super) talk_alarm: Option<Span>,
}

impl FileQueue {
    pub(super) fn over(&self, base: &QueueSettings) -> QueueSettings {
        QueueSettings {
            clock: LocalClock {
                zone: self.timezone.map_or(base.clock.zone, |z| z.0),
                day_start: self.day_start.map_or(base.clock.day_start, |d| d.0),
            },
            sl_threshold: self.sl_threshold.unwrap_or(base.sl_threshold),
            sl_formula: self.sl_formula.unwrap_or(base.sl_formula),
            short_abandon: self.short_abandon.unwrap_or(base.short_abandon),
            wrapup: self.wrapup.unwrap_or(base.wrapup),
            sl_target: self.sl_target.map_or(base.sl_target, |r| r.0),
            abandon_target: self.abandon_target.map_or(base.abandon_target, |r| r.0),
            asa_target: self.asa_target.unwrap_or(base.asa_target),
            aht_target: self.aht_target.unwrap_or(base.aht_target),
            oldest_wait_target: self.oldest_wait_target.unwrap_or(base.oldest_wait_target),
            min_volume: self.min_volume.unwrap_or(base.min_volume),
            first_response_target: self.first_response_target.or(base.first_response_target),
            repeat_window: self.repeat_window.unwrap_or(base.repeat_window),
            callback_window: self.callback_window.unwrap_or(base.callback_window),
            contact_timeout: self.contact_timeout.unwrap_or(base.contact_timeout),
            live: LiveThresholds {
                not_ready_warn: self.not_ready_warn.unwrap_or(base.live.not_ready_warn),
                not_ready_alarm: self.not_ready_alarm.unwrap_or(base.live.not_ready_alarm),
                wrapup_warn: self.wrapup_warn.unwrap_or(base.live.wrapup_warn),
                wrapup_alarm: self.wrapup_alarm.unwrap_or(base.live.wrapup_alarm),
                talk_warn: self.talk_warn.unwrap_or(base.live.talk_warn),
                talk_alarm: self.talk_alarm.unwrap_or(base.live.talk_alarm),
            },
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct Zone(pub(super) Tz);
#[derive(Clone, Copy)]
pub(super) struct TimeOfDay(pub(super) NaiveTime);
#[derive(Clone, Copy)]
pub(super) struct Ratio(pub(super) f64);
#[derive(Clone, Copy)]
pub(super) struct Positive(pub(super) usize);
#[derive(Clone, Copy)]
pub(super) struct Interval(pub(super) Span);

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<Tz>().map(Zone).map_err(|_| {
            de::Error::custom(format!(
                "unknown time zone {s:?} (use an IANA name like \"Europe/Moscow\")"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_time_of_day(&s).map(TimeOfDay).ok_or_else(|| {
            de::Error::custom(format!("invalid time of day {s:?} (write \"HH:MM\")"))
        })
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&v) {
            Ok(Ratio(v))
        } else {
            Err(de::Error::custom(format!(
                "{v} is not a ratio between 0 and 1 (write 80% as 0.80)"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v >= 1 {
            Ok(Positive(v as usize))
        } else {
            Err(de::Error::custom(format!("{v} must be at least 1")))
        }
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let span = Span::deserialize(d)?;
        let m = span.millis();
        if m >= 60 * SECOND && m % (60 * SECOND) == 0 && DAY % m == 0 {
            Ok(Interval(span))
        } else {
            Err(de::Error::custom(format!(
                "interval {span} must be whole minutes dividing a day (\"15m\", \"30m\" or \"1h\")"
            )))
        }
    }
}

/// The contract's default forecast window.
const FORECAST_WINDOW: Span = Span::from_secs(15 * 60);

/// `forecast_window` left out: the rolling window of 15 minutes, else the one closest to it
/// (the longer on a tie), else none (no rolling window: no forecast).
pub(super) fn default_forecast_window(windows: &[RollingWindow]) -> Option<RollingWindow> {
    windows
        .iter()
        .min_by_key(|w| {
            (
                (w.span.millis() - FORECAST_WINDOW.millis()).abs(),
                std::cmp::Reverse(w.span),
            )
        })
        .cloned()
}

/// `forecast_window` as written: one of the rolling windows, by label or by length.
pub(super) fn forecast_window(
    written: &toml::Spanned<String>,
    windows: &[RollingWindow],
    line: usize,
) -> Result<RollingWindow, String> {
    let text = written.get_ref();
    let span: Option<Span> = text.parse().ok();
    windows
        .iter()
        .find(|w| w.label == *text || Some(w.span) == span)
        .cloned()
        .ok_or_else(|| {
            let labels: Vec<&str> = windows.iter().map(|w| w.label.as_str()).collect();
            format!(
                "line {line}: engine.forecast_window: {text:?} is not one of the rolling windows (engine.windows: {})",
                if labels.is_empty() {
                    "none".to_string()
                } else {
                    labels.join(", ")
                }
            )
        })
}
