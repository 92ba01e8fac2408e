//! The rendering of the self-metrics (`callpulse_*`) into the exposition, after the contract's
//! families: the instance-wide counters, gauges and delay distributions of [`SelfMetrics`], and
//! the families summed over, or labelled by, the partition workers' published views.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use crate::event::RejectReason;
use crate::export::{escape_label, Exposition};
use crate::kafka::PartitionKey;
use crate::service::state::READY_LAG;
use crate::service::view::PartView;
use crate::time::Millis;

use super::{
    lock, InternalEvent, LoadOutcome, QueuesSplit, SelfMetrics, Split, EVENT_DELAY_BOUNDS,
    MESSAGE_DELAY_QUANTILES,
};

/// What the instance's state knows of its partitions at a scrape, for the per-partition families.
pub struct Partitions<'a> {
    /// Every assigned partition's published view.
    pub views: &'a [(PartitionKey, PartView)],
    /// Each view's lag behind its high watermark in messages, in `views` order (`None`: no
    /// high watermark known yet).
    pub lags: &'a [Option<i64>],
    /// The instant of the scrape.
    pub now: Millis,
    /// Whether the instance is ready (`/readyz`).
    pub ready: bool,
    /// How many queues the configuration names.
    pub configured_queues: usize,
}

impl SelfMetrics {
    /// The instance-wide families (the per-partition ones: [`SelfMetrics::render_partitions`]).
    pub fn render(&self, out: &mut Exposition) {
        type Get = fn(&SelfMetrics) -> f64;
        const SCALARS: [(&str, &str, &str, Get); 6] = [
            (
                "callpulse_rebalances_total",
                "counter",
                "Consumer-group rebalances this instance went through.",
                |m| m.rebalances.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_assigned_partitions",
                "gauge",
                "Partitions assigned to this instance.",
                |m| m.assigned.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_consumer_errors_total",
                "counter",
                "Errors reported by the Kafka client.",
                |m| m.consumer_errors.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_dead_letter_errors_total",
                "counter",
                "Rejected messages that could not be copied to the dead-letter topic.",
                |m| m.dead_letter_errors.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_messages_processed_total",
                "counter",
                "Messages handled by the partition workers (applied, rejected or skipped).",
                |m| m.messages.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_queues_split",
                "gauge",
                "Queues whose events came from more than one partition of this instance: across instances, their KPIs are exact only from counts summed by queue.",
                |m| m.queues_split.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, get) in SCALARS {
            out.family(name, kind, help);
            out.sample(name, "", "", "", get(self));
        }
        out.family(
            "callpulse_keying_splits_total",
            "counter",
            "Watched contacts (one id in 16) whose events, or customers whose contacts in one queue, came through two partitions of this instance: key the topic by center.",
        );
        for split in Split::ALL {
            let n = self.keying_splits[split as usize].load(Ordering::Relaxed);
            out.sample(
                "callpulse_keying_splits_total",
                "",
                &format!("kind=\"{}\"", split.as_str()),
                "",
                n as f64,
            );
        }
        self.render_checkpoints(out);
        self.render_delays(out);
        self.web.render(out);
        out.family("callpulse_build_info", "gauge", "Build information.");
        out.sample(
            "callpulse_build_info",
            "",
            concat!("version=\"", env!("CARGO_PKG_VERSION"), "\""),
            "",
            1.0,
        );
    }

    fn render_checkpoints(&self, out: &mut Exposition) {
        type Get = fn(&SelfMetrics) -> f64;
        const SCALARS: [(&str, &str, Get); 4] = [
            (
                "callpulse_checkpoints_written_total",
                "Partition checkpoints written to the checkpoint topic.",
                |m| m.checkpoints_written.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_checkpoint_failures_total",
                "Partition checkpoints that could not be taken or written.",
                |m| m.checkpoint_failures.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_checkpoint_bytes_total",
                "Bytes of checkpoints written (compressed).",
                |m| m.checkpoint_bytes.load(Ordering::Relaxed) as f64,
            ),
            (
                "callpulse_checkpoint_write_seconds_total",
                "Time spent taking, compressing and writing checkpoints.",
                |m| m.checkpoint_write_us.load(Ordering::Relaxed) as f64 / 1e6,
            ),
        ];
        for (name, help, get) in SCALARS {
            out.family(name, "counter", help);
            out.sample(name, "", "", "", get(self));
        }
        let name = "callpulse_checkpoint_loads_total";
        out.family(name, "counter", "Checkpoint lookups of newly assigned partitions, by outcome (restored, missing, incompatible, unreadable).");
        for (outcome, n) in LoadOutcome::ALL.iter().zip(&self.checkpoint_loads) {
            let label = format!("outcome=\"{}\"", outcome.as_str());
            out.sample(name, "", &label, "", n.load(Ordering::Relaxed) as f64);
        }
    }

    fn render_delays(&self, out: &mut Exposition) {
        let name = "callpulse_event_delay_seconds";
        out.family(
            name,
            "histogram",
            "Wall-clock time from an event's ts to its processing.",
        );
        let mut cumulative = 0u64;
        for (i, bucket) in self.event_delay.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = EVENT_DELAY_BOUNDS
                .get(i)
                .map_or_else(|| "le=\"+Inf\"".to_string(), |b| format!("le=\"{b}\""));
            out.sample(name, "_bucket", "", &le, cumulative as f64);
        }
        let sum = self.event_delay_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        out.sample(name, "_sum", "", "", sum);
        out.sample(name, "_count", "", "", cumulative as f64);

        let name = "callpulse_message_delay_seconds";
        out.family(
            name,
            "summary",
            "Wall-clock time from a message's Kafka timestamp to its processing, since start.",
        );
        let h = lock(&self.message_delay);
        if !h.is_empty() {
            for (q, label) in MESSAGE_DELAY_QUANTILES {
                out.sample(name, "", "", label, h.value_at_quantile(q) as f64 / 1e6);
            }
        }
        let sum_us: u64 = h
            .iter_recorded()
            .map(|v| v.value_iterated_to() * v.count_at_value())
            .sum();
        out.sample(name, "_sum", "", "", sum_us as f64 / 1e6);
        out.sample(name, "_count", "", "", h.len() as f64);
    }

