//! The same numbers as the exposition, as JSON (`callpulse replay --format json`).

use serde_json::{json, Map, Value};

use super::forecast::{forecasts, FORECASTS};
use super::{COUNTS, QUANTILES, RATIOS};
use crate::event::AgentState;
use crate::kpi::Measure;
use crate::snapshot::Snapshot;

/// The same numbers as JSON: `{"at": ..., "queues": {name: {"windows": {label: {...}}, ...}}}`.
pub fn to_json(snap: &Snapshot) -> Value {
    let mut queues = Map::new();
    let forecasts = forecasts(snap);
    for (q, forecast) in snap.queues.iter().zip(&forecasts) {
        let mut windows = Map::new();
        for (label, w) in snap.window_labels.iter().zip(&q.windows) {
            let mut o = Map::new();
            for (name, count) in COUNTS
                .iter()
                .filter_map(|c| c.window.map(|(n, _)| (n, c.get)))
            {
                o.insert(
                    name.trim_start_matches("callcenter_").into(),
                    json!(count(&w.tally)),
                );
            }
            for (name, _, ratio) in RATIOS {
                o.insert(
                    name.trim_start_matches("callcenter_").into(),
                    json!(ratio(w, q)),
                );
            }
            for m in Measure::ALL {
                let d = w.dist(m);
                let mut s = Map::new();
                for (qm, text) in QUANTILES {
                    s.insert(text.into(), json!(d.quantile_seconds(qm)));
                }
                s.insert("sum".into(), json!(d.sum_seconds()));
                s.insert("count".into(), json!(d.count()));
                o.insert(
                    m.summary_name().trim_start_matches("callcenter_").into(),
                    Value::Object(s),
                );
            }
            let breaches: Map<String, Value> = w
                .breaches(&q.settings)
                .iter()
                .filter_map(|(k, b)| Some((k.to_string(), json!((*b)?))))
                .collect();
            o.insert("breach".into(), Value::Object(breaches));
            windows.insert(label.clone(), Value::Object(o));
        }
        super::workforce::add_json(&mut windows, &snap.window_labels, &q.agent_time);
        let agents: Map<String, Value> = AgentState::EXPORTED
            .iter()
            .zip(q.agents)
            .map(|(s, n)| (s.as_str().to_string(), json!(n)))
            .collect();
        let mut queue = json!({
            "windows": windows,
            "contacts_waiting": q.waiting,
            "oldest_wait_seconds": q.oldest_wait_ms as f64 / 1000.0,
            "agents": agents,
        });
        if let Some(o) = queue.as_object_mut() {
            // the forecast gauges, null while absent (agents required as an integer)
            let [sl, asa, agents] =
                FORECASTS.map(|(name, _, _)| name.trim_start_matches("callcenter_").to_string());
            let f = forecast.as_ref();
            o.insert(sl, json!(f.map(|f| f.service_level)));
            o.insert(asa, json!(f.and_then(|f| f.asa)));
            o.insert(agents, json!(f.and_then(|f| f.agents_required)));
        }
        queues.insert(q.name.clone(), queue);
    }
    json!({ "at": crate::time::format_rfc3339(snap.at), "queues": queues })
}
