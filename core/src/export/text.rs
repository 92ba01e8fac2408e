//! The contract's families of a [`Snapshot`] as Prometheus text: every label set rendered once
//! per scrape as a [`Block`], every sample written as its name, its block and its value
//! (integers with `itoa`, durations exactly from their milliseconds, ratios with `ryu`).

use super::exposition::{close, Block, Piece, Value, WindowBlock};
use super::{
    agents, escape_label, forecast, workforce, Exposition, COUNTS, HISTOGRAM_BOUNDS, QUANTILES,
    RATIOS, SUMMARY_HELP,
};
use crate::event::AgentState;
use crate::kpi::{oldest_wait_breached, Durations, Measure, WindowAgg, WINDOW_KPIS};
use crate::settings::ExportConfig;
use crate::snapshot::{QueueSnapshot, Snapshot};

/// Renders the contract's families for every queue of the snapshot, the windowed ones as far
/// as the export `profile` says.
pub fn render(snap: &Snapshot, profile: &ExportConfig, out: &mut Exposition) {
    // About 5 kB per queue and window plus 5 kB per queue (5.9 kB per queue and window
    // measured on 1,000 queues × 5 windows, with customers): reserved once, so a large scrape
    // is never copied to a larger buffer while it is written.
    out.reserve(snap.queues.len() * (snap.window_labels.len() * 5500 + 5000));
    let queue_labels: Vec<String> = snap
        .queues
        .iter()
        .map(|q| {
            let mut s = String::from("queue=\"");
            escape_label(&mut s, &q.name);
            s.push('"');
            s
        })
        .collect();
    let queue_blocks: Vec<Block> = queue_labels.iter().map(|l| Block::new(l)).collect();
    let windows: Vec<(usize, String)> = (snap.window_labels.iter().enumerate())
        .filter(|(_, w)| profile.window(w))
        .map(|(i, w)| (i, format!(",window=\"{w}\"")))
        .collect();
    let mut labels = String::new();
    let window_blocks: Vec<Vec<WindowBlock>> = queue_labels
        .iter()
        .map(|ql| {
            windows
                .iter()
                .map(|(i, w)| {
                    labels.clear();
                    labels.push_str(ql);
                    labels.push_str(w);
                    (*i, Block::new(&labels))
                })
                .collect()
        })
        .collect();
    windowed(snap, profile, &window_blocks, out);
    workforce::render(snap, profile, &window_blocks, out);

    out.family(
        "callcenter_contacts_waiting",
        "gauge",
        "Contacts offered before now with no outcome yet.",
    );
    let none = Piece::new("");
    let head = Piece::new("callcenter_contacts_waiting");
    for (q, b) in snap.queues.iter().zip(&queue_blocks) {
        out.line(&head, b, &none, Value::Int(q.waiting));
    }
    out.family(
        "callcenter_oldest_wait_seconds",
        "gauge",
        "How long the longest-waiting contact has waited; 0 when none waits.",
    );
    let head = Piece::new("callcenter_oldest_wait_seconds");
    for (q, b) in snap.queues.iter().zip(&queue_blocks) {
        out.line(&head, b, &none, Value::Decimal(q.oldest_wait_ms, 3));
    }
    out.family(
        "callcenter_agents",
        "gauge",
        "Agents serving the queue, by state (logged-out agents are not counted).",
    );
    let states = AgentState::EXPORTED.map(|s| close(&format!("state=\"{}\"", s.as_str())));
    let head = Piece::new("callcenter_agents");
    for (q, b) in snap.queues.iter().zip(&queue_blocks) {
        for (state, n) in states.iter().zip(q.agents) {
            out.line(&head, b, state, Value::Int(n));
        }
    }

    forecast::render_forecast(snap, &queue_blocks, out);
    render_targets(snap, &queue_blocks, out);
    render_breaches(snap, profile, &window_blocks, &queue_blocks, out);
    render_cumulative(snap, profile, &queue_blocks, out);
    agents::render(snap, profile, out);
}

/// Each window's value of a windowed family, one column per family: every window is read
/// once for all of them (a family's samples then come from one sequence, not from every
/// window read again per family, as the text format groups samples by family).
struct Columns<T> {
    values: Vec<T>,
    cells: usize,
}

impl<T: Copy> Columns<T> {
    fn new(families: usize, cells: usize, empty: T) -> Self {
        Columns {
            values: vec![empty; families * cells],
            cells,
        }
    }

    fn set(&mut self, family: usize, cell: usize, value: T) {
        self.values[family * self.cells + cell] = value;
    }

    fn family(&self, family: usize) -> &[T] {
        &self.values[family * self.cells..(family + 1) * self.cells]
    }
}