    /// The families summed over, or labelled by, the partition views.
    pub fn render_partitions(&self, parts: &Partitions<'_>, out: &mut Exposition) {
        let views = parts.views;
        type Total = fn(&PartView) -> u64;
        const TOTALS: [(&str, &str, &str, Total); 15] = [
            ("callpulse_messages_redelivered_total", "counter", "Messages a broker delivered again below a partition's read position, skipped (they were applied once).", |v| v.redelivered),
            ("callpulse_events_accepted_total", "counter", "Events applied to the engine.", |v| v.stats.accepted),
            ("callpulse_events_dead_lettered_total", "counter", "Rejected messages copied to the dead-letter topic.", |v| v.dead_lettered),
            ("callpulse_events_skipped_rebuild_total", "counter", "Events older than the rebuild horizon read after an assignment and skipped.", |v| v.skipped_before_rebuild),
            ("callpulse_contacts_expired_total", "counter", "Contacts dropped unfinished: stale after contact_timeout or evicted at max_open_contacts.", |v| v.stats.contacts_expired + v.stats.contacts_evicted),
            ("callpulse_agents_forgotten_total", "counter", "Logged-out agents forgotten because max_agents agents were held.", |v| v.stats.agents_forgotten),
            ("callpulse_queues_forgotten_total", "counter", "Idle queues that were not configured, forgotten to make room for a new one at max_queues (forget_idle_queues_after).", |v| v.stats.queues_forgotten),
            ("callpulse_customers_forgotten_total", "counter", "Customer histories forgotten because max_customers were held (their repeats and recoveries can no longer be decided).", |v| v.stats.customers_forgotten),
            ("callpulse_customers", "gauge", "Customer histories held in memory (one per customer and queue; keyed hashes, never the ids).", |v| v.stats.customers),
            ("callpulse_open_contacts", "gauge", "Contacts held in memory.", |v| v.open_contacts as u64),
            ("callpulse_facts_held", "gauge", "KPI facts and agent-count changes held in memory: what the rolling windows hold plus what is not final yet.", |v| v.facts_held as u64),
            ("callpulse_agents_held", "gauge", "Agents held in memory (logged in, or logged out and not yet forgotten; at most max_agents logged out).", |v| v.held.agents as u64),
            ("callpulse_dedup_ids_held", "gauge", "Event ids remembered for de-duplication (dedup_horizon, at most dedup_capacity).", |v| v.held.dedup_ids as u64),
            ("callpulse_finished_contacts_held", "gauge", "Finished contacts remembered for their late events and surveys (survey_horizon, at most max_open_contacts).", |v| v.held.finished_contacts as u64),
            ("callpulse_expiry_entries_held", "gauge", "Entries in the contact expiry queue (bounded by the contacts in memory).", |v| v.held.expiry_entries as u64),
        ];
        out.family("callpulse_up", "gauge", "1 while the process runs.");
        out.sample("callpulse_up", "", "", "", 1.0);
        for (name, kind, help, total) in TOTALS {
            out.family(name, kind, help);
            let value: u64 = views.iter().map(|(_, v)| total(v)).sum();
            out.sample(name, "", "", "", value as f64);
        }
        out.family("callpulse_ready", "gauge", "1 when the group is joined, a broker is reachable and every assigned partition is caught up.");
        out.sample(
            "callpulse_ready",
            "",
            "",
            "",
            f64::from(u8::from(parts.ready)),
        );
        out.family(
            "callpulse_events_rejected_total",
            "counter",
            "Events rejected (or later discarded) by reason; they never change a KPI.",
        );
        for r in RejectReason::ALL {
            let n: u64 = views.iter().map(|(_, v)| v.stats.rejected(r)).sum();
            let label = format!("reason=\"{}\"", r.as_str());
            out.sample("callpulse_events_rejected_total", "", &label, "", n as f64);
        }
        out.family(
            "callpulse_queues",
            "gauge",
            "Queues known to this instance.",
        );
        let queues: BTreeSet<&str> = views
            .iter()
            .flat_map(|(_, v)| v.snapshot.queues.iter().map(|q| q.name.as_str()))
            .collect();
        let known = queues.len().max(parts.configured_queues);
        out.sample("callpulse_queues", "", "", "", known as f64);
        // `callpulse_queues_split` is rendered with the instance-wide families.
        QueuesSplit {
            queues: &split_queues(views),
        }
        .emit(self);
        out.family(
            "callpulse_last_event_timestamp_seconds",
            "gauge",
            "Event time of the newest accepted event.",
        );
        if let Some(last) = views.iter().filter_map(|(_, v)| v.last_event_ms).max() {
            let secs = last as f64 / 1000.0;
            out.sample("callpulse_last_event_timestamp_seconds", "", "", "", secs);
        }
        render_lag(parts, out);
        render_input_records(views, out);
    }
}

