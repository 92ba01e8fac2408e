//! The center's tables as the configuration file writes them (`[engine]`, `[defaults]`,
//! `[queues.*]`, `[export]`; unknown keys are errors), the small value types that check a value
//! while it is read (so the error carries its line), and their resolution, one table at a time,
//! into [`Settings`].

use std::collections::BTreeMap;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::export::{FileExport, Written};
use super::*;
use crate::time::{parse_time_of_day, Span, SpanError, SECOND};

/// The center's tables of a configuration file, as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Center {
    #[serde(default)]
    pub engine: FileEngine,
    #[serde(default)]
    pub defaults: FileQueue,
    #[serde(default)]
    pub queues: BTreeMap<String, FileQueue>,
    #[serde(default)]
    pub export: FileExport,
}

impl Center {
    /// Validates the tables into [`Settings`], one table after the other; `text` is what they
    /// were read from (for line numbers). `alerts_window` is `[alerts] window` as written
    /// (`None`: left out); it is resolved here too, as it must be one of the windows, and
    /// returned beside the settings.
    pub fn resolve(
        &self,
        text: &str,
        alerts_window: Option<&str>,
    ) -> Result<(Settings, String), SettingError> {
        let lines = Lines(text);
        let mut engine = engine_table(&self.engine, &lines)?;
        let (defaults, queues) = queue_tables(self, engine.max_queues)?;
        let alerts_window = alerts_window_of(&engine.windows, alerts_window)?;
        let written = Written {
            windows: self.engine.windows.is_some(),
            interval: self.engine.interval.is_some(),
        };
        let export = self.export.resolve(
            &engine.windows,
            &alerts_window,
            engine.forecast_window.as_ref(),
            written,
        )?;
        engine.kept = Some(
            (export.windows.iter().cloned())
                .chain(engine.forecast_window.iter().map(|f| f.label.clone()))
                .collect(),
        );
        let settings = Settings {
            engine,
            defaults,
            queues,
            export,
        };
        Ok((settings, alerts_window))
    }
}

/// The text the tables were read from, to turn a value's place into its line.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn of(&self, span: std::ops::Range<usize>) -> usize {
        self.0[..span.start.min(self.0.len())]
            .lines()
            .count()
            .max(1)
    }
}

/// `[engine]`: the windows, the forecast window and the limits.
fn engine_table(e: &FileEngine, lines: &Lines<'_>) -> Result<EngineConfig, SettingError> {
    let mut engine = EngineConfig::default();
    if let Some(windows) = &e.windows {
        engine.windows = rolling_windows(windows.get_ref(), lines)?;
    }
    engine.forecast_window = match &e.forecast_window {
        None => default_forecast_window(&engine.windows),
        Some(f) => Some(forecast_window(f, &engine.windows, lines.of(f.span()))?),
    };
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
            return Err(SettingError::new(
                "engine.dedup_horizon",
                format!(
                    "{h} is shorter than engine.allowed_lateness ({}): \
                     a repeated event within the lateness would count twice",
                    engine.allowed_lateness
                ),
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
    Ok(engine)
}

/// `[engine] windows`: whole seconds, at most [`MAX_WINDOW`], each length once.
fn rolling_windows(
    written: &[toml::Spanned<String>],
    lines: &Lines<'_>,
) -> Result<Vec<RollingWindow>, SettingError> {
    let mut list: Vec<RollingWindow> = Vec::new();
    for w in written {
        let label = w.get_ref().clone();
        let at = |why: String| SettingError::at("engine.windows", lines.of(w.span()), why);
        let span: Span = label.parse().map_err(|e: SpanError| at(e.to_string()))?;
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
        if matches!(label.as_str(), "interval" | "today" | "now")
            || list.iter().any(|w| w.span == span)
        {
            return Err(at(format!("window {label:?} is listed twice")));
        }
        list.push(RollingWindow { label, span });
    }
    Ok(list)
}

/// `[defaults]` and `[queues.*]`: each queue's table over the defaults, which are over the
/// contract's (and `[engine] contact_timeout`, before 1.2 the only one).
fn queue_tables(
    c: &Center,
    max_queues: usize,
) -> Result<(QueueSettings, BTreeMap<String, QueueSettings>), SettingError> {
    let base = QueueSettings {
        contact_timeout: (c.engine.contact_timeout)
            .unwrap_or(QueueSettings::default().contact_timeout),
        ..QueueSettings::default()
    };
    let defaults = c.defaults.over(&base);
    let queues = (c.queues.iter())
        .map(|(name, q)| (name.clone(), q.over(&defaults)))
        .collect::<BTreeMap<_, _>>();
    if let Some(name) = (queues.keys()).find(|n| n.is_empty() || n.chars().count() > 128) {
        return Err(SettingError::new(
            format!("queues.{name:?}"),
            "a queue name has 1 to 128 characters",
        ));
    }
    // A short abandon must be decided before the service level is: otherwise a late abandon
    // could retract a miss already counted final (a counter would decrease).
    for (name, q) in std::iter::once(("[defaults]".to_string(), &defaults))
        .chain(queues.iter().map(|(n, q)| (format!("queues.{n}"), q)))
    {
        if q.short_abandon > q.sl_threshold {
            return Err(SettingError::new(
                name,
                format!(
                    "short_abandon ({}) is longer than sl_threshold ({}); a short abandon must be decided before the service level",
                    q.short_abandon, q.sl_threshold
                ),
            ));
        }
    }
    if queues.len() > max_queues {
        return Err(SettingError::new(
            "queues",
            format!(
                "{} queues configured but engine.max_queues is {max_queues}",
                queues.len()
            ),
        ));
    }
    Ok((defaults, queues))
}

/// `[alerts] window`: when left out "15m" if that is a window, else the first rolling window,
/// else "interval"; as written, one of the windows or `""` (no windowed KPI alerts).
fn alerts_window_of(
    windows: &[RollingWindow],
    written: Option<&str>,
) -> Result<String, SettingError> {
    let window = match written {
        Some(w) => w.to_string(),
        None if windows.iter().any(|w| w.label == "15m") => "15m".into(),
        None => windows
            .first()
            .map_or_else(|| "interval".into(), |w| w.label.clone()),
    };
    if !matches!(window.as_str(), "" | "interval" | "today")
        && !windows.iter().any(|w| w.label == window)
    {
        return Err(SettingError::new(
            "alerts.window",
            format!("{window:?} is not one of engine.windows, \"interval\" or \"today\""),
        ));
    }
    Ok(window)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileEngine {
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
pub struct FileQueue {
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
    fn over(&self, base: &QueueSettings) -> QueueSettings {
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
fn forecast_window(
    written: &toml::Spanned<String>,
    windows: &[RollingWindow],
    line: usize,
) -> Result<RollingWindow, SettingError> {
    let text = written.get_ref();
    let span: Option<Span> = text.parse().ok();
    windows
        .iter()
        .find(|w| w.label == *text || Some(w.span) == span)
        .cloned()
        .ok_or_else(|| {
            let labels: Vec<&str> = windows.iter().map(|w| w.label.as_str()).collect();
            SettingError::at(
                "engine.forecast_window",
                line,
                format!(
                    "{text:?} is not one of the rolling windows (engine.windows: {})",
                    if labels.is_empty() {
                        "none".to_string()
                    } else {
                        labels.join(", ")
                    }
                ),
            )
        })
}