/// A summary's values of one window: its quantiles (tenths of a ms), sum (ms) and count.
type SummaryCell = ([Option<i64>; QUANTILES.len()], i64, i64);

/// The windowed counts, ratios and summaries of every queue, as far as the profile says.
fn windowed(
    snap: &Snapshot,
    profile: &ExportConfig,
    window_blocks: &[Vec<WindowBlock>],
    out: &mut Exposition,
) {
    // every (queue, window) written, in the order of the samples
    let cells: Vec<(&QueueSnapshot, &WindowAgg, &Block)> = (snap.queues.iter())
        .zip(window_blocks)
        .flat_map(|(q, blocks)| {
            (blocks.iter()).filter_map(move |(i, b)| q.windows.get(*i).map(|w| (&**q, w, b)))
        })
        .collect();
    let counts: Vec<_> = (COUNTS.iter())
        .filter_map(|c| c.window.map(|(n, h)| (n, h, c.get)))
        .filter(|(n, _, _)| profile.family(n))
        .collect();
    let ratios: Vec<_> = (RATIOS.into_iter())
        .filter(|(n, _, _)| profile.family(n))
        .collect();
    let measures: Vec<_> = (Measure::ALL.into_iter().zip(SUMMARY_HELP))
        .filter(|(m, _)| profile.family(m.summary_name()))
        .collect();
    let n = cells.len();
    let mut ints = Columns::new(counts.len(), n, 0);
    let mut floats = Columns::new(ratios.len(), n, None);
    let mut summaries: Columns<SummaryCell> =
        Columns::new(measures.len(), n, ([None; QUANTILES.len()], 0, 0));
    for (c, (q, w, _)) in cells.iter().enumerate() {
        for (f, (_, _, count)) in counts.iter().enumerate() {
            ints.set(f, c, count(&w.tally));
        }
        for (f, (_, _, ratio)) in ratios.iter().enumerate() {
            floats.set(f, c, ratio(w, q));
        }
        for (f, (m, _)) in measures.iter().enumerate() {
            let d = w.dist(*m);
            let quantiles = d.quantiles_tenths_of_ms(QUANTILES.map(|(q, _)| q));
            summaries.set(f, c, (quantiles, d.sum_ms(), d.count()));
        }
    }

    let none = Piece::new("");
    for (f, (name, help, _)) in counts.iter().enumerate() {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for ((_, _, b), v) in cells.iter().zip(ints.family(f)) {
            out.line(&head, b, &none, Value::Int(*v));
        }
    }
    for (f, (name, help, _)) in ratios.iter().enumerate() {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for ((_, _, b), v) in cells.iter().zip(floats.family(f)) {
            if let Some(v) = v {
                out.line(&head, b, &none, Value::Float(*v));
            }
        }
    }
    // (place among QUANTILES, label) of the profile's quantiles
    let quantiles: Vec<(usize, Piece)> = (QUANTILES.iter().enumerate())
        .filter(|(_, (q, _))| profile.quantiles.contains(q))
        .map(|(k, (_, label))| (k, close(label)))
        .collect();
    for (f, (m, help)) in measures.iter().enumerate() {
        let name = m.summary_name();
        let (head, sum, count) = (
            Piece::new(name),
            Piece::new(&format!("{name}_sum")),
            Piece::new(&format!("{name}_count")),
        );
        out.family(name, "summary", help);
        for ((_, _, b), (values, sum_ms, n)) in cells.iter().zip(summaries.family(f)) {
            for (k, label) in &quantiles {
                if let Some(v) = values[*k] {
                    out.line(&head, b, label, Value::Decimal(v, 4));
                }
            }
            out.line(&sum, b, &none, Value::Decimal(*sum_ms, 3));
            out.line(&count, b, &none, Value::Int(*n));
        }
    }
}