fn render_lag(parts: &Partitions<'_>, out: &mut Exposition) {
    let (views, now) = (parts.views, parts.now);
    let labels: Vec<String> = views
        .iter()
        .map(|((t, p), _)| {
            let mut s = String::from("topic=\"");
            escape_label(&mut s, t);
            s.push_str(&format!("\",partition=\"{p}\""));
            s
        })
        .collect();
    let lags = parts.lags;
    out.family(
        "callpulse_consumer_lag_messages",
        "gauge",
        "Messages between the processed position and the partition's high watermark.",
    );
    for (l, lag) in labels.iter().zip(lags) {
        if let Some(lag) = lag {
            out.sample("callpulse_consumer_lag_messages", "", l, "", *lag as f64);
        }
    }
    out.family(
        "callpulse_consumer_lag_seconds",
        "gauge",
        "Age of the last processed message while behind (0 when caught up).",
    );
    for ((l, lag), (_, v)) in labels.iter().zip(lags).zip(views) {
        let secs = match (lag, v.last_message_ms) {
            (Some(0), _) => 0.0,
            (Some(_), Some(ts)) => (now - ts).max(0) as f64 / 1000.0,
            _ => continue,
        };
        out.sample("callpulse_consumer_lag_seconds", "", l, "", secs);
    }
    out.family(
        "callpulse_partition_position",
        "gauge",
        "Next offset to process, per partition.",
    );
    for (l, (_, v)) in labels.iter().zip(views) {
        out.sample("callpulse_partition_position", "", l, "", v.position as f64);
    }
    out.family(
            "callpulse_partition_recovered_ratio",
            "gauge",
            "How much of a newly assigned partition is read back: from its checkpoint's offset (or the rebuild horizon) to the high watermark; 1 once caught up, 0 while its checkpoint loads.",
        );
    for ((l, lag), (_, v)) in labels.iter().zip(lags).zip(views) {
        let ratio = match (lag, v.recovery_start) {
            (_, -1) | (None, _) => 0.0,
            (Some(lag), _) if *lag <= READY_LAG => 1.0,
            (Some(lag), start) => {
                let read = (v.position - start).max(0) as f64;
                read / (read + *lag as f64)
            }
        };
        out.sample("callpulse_partition_recovered_ratio", "", l, "", ratio);
    }
}

/// The queues with data in more than one partition view, and in how many. A configured
/// queue no event of a partition named is in that partition's snapshot too, empty: not counted.
fn split_queues(views: &[(PartitionKey, PartView)]) -> Vec<(&str, usize)> {
    let mut partitions: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, v) in views {
        for q in v.snapshot.queues.iter().filter(|q| q.has_data()) {
            *partitions.entry(q.name.as_str()).or_default() += 1;
        }
    }
    partitions.into_iter().filter(|&(_, n)| n > 1).collect()
}

/// `callpulse_input_records_total{format,kind}`: platform records by kind (every kind of every
/// format consumed, 0 included), summed over partitions.
fn render_input_records(views: &[(PartitionKey, PartView)], out: &mut Exposition) {
    let mut sums: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for (_, v) in views {
        let (format, kinds) = &v.input_records;
        for (kind, n) in kinds {
            *sums.entry((format.as_str(), kind)).or_default() += n;
        }
    }
    out.family(
        "callpulse_input_records_total",
        "counter",
        "Records of platform formats read, by format and kind (a kind that maps to no event is counted too).",
    );
    for ((format, kind), n) in sums {
        let labels = format!("format=\"{format}\",kind=\"{kind}\"");
        out.sample("callpulse_input_records_total", "", &labels, "", n as f64);
    }
}
