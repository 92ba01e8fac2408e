//! What the service shares between its parts, and the self-metrics platform teams scrape.
//!
//! Partition workers publish a [`PartView`] (snapshot + counters) on every tick; the hot path
//! touches no lock. A scrape merges the latest views and renders the contract's families plus
//! `callpulse_*` self-metrics with a fixed label set.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry, TextEncoder,
};

use crate::config::Config;
use crate::engine::{Engine, EngineStats};
use crate::event::RejectReason;
use crate::export::{escape_label, render, Exposition};
use crate::snapshot::Snapshot;
use crate::time::Millis;

/// A partition's identity.
pub type PartitionKey = (String, i32);

/// The latest published state of one partition worker.
#[derive(Clone, Debug, Default)]
pub struct PartView {
    pub snapshot: Snapshot,
    pub stats: EngineStats,
    pub open_contacts: usize,
    /// KPI facts held by the windows (memory is bounded by what the windows hold).
    pub facts_held: usize,
    /// Event time of the newest accepted event.
    pub last_event_ms: Option<Millis>,
    /// Kafka timestamp (ms) of the last message processed.
    pub last_message_ms: Option<Millis>,
    /// Next offset to process.
    pub position: i64,
    /// Events older than the rebuild horizon, read and skipped after an assignment.
    pub skipped_before_rebuild: u64,
    pub dead_lettered: u64,
}

