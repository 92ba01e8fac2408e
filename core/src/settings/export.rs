//! `[export]`: the export profile — which windows get the windowed families, which of those
//! families and which summary quantiles are written, which bounds the cumulative histograms
//! have. The cumulative counters, histograms, live gauges, targets and forecasts are always
//! exported; a profile only thins the per-window part, which is what multiplies a queue's series.
//! And the opt-in per-agent export (`agents`, `max_agents_exported`), off by default.

use serde::Deserialize;

use super::{RollingWindow, SettingError};

/// The windowed families of the contract (`docs/metrics.md`, labels `queue` and `window`), by name: what
/// `[export] families` may list. The export module renders exactly these (a test holds them equal).
pub const WINDOWED_FAMILIES: [&str; 34] = [
    "callcenter_contacts_offered",
    "callcenter_contacts_answered",
    "callcenter_contacts_abandoned",
    "callcenter_contacts_abandoned_short",
    "callcenter_contacts_overflowed",
    "callcenter_contacts_transferred",
    "callcenter_sl_offered",
    "callcenter_sl_answered",
    "callcenter_sl_abandoned",
    "callcenter_contacts_resolution_reported",
    "callcenter_contacts_resolved",
    "callcenter_contacts_identified",
    "callcenter_contacts_repeat",
    "callcenter_abandoned_recovered",
    "callcenter_abandoned_lost",
    "callcenter_service_level_ratio",
    "callcenter_abandon_ratio",
    "callcenter_asa_seconds",
    "callcenter_aht_seconds",
    "callcenter_csat_score",
    "callcenter_nps_score",
    "callcenter_ces_score",
    "callcenter_fcr_ratio",
    "callcenter_repeat_ratio",
    "callcenter_lost_customer_ratio",
    "callcenter_wait_seconds",
    "callcenter_handle_seconds",
    "callcenter_talk_seconds",
    "callcenter_hold_seconds",
    "callcenter_wrapup_seconds",
    "callcenter_first_response_seconds",
    "callcenter_agent_seconds",
    "callcenter_occupancy_ratio",
    "callcenter_breach",
];

/// The windowed families the `standard` profile leaves out; it writes every other one: what
/// the built-in wallboard, the shipped Grafana dashboards and the generated alert rules read (a
/// test checks each of them against it). Their cumulative counters and histograms remain.
pub const STANDARD_LEFT_OUT: [&str; 6] = [
    "callcenter_contacts_abandoned_short",
    "callcenter_contacts_transferred",
    "callcenter_ces_score",
    "callcenter_talk_seconds",
    "callcenter_hold_seconds",
    "callcenter_wrapup_seconds",
];

/// Quantiles every summary can carry, in thousandths.
pub const QUANTILES: [u32; 3] = [500, 900, 990];

/// Upper bounds (seconds) the cumulative duration histograms can have (`full`: all of them).
pub const HISTOGRAM_BOUNDS: [f64; 17] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 900.0,
    1800.0, 3600.0,
];

/// `[export] max_agents_exported` when not written, and the most it may be: per agent the export
/// writes 2 series plus 2 per queue it handled today, so 10,000 agents of 3 queues are 80,000.
pub const DEFAULT_MAX_AGENTS_EXPORTED: usize = 1_000;
pub const MAX_AGENTS_EXPORTED_LIMIT: usize = 10_000;

/// The `standard` profile's histogram bounds: service-level thresholds to half an hour.
const STANDARD_BOUNDS: [f64; 8] = [10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// A named starting point; the keys written beside it replace its choices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The windows the alerts and the forecast watch plus `today`; the families the wallboard,
    /// the dashboards and the alerts read; the median; 8 histogram bounds.
    #[default]
    Standard,
    /// Everything, in every window: the contract's complete output (as before profiles).
    Full,
}

/// `[export]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileExport {
    #[serde(default)]
    profile: Profile,
    windows: Option<Vec<String>>,
    families: Option<Vec<String>>,
    quantiles: Option<Vec<f64>>,
    histogram_buckets: Option<Vec<f64>>,
    #[serde(default)]
    agents: bool,
    max_agents_exported: Option<usize>,
}

