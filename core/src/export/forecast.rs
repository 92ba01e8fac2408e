//! The forecast families (docs/metrics.md, live, label `queue`): one table (name, help, accessor)
//! rendered into the exposition here and into the JSON by `json.rs`.

use super::exposition::{Block, Piece, Value as Sample};
use super::Exposition;
use crate::kpi::forecast::Forecast;
use crate::snapshot::Snapshot;

type Value = fn(&Forecast) -> Option<f64>;

pub(crate) const FORECASTS: [(&str, &str, Value); 3] = [
    (
        "callcenter_forecast_service_level_ratio",
        "Erlang C service level forecast at now, 1 - C(n, a) * exp(-(n - a) * T / h), 0 when n <= a: a = offered per second * AHT over the forecast window, n = agents available, busy or in wrap-up, T = sl_threshold. Absent while the forecast window holds no offered or no completed contact.",
        |f| Some(f.service_level),
    ),
    (
        "callcenter_forecast_asa_seconds",
        "Erlang C average speed of answer forecast at now, C(n, a) * h / (n - a); absent when n <= a or without a forecast.",
        |f| f.asa,
    ),
    (
        "callcenter_forecast_agents_required",
        "Least number of agents whose Erlang C service level forecast meets the queue's SL target; absent without a forecast.",
        |f| f.agents_required.map(|m| m as f64),
    ),
];

/// The forecast of every queue (computed once per scrape: up to O(a) each).
pub(crate) fn forecasts(snap: &Snapshot) -> Vec<Option<Forecast>> {
    snap.queues
        .iter()
        .map(|q| q.forecast(snap.forecast_window))
        .collect()
}

/// Renders the forecast families for every queue that has a forecast.
pub(super) fn render_forecast(snap: &Snapshot, queue_blocks: &[Block], out: &mut Exposition) {
    let forecasts = forecasts(snap);
    let none = Piece::new("");
    for (name, help, value) in FORECASTS {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for (f, b) in forecasts.iter().zip(queue_blocks) {
            if let Some(v) = f.as_ref().and_then(value) {
                out.line(&head, b, &none, Sample::Float(v));
            }
        }
    }
}