/// Shared between the consumer thread, the partition workers and the HTTP server.
pub struct Shared {
    pub config: Arc<Config>,
    parts: Mutex<BTreeMap<PartitionKey, PartView>>,
    /// High watermark per partition, from librdkafka statistics.
    high: Mutex<BTreeMap<PartitionKey, i64>>,
    pub joined: AtomicBool,
    pub broker_up: AtomicBool,
    pub stopping: AtomicBool,
    /// Messages behind the high watermark a partition may be and still count as caught up.
    pub ready_lag: AtomicI64,
    registry: Registry,
    pub rebalances: IntCounter,
    pub assigned: IntGauge,
    pub event_delay: Histogram,
    pub consumer_errors: IntCounter,
    /// Messages handled by the partition workers (applied or rejected).
    pub processed: AtomicU64,
    /// Wall time from a message's Kafka timestamp to its processing, in microseconds.
    pub message_delay: Mutex<hdrhistogram::Histogram<u64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(config: Arc<Config>) -> Arc<Shared> {
        let registry = Registry::new();
        let rebalances = IntCounter::new(
            "callpulse_rebalances_total",
            "Consumer-group rebalances this instance went through.",
        )
        .expect("valid metric");
        let assigned = IntGauge::new(
            "callpulse_assigned_partitions",
            "Partitions assigned to this instance.",
        )
        .expect("valid metric");
        let consumer_errors = IntCounter::new(
            "callpulse_consumer_errors_total",
            "Errors reported by the Kafka client.",
        )
        .expect("valid metric");
        let event_delay = Histogram::with_opts(
            HistogramOpts::new(
                "callpulse_event_delay_seconds",
                "Wall-clock time from an event's ts to its processing.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
        )
        .expect("valid metric");
        let build = IntGauge::with_opts(
            Opts::new("callpulse_build_info", "Build information.")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("valid metric");
        build.set(1);
        for c in [
            Box::new(rebalances.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(assigned.clone()),
            Box::new(consumer_errors.clone()),
            Box::new(event_delay.clone()),
            Box::new(build),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Arc::new(Shared {
            config,
            parts: Mutex::new(BTreeMap::new()),
            high: Mutex::new(BTreeMap::new()),
            joined: AtomicBool::new(false),
            broker_up: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            ready_lag: AtomicI64::new(1000),
            registry,
            rebalances,
            assigned,
            event_delay,
            consumer_errors,
            processed: AtomicU64::new(0),
            message_delay: Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                    .expect("valid bounds"),
            ),
        })
    }

    pub fn publish(&self, key: PartitionKey, view: PartView) {
        lock(&self.parts).insert(key, view);
    }

    /// Adds a worker's message delays (microseconds) to the shared distribution.
    pub fn record_delays(&self, local: &hdrhistogram::Histogram<u64>) {
        let _ = lock(&self.message_delay).add(local);
    }

    /// Message delay quantile in seconds (Kafka timestamp to processed).
    pub fn message_delay_quantile(&self, q: f64) -> Option<f64> {
        let h = lock(&self.message_delay);
        (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e6)
    }

    pub fn reset_message_delay(&self) {
        lock(&self.message_delay).reset();
    }

    pub fn forget(&self, key: &PartitionKey) {
        lock(&self.parts).remove(key);
        lock(&self.high).remove(key);
    }

    pub fn set_high_watermark(&self, key: PartitionKey, high: i64) {
        lock(&self.high).insert(key, high);
    }

    fn lag(&self, key: &PartitionKey, position: i64) -> Option<i64> {
        lock(&self.high).get(key).map(|&h| (h - position).max(0))
    }

    /// Ready: group joined, a broker reachable, every assigned partition caught up.
    pub fn ready(&self) -> bool {
        if !self.joined.load(Ordering::Relaxed)
            || !self.broker_up.load(Ordering::Relaxed)
            || self.stopping.load(Ordering::Relaxed)
        {
            return false;
        }
        let max_lag = self.ready_lag.load(Ordering::Relaxed);
        let parts = lock(&self.parts)
            .iter()
            .map(|(k, v)| (k.clone(), v.position))
            .collect::<Vec<_>>();
        parts.len() as i64 >= self.assigned.get()
            && parts
                .iter()
                .all(|(k, pos)| self.lag(k, *pos).is_some_and(|l| l <= max_lag))
    }

    /// The full /metrics page at wall-clock instant `now`.
    pub fn render_metrics(&self, now: Millis) -> String {
        let views: Vec<(PartitionKey, PartView)> = lock(&self.parts)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Configured queues are exported even while no partition is assigned.
        let mut base = Engine::new(self.config.clone());
        base.advance(now);
        let snapshot = Snapshot::merge(
            std::iter::once(base.snapshot()).chain(views.iter().map(|(_, v)| v.snapshot.clone())),
        );
        let mut out = Exposition::new();
        render(&snapshot, &mut out);
        self.render_self(&views, now, &mut out);
        let mut text = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut text);
        out.push_raw(&String::from_utf8_lossy(&text));
        out.finish()
    }

    fn render_self(&self, views: &[(PartitionKey, PartView)], now: Millis, out: &mut Exposition) {
        let total = |f: fn(&PartView) -> u64| views.iter().map(|(_, v)| f(v)).sum::<u64>() as f64;
        out.family("callpulse_up", "gauge", "1 while the process runs.");
        out.sample("callpulse_up", "", "", "", 1.0);
        out.family("callpulse_ready", "gauge", "1 when the group is joined, a broker is reachable and every assigned partition is caught up.");
        out.sample(
            "callpulse_ready",
            "",
            "",
            "",
            f64::from(u8::from(self.ready())),
        );
        out.family(
            "callpulse_events_accepted_total",
            "counter",
            "Events applied to the engine.",
        );
        out.sample(
            "callpulse_events_accepted_total",
            "",
            "",
            "",
            total(|v| v.stats.accepted),
        );
        out.family(
            "callpulse_events_rejected_total",
            "counter",
            "Events rejected (or later discarded) by reason; they never change a KPI.",
        );
        for r in RejectReason::ALL {
            let n: u64 = views.iter().map(|(_, v)| v.stats.rejected(r)).sum();
            out.sample(
                "callpulse_events_rejected_total",
                "",
                &format!("reason=\"{}\"", r.as_str()),
                "",
                n as f64,
            );
        }
        out.family(
            "callpulse_events_dead_lettered_total",
            "counter",
            "Rejected messages copied to the dead-letter topic.",
        );
        out.sample(
            "callpulse_events_dead_lettered_total",
            "",
            "",
            "",
            total(|v| v.dead_lettered),
        );
        out.family(
            "callpulse_events_skipped_rebuild_total",
            "counter",
            "Events older than the rebuild horizon read after an assignment and skipped.",
        );
        out.sample(
            "callpulse_events_skipped_rebuild_total",
            "",
            "",
            "",
            total(|v| v.skipped_before_rebuild),
        );
        out.family("callpulse_contacts_expired_total", "counter", "Contacts dropped unfinished: stale after contact_timeout or evicted at max_open_contacts.");
        out.sample(
            "callpulse_contacts_expired_total",
            "",
            "",
            "",
            total(|v| v.stats.contacts_expired + v.stats.contacts_evicted),
        );
        out.family(
            "callpulse_agents_forgotten_total",
            "counter",
            "Logged-out agents forgotten because max_agents agents were held.",
        );
        out.sample(
            "callpulse_agents_forgotten_total",
            "",
            "",
            "",
            total(|v| v.stats.agents_forgotten),
        );
        out.family(
            "callpulse_open_contacts",
            "gauge",
            "Contacts held in memory.",
        );
        out.sample(
            "callpulse_open_contacts",
            "",
            "",
            "",
            total(|v| v.open_contacts as u64),
        );
        out.family(
            "callpulse_facts_held",
            "gauge",
            "KPI facts held in memory: what the rolling windows hold plus what is not final yet.",
        );
        out.sample(
            "callpulse_facts_held",
            "",
            "",
            "",
            total(|v| v.facts_held as u64),
        );
        out.family(
            "callpulse_queues",
            "gauge",
            "Queues known to this instance.",
        );
        let queues: std::collections::BTreeSet<&str> = views
            .iter()
            .flat_map(|(_, v)| v.snapshot.queues.iter().map(|q| q.name.as_str()))
            .collect();
        out.sample(
            "callpulse_queues",
            "",
            "",
            "",
            queues.len().max(self.config.queues.len()) as f64,
        );
        out.family(
            "callpulse_last_event_timestamp_seconds",
            "gauge",
            "Event time of the newest accepted event.",
        );
        if let Some(last) = views.iter().filter_map(|(_, v)| v.last_event_ms).max() {
            out.sample(
                "callpulse_last_event_timestamp_seconds",
                "",
                "",
                "",
                last as f64 / 1000.0,
            );
        }
        out.family(
            "callpulse_consumer_lag_messages",
            "gauge",
            "Messages between the processed position and the partition's high watermark.",
        );
        let labels: Vec<String> = views
            .iter()
            .map(|((t, p), _)| {
                let mut s = String::from("topic=\"");
                escape_label(&mut s, t);
                s.push_str(&format!("\",partition=\"{p}\""));
                s
            })
            .collect();
        let lags: Vec<Option<i64>> = views.iter().map(|(k, v)| self.lag(k, v.position)).collect();
        for (l, lag) in labels.iter().zip(&lags) {
            if let Some(lag) = lag {
                out.sample("callpulse_consumer_lag_messages", "", l, "", *lag as f64);
            }
        }
        out.family(
            "callpulse_consumer_lag_seconds",
            "gauge",
            "Age of the last processed message while behind (0 when caught up).",
        );
        for ((l, lag), (_, v)) in labels.iter().zip(&lags).zip(views) {
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
    }
}

/// Wall-clock milliseconds: read by the service shell only, never by the engine.
pub fn wall_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