/// The export profile, validated: what the exposition writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportConfig {
    pub profile: Profile,
    /// Labels of the windows whose windowed families are written.
    pub windows: Vec<String>,
    /// The windowed families written, in [`WINDOWED_FAMILIES`] order.
    pub families: Vec<&'static str>,
    /// The summaries' quantiles, in thousandths, ascending.
    pub quantiles: Vec<u32>,
    /// Places in [`HISTOGRAM_BOUNDS`] of the histograms' bounds, ascending.
    pub buckets: Vec<usize>,
    /// The windows of the configuration whose windowed families are not written, each with
    /// what would write them (`check-config` and the start-up log say so).
    pub not_exported: Vec<NotExported>,
    /// The per-agent families (`callpulse_agent_*`) are written: off unless `[export] agents`.
    pub agents: bool,
    /// At most this many agents get per-agent series (the first by agent name); the rest are
    /// counted in `callpulse_agent_export_left_out`.
    pub max_agents_exported: usize,
}

/// A window the configuration defines and the export profile does not write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotExported {
    pub window: String,
    /// Why not, and the key that exports it.
    pub why: String,
}

impl std::fmt::Display for NotExported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "window {:?} is not exported: {}", self.window, self.why)
    }
}

/// Which windows the configuration file writes itself (a window written is exported).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Written {
    /// `[engine] windows` is written.
    pub windows: bool,
    /// `[engine] interval` is written.
    pub interval: bool,
}

impl Default for ExportConfig {
    /// The `standard` profile of the default configuration (alerts and forecast on `15m`).
    fn default() -> Self {
        ExportConfig::standard(vec!["15m".into(), "today".into()])
    }
}

impl ExportConfig {
    /// Everything, in every window of `windows` (rolling labels, then `interval`, `today`).
    pub fn full(windows: Vec<String>) -> ExportConfig {
        ExportConfig {
            profile: Profile::Full,
            windows,
            families: WINDOWED_FAMILIES.to_vec(),
            quantiles: QUANTILES.to_vec(),
            buckets: (0..HISTOGRAM_BOUNDS.len()).collect(),
            not_exported: Vec::new(),
            agents: false,
            max_agents_exported: DEFAULT_MAX_AGENTS_EXPORTED,
        }
    }

    fn standard(windows: Vec<String>) -> ExportConfig {
        ExportConfig {
            profile: Profile::Standard,
            windows,
            families: (WINDOWED_FAMILIES.iter().copied())
                .filter(|f| !STANDARD_LEFT_OUT.contains(f))
                .collect(),
            quantiles: vec![500],
            buckets: bound_places(&STANDARD_BOUNDS).unwrap_or_default(),
            not_exported: Vec::new(),
            agents: false,
            max_agents_exported: DEFAULT_MAX_AGENTS_EXPORTED,
        }
    }

    /// Whether the windowed family `name` is written (in the profile's windows).
    pub fn family(&self, name: &str) -> bool {
        self.families.contains(&name)
    }

    /// Whether the windowed families are written for the window labelled `label`.
    pub fn window(&self, label: &str) -> bool {
        self.windows.iter().any(|w| w == label)
    }

    /// The histograms' upper bounds, in seconds.
    pub fn bounds(&self) -> Vec<f64> {
        self.buckets.iter().map(|&i| HISTOGRAM_BOUNDS[i]).collect()
    }
}

/// Every window label the engine exports: rolling windows, `interval`, `today`.
fn all_windows(rolling: &[RollingWindow]) -> Vec<String> {
    (rolling.iter().map(|w| w.label.clone()))
        .chain(["interval".into(), "today".into()])
        .collect()
}

fn bound_places(bounds: &[f64]) -> Option<Vec<usize>> {
    bounds
        .iter()
        .map(|b| HISTOGRAM_BOUNDS.iter().position(|h| h == b))
        .collect()
}

