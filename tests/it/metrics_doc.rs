//! `docs/metrics.md`, the metric reference, is generated from what the code renders (its family
//! tables, through a real exposition of a simulated day and the service's self-metrics): this
//! test fails when the two drift. `CALLPULSE_WRITE_DOCS=1 cargo test --test it metrics_doc`
//! rewrites the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use callpulse::config::Config;
use callpulse::replay::{replay_windows, Windows};
use callpulse::service::state::{PartView, ServiceState};
use callpulse::time::HOUR;
use callpulse::tools::sim::{SimConfig, Simulator};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");

/// Every family of an exposition: (name → (type, help, label names)).
fn families(text: &str) -> BTreeMap<String, (String, String, Vec<String>)> {
    let mut out: BTreeMap<String, (String, String, Vec<String>)> = BTreeMap::new();
    let mut help: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, h) = rest.split_once(' ').unwrap_or((rest, ""));
            help.insert(name.to_string(), h.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let h = help.get(name).cloned().unwrap_or_default();
            out.insert(name.to_string(), (kind.to_string(), h, Vec::new()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let series = line.split(' ').next().unwrap_or("");
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let family = if out.contains_key(name) {
                name
            } else {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| out.contains_key(*f)))
                    .unwrap_or(name)
            };
            if let Some((_, _, names)) = out.get_mut(family) {
                for pair in labels.trim_end_matches('}').split("\",") {
                    if let Some((label, _)) = pair.split_once('=') {
                        if !label.is_empty() && !names.iter().any(|n| n == label) {
                            names.push(label.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

/// The per-agent families (`[export] agents`), documented in a section of their own.
const PER_AGENT: &str = "callpulse_agent_";

fn table(families: &BTreeMap<String, (String, String, Vec<String>)>, prefix: &str) -> String {
    let mut s = String::from("| family | type | labels | meaning |\n|---|---|---|---|\n");
    let wanted =
        |n: &str| n.starts_with(prefix) && (prefix == PER_AGENT || !n.starts_with(PER_AGENT));
    for (name, (kind, help, labels)) in families.iter().filter(|(n, _)| wanted(n)) {
        let labels = if labels.is_empty() {
            "—".to_string()
        } else {
            labels.join(", ")
        };
        let help = help.replace('|', "\\|");
        s.push_str(&format!("| `{name}` | {kind} | {labels} | {help} |\n"));
    }
    s
}

/// The reference as the code renders it today.
fn generated() -> String {
    let config = Arc::new(
        Config::parse(
            "[export]\nprofile = \"full\"\nagents = true\n[defaults]\nfirst_response_target = \"10m\"\n",
        )
        .unwrap(),
    );
    // a simulated morning: every family has samples (ratios, forecasts, surveys)
    let start = 1_795_424_400_000; // 2026-11-23T09:00:00Z
    let mut sim = Simulator::new(SimConfig {
        start_ms: start,
        rate: 1.0,
        ..SimConfig::default()
    });
    let mut events = Vec::new();
    sim.advance(start + 2 * HOUR, &mut events);
    let lines: Vec<&str> = events.iter().map(|e| e.json.as_str()).collect();
    let replayed = replay_windows(
        config.clone(),
        &Default::default(),
        lines.join("\n").as_bytes(),
        None,
        Windows::Exported,
    )
    .unwrap();
    let state = ServiceState::new(config);
    state.publish(
        ("events".into(), 0),
        PartView {
            snapshot: Arc::new(replayed.snapshot),
            ..PartView::default()
        },
    );
    let text = state.render_metrics(start + 2 * HOUR);
    let all = families(&text);
    format!(
        "# Metric reference\n\n\
         Generated from what the code renders (`tests/it/metrics_doc.rs` fails when this file and \
         the code drift; `CALLPULSE_WRITE_DOCS=1 cargo test --test it metrics_doc` rewrites it). \
         Every family of the `full` export profile with a `first_response_target` set; the \
         default profile writes fewer windows and windowed families (`callpulse check-config` \
         says which). Meanings and names follow the KPI contract (kpis.md 1.2).\n\n\
         ## Contact-center KPIs (`callcenter_*`)\n\n\
         Windowed families carry `window` (a rolling window as configured, `interval`, `today`); \
         the cumulative counters (`_total`) and histograms count final facts only and never \
         decrease.\n\n{}\n\
         ## Per agent (`callpulse_agent_*`, opt-in)\n\n\
         Written only with `[export] agents = true`, for at most `[export] max_agents_exported` \
         agents (1,000 unless written; the first by agent name, the others counted in \
         `callpulse_agent_export_left_out`), merged over the instance's partitions as \
         `/api/v1/agents` merges them. Series: per agent 2 (its state and its time in state; \
         the state alone while it is unknown), plus 2 per queue it handled a contact in today, \
         plus 1 in all: at most `agents × (2 + 2 × queues) + 1`; 1,000 agents handling 2 queues \
         each are 6,001 series. The handled counts and handle-time sums are gauges, not \
         counters: they go back to 0 at each queue's day start.\n\n{}\n\
         ## The service's own metrics (`callpulse_*`)\n\n{}",
        table(&all, "callcenter_"),
        table(&all, PER_AGENT),
        table(&all, "callpulse_")
    )
}

#[test]
fn metrics_doc_is_what_the_code_renders() {
    let want = generated();
    if std::env::var_os("CALLPULSE_WRITE_DOCS").is_some() {
        std::fs::write(DOC, &want).unwrap();
    }
    let have = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        have == want,
        "docs/metrics.md differs from what the code renders: run \
         `CALLPULSE_WRITE_DOCS=1 cargo test --test it metrics_doc` and commit the file"
    );
    // the reference holds the families the contract and the alerts depend on
    for family in [
        "callcenter_service_level_ratio",
        "callcenter_breach",
        "callcenter_agents",
        "callcenter_forecast_agents_required",
        "callpulse_events_rejected_total",
        "callpulse_scrapes_total",
        "callpulse_agent_state",
        "callpulse_agent_handled_today",
    ] {
        assert!(have.contains(&format!("`{family}`")), "{family}");
    }
}