fn render_targets(snap: &Snapshot, queue_blocks: &[Block], out: &mut Exposition) {
    type Target = fn(&QueueSnapshot) -> f64;
    let targets: [(&str, &str, Target); 6] = [
        (
            "callcenter_sl_threshold_seconds",
            "The queue's service-level threshold.",
            |q| q.settings.sl_threshold.as_secs_f64(),
        ),
        (
            "callcenter_sl_target_ratio",
            "The queue's service-level target.",
            |q| q.settings.sl_target,
        ),
        (
            "callcenter_abandon_target_ratio",
            "The queue's abandonment target (maximum).",
            |q| q.settings.abandon_target,
        ),
        (
            "callcenter_asa_target_seconds",
            "The queue's ASA target (maximum).",
            |q| q.settings.asa_target.as_secs_f64(),
        ),
        (
            "callcenter_aht_target_seconds",
            "The queue's AHT target (maximum).",
            |q| q.settings.aht_target.as_secs_f64(),
        ),
        (
            "callcenter_oldest_wait_target_seconds",
            "The queue's oldest-wait target (maximum).",
            |q| q.settings.oldest_wait_target.as_secs_f64(),
        ),
    ];
    let none = Piece::new("");
    for (name, help, value) in targets {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for (q, b) in snap.queues.iter().zip(queue_blocks) {
            out.line(&head, b, &none, Value::Float(value(q)));
        }
    }
    let name = "callcenter_first_response_target_seconds";
    out.family(
        name,
        "gauge",
        "The queue's first-response target (maximum of the mean); only for queues that set one.",
    );
    let head = Piece::new(name);
    for (q, b) in snap.queues.iter().zip(queue_blocks) {
        if let Some(t) = q.settings.first_response_target {
            out.line(&head, b, &none, Value::Float(t.as_secs_f64()));
        }
    }
    out.family(
        "callcenter_min_volume",
        "gauge",
        "Contacts a window must hold before a breach is signalled.",
    );
    let head = Piece::new("callcenter_min_volume");
    for (q, b) in snap.queues.iter().zip(queue_blocks) {
        let v = Value::Float(q.settings.min_volume as f64);
        out.line(&head, b, &none, v);
    }
}

fn render_breaches(
    snap: &Snapshot,
    profile: &ExportConfig,
    window_blocks: &[Vec<WindowBlock>],
    queue_blocks: &[Block],
    out: &mut Exposition,
) {
    out.family(
        "callcenter_breach",
        "gauge",
        "1 while the KPI is on the wrong side of its target in the window and the window holds at least min_volume contacts.",
    );
    // `kpi="...",window="..."` for every windowed KPI of every window, in breaches() order.
    let kpi_window: Vec<[Piece; 5]> = snap
        .window_labels
        .iter()
        .map(|w| WINDOW_KPIS.map(|k| close(&format!("kpi=\"{k}\",window=\"{w}\""))))
        .collect();
    let windowed = profile.family("callcenter_breach");
    let oldest_label = close("kpi=\"oldest_wait\",window=\"now\"");
    let head = Piece::new("callcenter_breach");
    for ((q, b), shown) in snap.queues.iter().zip(queue_blocks).zip(window_blocks) {
        for (i, _) in shown.iter().filter(|_| windowed) {
            let (Some(w), Some(labels)) = (q.windows.get(*i), kpi_window.get(*i)) else {
                continue;
            };
            for ((_, breached), label) in w.breaches(&q.settings).into_iter().zip(labels) {
                let Some(breached) = breached else {
                    continue;
                };
                out.line(&head, b, label, Value::Int(i64::from(breached)));
            }
        }
        let oldest = oldest_wait_breached(q.oldest_wait_ms, &q.settings);
        out.line(&head, b, &oldest_label, Value::Int(i64::from(oldest)));
    }
}

fn render_cumulative(
    snap: &Snapshot,
    profile: &ExportConfig,
    queue_blocks: &[Block],
    out: &mut Exposition,
) {
    for (name, help, count) in COUNTS
        .iter()
        .filter_map(|c| c.total.map(|(n, h)| (n, h, c.get)))
    {
        out.family(name, "counter", help);
        let (head, none) = (Piece::new(name), Piece::new(""));
        for (q, b) in snap.queues.iter().zip(queue_blocks) {
            out.line(&head, b, &none, Value::Int(count(&q.cumulative.tally)));
        }
    }
    let les: Vec<(usize, Piece)> = (profile.buckets.iter())
        .filter_map(|&i| Some((i, close(&format!("le=\"{}\"", HISTOGRAM_BOUNDS.get(i)?)))))
        .collect();
    let inf = close("le=\"+Inf\"");
    for m in Measure::ALL {
        let name = m.histogram_name();
        let (bucket, sum, count) = (
            Piece::new(&format!("{name}_bucket")),
            Piece::new(&format!("{name}_sum")),
            Piece::new(&format!("{name}_count")),
        );
        let none = Piece::new("");
        out.family(name, "histogram", "Final durations (seconds) since the monitor started, for rate() and histogram_quantile().");
        for (q, b) in snap.queues.iter().zip(queue_blocks) {
            let d = q.cumulative.dist(m);
            let counts = d.cumulative();
            for (i, le) in &les {
                out.line(&bucket, b, le, Value::Int(counts[*i]));
            }
            out.line(&bucket, b, &inf, Value::Int(d.count()));
            out.line(&sum, b, &none, Value::Decimal(d.sum_ms(), 3));
            out.line(&count, b, &none, Value::Int(d.count()));
        }
    }
}