impl FileExport {
    /// Resolves the profile against the engine's windows, the alerts window and the forecast
    /// window; the error names the key.
    ///
    /// Under `standard` a window the file writes itself (a rolling window listed in
    /// `[engine] windows`, the `interval` when `[engine] interval` is written) is exported, as
    /// are the windows the alerts and the forecast watch and `today`; the contract's default
    /// windows the file does not write are computed only where a reader needs them.
    pub(super) fn resolve(
        &self,
        rolling: &[RollingWindow],
        alerts_window: &str,
        forecast: Option<&RollingWindow>,
        written: Written,
    ) -> Result<ExportConfig, SettingError> {
        let all = all_windows(rolling);
        let mut export = match self.profile {
            Profile::Full => ExportConfig::full(all.clone()),
            Profile::Standard => {
                let listed = |w: &str| match w {
                    "interval" => written.interval,
                    "today" => true,
                    _ => written.windows,
                };
                let watched: Vec<&str> = [Some(alerts_window), forecast.map(|f| f.label.as_str())]
                    .into_iter()
                    .flatten()
                    .collect();
                let windows = (all.iter())
                    .filter(|w| watched.contains(&w.as_str()) || listed(w))
                    .cloned()
                    .collect();
                ExportConfig::standard(windows)
            }
        };
        if let Some(windows) = &self.windows {
            if let Some(w) = windows.iter().find(|w| !all.contains(w)) {
                return Err(SettingError::new(
                    "export.windows",
                    format!(
                        "{w:?} is not one of engine.windows, \"interval\" or \"today\" ({})",
                        all.join(", ")
                    ),
                ));
            }
            export.windows = (all.iter())
                .filter(|w| windows.contains(w))
                .cloned()
                .collect();
        }
        export.not_exported = (all.iter())
            .filter(|w| !export.window(w))
            .map(|w| NotExported {
                window: w.clone(),
                why: match (&self.windows, w.as_str()) {
                    (Some(_), _) => "left out by [export] windows; list it there".into(),
                    (None, "interval") => {
                        "the default reporting interval under profile \"standard\"; write [engine] interval, list \"interval\" in [export] windows, or set profile = \"full\"".into()
                    }
                    (None, _) => {
                        "a default window ([engine] windows not written) under profile \"standard\"; list it in [engine] windows or [export] windows, or set profile = \"full\"".into()
                    }
                },
            })
            .collect();
        if let Some(families) = &self.families {
            if let Some(f) = (families.iter()).find(|f| !WINDOWED_FAMILIES.contains(&f.as_str())) {
                return Err(SettingError::new(
                    "export.families",
                    format!(
                        "{f:?} is not a windowed family; one of {}",
                        WINDOWED_FAMILIES.join(", ")
                    ),
                ));
            }
            export.families = (WINDOWED_FAMILIES.iter().copied())
                .filter(|f| families.iter().any(|g| g == f))
                .collect();
        }
        if let Some(quantiles) = &self.quantiles {
            let mut places = Vec::new();
            for q in quantiles {
                let Some(&t) = QUANTILES.iter().find(|&&t| f64::from(t) / 1000.0 == *q) else {
                    return Err(SettingError::new(
                        "export.quantiles",
                        format!("{q} is not one of 0.5, 0.9, 0.99"),
                    ));
                };
                places.push(t);
            }
            places.sort_unstable();
            places.dedup();
            export.quantiles = places;
        }
        if let Some(bounds) = &self.histogram_buckets {
            let mut places = bound_places(bounds).ok_or_else(|| {
                SettingError::new(
                    "export.histogram_buckets",
                    format!("every bound is one of {HISTOGRAM_BOUNDS:?} (seconds)"),
                )
            })?;
            places.sort_unstable();
            places.dedup();
            export.buckets = places;
        }
        export.agents = self.agents;
        if let Some(max) = self.max_agents_exported {
            if !(1..=MAX_AGENTS_EXPORTED_LIMIT).contains(&max) {
                return Err(SettingError::new(
                    "export.max_agents_exported",
                    format!("{max} is not between 1 and {MAX_AGENTS_EXPORTED_LIMIT}"),
                ));
            }
            export.max_agents_exported = max;
        }
        Ok(export)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Center, Settings};

    /// Settings as read beside an `[alerts] window`, which the standard profile exports.
    fn watched_by_alerts(text: &str, window: &str) -> Settings {
        let center: Center = toml::from_str(text).unwrap();
        center.resolve(text, Some(window)).unwrap().0
    }

