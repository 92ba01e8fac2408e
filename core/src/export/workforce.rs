//! The workforce families (docs/metrics.md) of a snapshot, `{queue, window}`: one table row per
//! family over a window's [`AgentTime`], rendered as Prometheus text and as JSON.

use serde_json::{json, Map, Value};

use super::exposition::{close, Piece, Value as Sample, WindowBlock};
use super::Exposition;
use crate::event::AgentState;
use crate::kpi::AgentTime;
use crate::settings::ExportConfig;
use crate::snapshot::Snapshot;

/// What a family reads from a window's agent time.
pub(crate) enum Read {
    /// One sample per exported state (label `state`), 0 included: milliseconds, exported as
    /// seconds.
    ByState(fn(&AgentTime, AgentState) -> i64),
    /// One sample, absent when `None` (a zero denominator).
    One(fn(&AgentTime) -> Option<f64>),
}

pub(crate) const FAMILIES: [(&str, &str, Read); 2] = [
    (
        "callcenter_agent_seconds",
        "Seconds within the window that agents serving the queue spent in the state (an agent serving two queues counts in both).",
        Read::ByState(AgentTime::millis),
    ),
    (
        "callcenter_occupancy_ratio",
        "(busy + wrapup) / (available + busy + wrapup) agent-seconds in the window; absent when no agent was available, busy or in wrap-up.",
        Read::One(AgentTime::occupancy),
    ),
];

/// Renders every family for every queue and window; `blocks[q][w]` holds the labels
/// `queue="..",window=".."` of queue `q` and window `w`.
pub(crate) fn render(
    snap: &Snapshot,
    profile: &ExportConfig,
    blocks: &[Vec<WindowBlock>],
    out: &mut Exposition,
) {
    let states = AgentState::EXPORTED.map(|s| (s, close(&format!("state=\"{}\"", s.as_str()))));
    let none = Piece::new("");
    for (name, help, read) in FAMILIES.iter().filter(|(n, _, _)| profile.family(n)) {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for (q, blocks) in snap.queues.iter().zip(blocks) {
            for (i, b) in blocks {
                let Some(t) = q.agent_time.get(*i) else {
                    continue;
                };
                match read {
                    Read::ByState(get) => {
                        for (s, label) in &states {
                            out.line(&head, b, label, Sample::Decimal(get(t, *s), 3));
                        }
                    }
                    Read::One(get) => {
                        if let Some(v) = get(t) {
                            out.line(&head, b, &none, Sample::Float(v));
                        }
                    }
                }
            }
        }
    }
}

/// Adds the families to each window's JSON object (`windows`: by label, from `labels` and
/// `times` in the same order): `agent_seconds` as `{state: seconds}`, `occupancy_ratio` as a
/// number or `null`.
pub(crate) fn add_json(windows: &mut Map<String, Value>, labels: &[String], times: &[AgentTime]) {
    for (label, t) in labels.iter().zip(times) {
        if let Some(Value::Object(window)) = windows.get_mut(label) {
            add_json_window(window, t);
        }
    }
}

fn add_json_window(window: &mut Map<String, Value>, t: &AgentTime) {
    for (name, _, read) in &FAMILIES {
        let value = match read {
            Read::ByState(get) => Value::Object(
                AgentState::EXPORTED
                    .iter()
                    .map(|&s| (s.as_str().to_string(), json!(get(t, s) as f64 / 1000.0)))
                    .collect(),
            ),
            Read::One(get) => json!(get(t)),
        };
        window.insert(name.trim_start_matches("callcenter_").into(), value);
    }
}
