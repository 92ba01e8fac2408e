//! What the shipped readers of `/metrics` need from the export profile: the generated alert
//! rules, the Grafana dashboards in `deploy/grafana/dashboards/` and the built-in wallboard.
//! Each is read for the windowed families (and `window="..."` literals and median) it uses;
//! `check-config` warns of every one the profile leaves out, and `callpulse rules` leaves out a
//! rule whose series would not exist ([`missing`]).

use crate::config::{Config, ExportConfig, WINDOWED_FAMILIES};

/// The shipped Grafana dashboards and the wallboard page, by the name a warning gives them.
const READERS: [(&str, &str); 3] = [
    (
        "Grafana dashboard wallboard.json",
        include_str!("../../deploy/grafana/dashboards/wallboard.json"),
    ),
    (
        "Grafana dashboard operations.json",
        include_str!("../../deploy/grafana/dashboards/operations.json"),
    ),
    (
        "the built-in wallboard",
        include_str!("../service/wallboard.html"),
    ),
];

/// The windowed family a series name belongs to (`callcenter_wait_seconds_sum` →
/// `callcenter_wait_seconds`), if it is one.
pub fn windowed_family(series: &str) -> Option<&'static str> {
    let base = (series.strip_suffix("_sum"))
        .or_else(|| series.strip_suffix("_count"))
        .filter(|b| WINDOWED_FAMILIES.contains(b))
        .unwrap_or(series);
    WINDOWED_FAMILIES.iter().copied().find(|f| *f == base)
}

/// What the profile lacks of `families` in `window` (a label, or `None` for whichever windows
/// are exported, of which there must be one): `None` when everything is there.
pub fn missing(export: &ExportConfig, families: &[&str], window: Option<&str>) -> Option<String> {
    let lacking: Vec<&str> = (families.iter().copied())
        .filter_map(windowed_family)
        .filter(|f| !export.family(f))
        .collect();
    let mut why = Vec::new();
    if !lacking.is_empty() {
        why.push(format!("{} (export.families)", lacking.join(", ")));
    }
    match window {
        Some(w) if !export.window(w) => why.push(format!("window {w:?} (export.windows)")),
        None if export.windows.is_empty() => why.push("any window (export.windows)".into()),
        _ => {}
    }
    (!why.is_empty()).then(|| why.join(" and "))
}

/// The `callcenter_*` names in `text`, each once, in order of appearance.
fn names(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("callcenter_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        if !found.contains(&&tail[..end]) {
            found.push(&tail[..end]);
        }
        rest = &tail[end..];
    }
    found
}

/// The `window="..."` literals in `text`.
fn window_literals(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    for part in text.split("window=\\\"").skip(1) {
        let literal = part.split('\\').next().filter(|w| !w.starts_with('$'));
        if let Some(w) = literal.filter(|w| !found.contains(w)) {
            found.push(w);
        }
    }
    found
}

/// One warning per shipped reader that needs what the profile of `config` leaves out; the
/// generated rules are left out instead (see [`super::render`]) and listed by `check-config`.
pub fn warnings(config: &Config) -> Vec<String> {
    let export = &config.center.export;
    let mut out = Vec::new();
    for (reader, text) in READERS {
        let families = names(text);
        let windows = window_literals(text);
        let mut lacks: Vec<String> = (windows.iter())
            .filter_map(|w| missing(export, &families, Some(w)))
            .collect();
        lacks.extend(missing(export, &families, None));
        if text.contains("quantile: \"0.5\"") && !export.quantiles.contains(&500) {
            lacks.push("the median (export.quantiles)".into());
        }
        lacks.dedup();
        for lack in lacks {
            out.push(format!(
                "{reader} reads what [export] leaves out: {lack}; its panels or tiles stay empty"
            ));
        }
    }
    out.extend(super::left_out(config).into_iter().map(|(rule, lack)| {
        format!("alert rule {rule} is left out of `callpulse rules`: [export] leaves out {lack}")
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_profile_serves_every_shipped_reader_and_rule() {
        let config = Config::parse("").unwrap();
        assert_eq!(warnings(&config), Vec::<String>::new());
        // also with the alerts and the forecast on other windows
        let config =
            Config::parse("[engine]\nforecast_window = \"1h\"\n[alerts]\nwindow = \"5m\"\n")
                .unwrap();
        let warned = warnings(&config);
        // the operations dashboard's customer panels are fixed on 15m
        assert!(
            warned
                .iter()
                .all(|w| w.contains("operations.json") && w.contains("\"15m\"")),
            "{warned:?}"
        );
    }

    #[test]
    fn every_reader_names_the_windowed_families_it_reads() {
        for (reader, text) in READERS {
            let found: Vec<&str> = names(text)
                .into_iter()
                .filter_map(windowed_family)
                .collect();
            assert!(found.len() >= 5, "{reader}: {found:?}");
        }
        assert_eq!(
            windowed_family("callcenter_first_response_seconds_count"),
            Some("callcenter_first_response_seconds")
        );
        assert_eq!(windowed_family("callcenter_contacts_offered_total"), None);
    }

    #[test]
    fn a_profile_without_a_readers_family_or_window_is_warned_of() {
        let config = Config::parse(
            "[export]\nwindows = [\"today\"]\nfamilies = [\"callcenter_contacts_offered\"]\nquantiles = []\n",
        )
        .unwrap();
        let warned = warnings(&config);
        for reader in READERS.map(|(r, _)| r) {
            assert!(
                warned.iter().any(|w| w.starts_with(reader)),
                "{reader}: {warned:?}"
            );
        }
        assert!(
            warned.iter().any(|w| w.contains("the median")),
            "{warned:?}"
        );
        assert!(
            warned.iter().any(|w| w.contains("CallcenterAsaBreach")
                && w.contains("callcenter_wait_seconds")
                && w.contains("\"15m\"")),
            "{warned:?}"
        );
    }
}