    #[test]
    fn the_standard_profile_watches_the_alert_and_forecast_windows_and_today() {
        let c = Settings::parse("").unwrap();
        let said = ExportConfig {
            not_exported: Vec::new(),
            ..c.export.clone()
        };
        assert_eq!(said, ExportConfig::default());
        assert_eq!(c.export.windows, ["15m", "today"]);
        let not: Vec<&str> = c.export.not_exported.iter().map(|n| &*n.window).collect();
        assert_eq!(not, ["5m", "1h", "interval"]);
        let c = watched_by_alerts("[engine]\nforecast_window = \"1h\"\n", "5m");
        assert_eq!(c.export.windows, ["5m", "1h", "today"]);
        assert_eq!(c.export.quantiles, [500]);
        assert_eq!(c.export.bounds(), STANDARD_BOUNDS);
        assert!(c.export.family("callcenter_wait_seconds"));
        assert!(!c.export.family("callcenter_talk_seconds"));
    }

    #[test]
    fn a_window_the_file_lists_is_exported_under_the_standard_profile() {
        let c = Settings::parse("[engine]\nwindows = [\"5m\", \"15m\", \"1h\"]\n").unwrap();
        assert_eq!(c.export.windows, ["5m", "15m", "1h", "today"]);
        let not: Vec<&str> = c.export.not_exported.iter().map(|n| &*n.window).collect();
        assert_eq!(not, ["interval"]);
        let c = Settings::parse("[engine]\nwindows = [\"30m\"]\ninterval = \"30m\"\n").unwrap();
        assert_eq!(c.export.windows, ["30m", "interval", "today"]);
        assert!(c.export.not_exported.is_empty());
        assert_eq!(c.engine.kept_labels(), ["30m", "interval", "today"]);
    }

    #[test]
    fn the_full_profile_is_everything_and_written_keys_replace_a_profile_choice() {
        let c = Settings::parse("[export]\nprofile = \"full\"\n").unwrap();
        assert_eq!(c.export.windows, ["5m", "15m", "1h", "interval", "today"]);
        assert_eq!(c.export.families, WINDOWED_FAMILIES);
        assert_eq!(c.export.bounds(), HISTOGRAM_BOUNDS);
        let c = Settings::parse(
            "[export]\nwindows = [\"today\", \"1h\"]\nfamilies = [\"callcenter_breach\", \"callcenter_contacts_offered\"]\nquantiles = [0.99, 0.5]\nhistogram_buckets = [60, 20]\n",
        )
        .unwrap();
        assert_eq!(c.export.windows, ["1h", "today"]);
        assert_eq!(
            c.export.families,
            ["callcenter_contacts_offered", "callcenter_breach"]
        );
        assert_eq!(c.export.quantiles, [500, 990]);
        assert_eq!(c.export.bounds(), [20.0, 60.0]);
    }

    #[test]
    fn an_export_key_outside_its_choices_is_refused_by_name() {
        for (text, key) in [
            ("windows = [\"2h\"]", "export.windows"),
            (
                "families = [\"callcenter_contacts_offered_total\"]",
                "export.families",
            ),
            ("quantiles = [0.75]", "export.quantiles"),
            ("histogram_buckets = [25]", "export.histogram_buckets"),
            ("profile = \"tiny\"", "profile"),
            ("window = [\"15m\"]", "window"),
            ("max_agents_exported = 0", "export.max_agents_exported"),
            ("max_agents_exported = 10001", "export.max_agents_exported"),
            ("agents = \"yes\"", "agents"),
        ] {
            let err = Settings::parse(&format!("[export]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn the_per_agent_export_is_off_unless_asked_for_and_capped() {
        let c = Settings::parse("").unwrap();
        assert!(!c.export.agents);
        assert_eq!(c.export.max_agents_exported, DEFAULT_MAX_AGENTS_EXPORTED);
        let c = Settings::parse("[export]\nagents = true\nmax_agents_exported = 50\n").unwrap();
        assert!(c.export.agents);
        assert_eq!(c.export.max_agents_exported, 50);
    }
}
