//! Self-metrics (`callpulse_*`): named events that log and count together, as Vector's internal
//! events do, and their one rendering path into the same exposition as the contract's families
//! (`render`).
//!
//! Each event is a struct; emitting it writes its log line and moves its counter, so a counter
//! can never drift from the logs. Label sets are fixed (reasons are the reject reasons of
//! docs/events.md, partitions are the assigned ones).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::keying::{KeyingWatch, Split};

mod render;
mod web;
pub use render::Partitions;
use web::WebMetrics;
pub use web::{
    AuthChecked, AuthOutcome, ConnectionClosed, ConnectionReason, ConnectionsServed,
    RenderAbandoned, ScrapeServed,
};

use crate::kafka::PartitionKey;
use crate::time::Millis;

/// Upper bounds (seconds) of `callpulse_event_delay_seconds`.
pub const EVENT_DELAY_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Quantiles of `callpulse_message_delay_seconds`.
const MESSAGE_DELAY_QUANTILES: [(f64, &str); 3] = [
    (0.5, "quantile=\"0.5\""),
    (0.99, "quantile=\"0.99\""),
    (1.0, "quantile=\"1\""),
];

/// The counters the service's events move. Shared by every part of one instance.
pub struct SelfMetrics {
    rebalances: AtomicU64,
    assigned: AtomicI64,
    consumer_errors: AtomicU64,
    dead_letter_errors: AtomicU64,
    messages: AtomicU64,
    checkpoints_written: AtomicU64,
    checkpoint_failures: AtomicU64,
    checkpoint_bytes: AtomicU64,
    checkpoint_write_us: AtomicU64,
    /// By `LoadOutcome::ALL` order.
    checkpoint_loads: [AtomicU64; 4],
    /// Event time to processing: per-bucket counts (last = +Inf) and the sum in microseconds.
    event_delay: [AtomicU64; EVENT_DELAY_BOUNDS.len() + 1],
    event_delay_sum_us: AtomicU64,
    /// Kafka timestamp to processing, microseconds, since start (or the last reset).
    message_delay: Mutex<hdrhistogram::Histogram<u64>>,
    /// The HTTP face: scrapes, connections, authentication.
    web: WebMetrics,
    /// Queues with data in more than one partition of this instance, at the last scrape.
    queues_split: AtomicI64,
    /// The queues [`QueuesSplit`] has already warned about (at most one line per queue).
    split_warned: Mutex<BTreeSet<String>>,
    /// Watched contacts and customers found in two partitions, by `Split::ALL` order.
    keying_splits: [AtomicU64; 2],
    keying: KeyingWatch,
}

/// Something that happened in the service: logs itself and moves its counters.
pub trait InternalEvent {
    fn emit(self, metrics: &SelfMetrics);
}

/// A consumer-group rebalance reached this instance.
pub struct Rebalanced<'a> {
    pub what: &'a str,
}

impl InternalEvent for Rebalanced<'_> {
    fn emit(self, m: &SelfMetrics) {
        tracing::info!(what = self.what, "rebalance");
        m.rebalances.fetch_add(1, Ordering::Relaxed);
    }
}

/// The instance now owns `count` partitions.
pub struct PartitionsAssigned {
    pub count: usize,
}

impl InternalEvent for PartitionsAssigned {
    fn emit(self, m: &SelfMetrics) {
        tracing::info!(partitions = self.count, "assignment");
        m.assigned.store(self.count as i64, Ordering::Relaxed);
    }
}

/// The Kafka client reported an error (connection, consume, rebalance).
pub struct ConsumerError<'a> {
    pub error: &'a dyn std::fmt::Display,
    pub context: &'a str,
}

impl InternalEvent for ConsumerError<'_> {
    fn emit(self, m: &SelfMetrics) {
        tracing::warn!(error = %self.error, context = self.context, "kafka client error");
        m.consumer_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// A rejected message could not be copied to the dead-letter topic.
pub struct DeadLetterFailed<'a> {
    pub error: &'a dyn std::fmt::Display,
    pub reason: &'a str,
}

impl InternalEvent for DeadLetterFailed<'_> {
    fn emit(self, m: &SelfMetrics) {
        tracing::warn!(error = %self.error, reason = self.reason, "dead-letter send failed");
        m.dead_letter_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// What became of a partition's checkpoint at its assignment (label of
/// `callpulse_checkpoint_loads_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Resumed from it.
    Restored,
    /// None was written for this partition (or checkpoints are off).
    Missing,
    /// Another format version or configuration: rebuilt from the horizon.
    Incompatible,
    /// Damaged, incomplete or not readable in time: rebuilt from the horizon.
    Unreadable,
}

impl LoadOutcome {
    pub const ALL: [LoadOutcome; 4] = [
        LoadOutcome::Restored,
        LoadOutcome::Missing,
        LoadOutcome::Incompatible,
        LoadOutcome::Unreadable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LoadOutcome::Restored => "restored",
            LoadOutcome::Missing => "missing",
            LoadOutcome::Incompatible => "incompatible",
            LoadOutcome::Unreadable => "unreadable",
        }
    }
}

/// A partition's checkpoint was written.
pub struct CheckpointWritten<'a> {
    pub key: &'a PartitionKey,
    pub next_offset: i64,
    pub bytes: usize,
    /// Taking the state on the worker.
    pub taken: Duration,
    /// Taking, compressing and writing it.
    pub total: Duration,
}

impl InternalEvent for CheckpointWritten<'_> {
    fn emit(self, m: &SelfMetrics) {
        tracing::debug!(
            topic = %self.key.0,
            partition = self.key.1,
            next_offset = self.next_offset,
            bytes = self.bytes,
            taken_ms = self.taken.as_millis() as u64,
            total_ms = self.total.as_millis() as u64,
            "checkpoint written"
        );
        m.checkpoints_written.fetch_add(1, Ordering::Relaxed);
        m.checkpoint_bytes
            .fetch_add(self.bytes as u64, Ordering::Relaxed);
        m.checkpoint_write_us
            .fetch_add(self.total.as_micros() as u64, Ordering::Relaxed);
    }
}

/// A partition's checkpoint could not be taken or written (the next one is tried on time).
pub struct CheckpointFailed<'a> {
    pub key: &'a PartitionKey,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for CheckpointFailed<'_> {
    fn emit(self, m: &SelfMetrics) {
        tracing::warn!(topic = %self.key.0, partition = self.key.1, error = %self.error, "checkpoint not written");
        m.checkpoint_failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// A newly assigned partition looked for its checkpoint.
pub struct CheckpointLoaded<'a> {
    pub key: &'a PartitionKey,
    pub outcome: LoadOutcome,
    /// Why it is not used, when it is not.
    pub error: Option<String>,
    pub next_offset: Option<i64>,
    pub took: Duration,
}

impl InternalEvent for CheckpointLoaded<'_> {
    fn emit(self, m: &SelfMetrics) {
        let (topic, partition, outcome) = (&self.key.0, self.key.1, self.outcome.as_str());
        let took_ms = self.took.as_millis() as u64;
        match (self.outcome, self.error) {
            (LoadOutcome::Restored, _) => {
                tracing::info!(%topic, partition, outcome, next_offset = self.next_offset, took_ms, "resuming from checkpoint")
            }
            (LoadOutcome::Missing, _) => {
                tracing::info!(%topic, partition, outcome, took_ms, "no checkpoint; rebuilding from the horizon")
            }
            (_, error) => {
                tracing::warn!(%topic, partition, outcome, error, took_ms, "checkpoint not used; rebuilding from the horizon")
            }
        }
        let i = LoadOutcome::ALL
            .iter()
            .position(|o| *o == self.outcome)
            .unwrap_or(0);
        m.checkpoint_loads[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// Queues whose events this instance read from more than one of its partitions, as a scrape
/// found them. Within the instance their snapshots are merged exactly; across instances each
/// one sees only its partitions' part of such a queue, so its ratios, quantiles,
/// `callcenter_breach` and forecast are partial: the queue's KPIs are exact only from counts
/// summed over instances (docs/scaling.md). Sets `callpulse_queues_split`; warns once per queue.
pub struct QueuesSplit<'a> {
    /// Each split queue and how many partitions hold its data.
    pub queues: &'a [(&'a str, usize)],
}

impl InternalEvent for QueuesSplit<'_> {
    fn emit(self, m: &SelfMetrics) {
        let mut warned = lock(&m.split_warned);
        for &(queue, partitions) in self.queues {
            if warned.insert(queue.to_string()) {
                tracing::warn!(
                    queue,
                    partitions,
                    "queue's events come from more than one partition: across instances its KPIs are exact only from counts summed by queue (the generated rules and dashboards do); each instance's ratios, quantiles, breach and forecast cover its part"
                );
            }
        }
        m.queues_split
            .store(self.queues.len() as i64, Ordering::Relaxed);
    }
}

/// A watched contact's events, or a customer's contacts in one queue, came through two
/// partitions of this instance: the topic is not keyed by center (docs/events.md), and the
/// legs or customer histories split between partitions are counted apart. Counted in
/// `callpulse_keying_splits_total{kind}`; logged at the 1st, 10th, 100th, … of each kind.
pub struct KeyingBroken<'a> {
    pub split: Split,
    pub partition: &'a PartitionKey,
}

impl InternalEvent for KeyingBroken<'_> {
    fn emit(self, m: &SelfMetrics) {
        let n = m.keying_splits[self.split as usize].fetch_add(1, Ordering::Relaxed) + 1;
        let mut power = 1;
        while power < n {
            power *= 10;
        }
        if power == n {
            tracing::warn!(
                kind = self.split.as_str(),
                topic = %self.partition.0,
                partition = self.partition.1,
                seen = n,
                "a {}'s events came through two partitions of this instance: key the topic by center (PBX, platform instance, tenant) so that every leg of a contact and every contact of a customer share a partition; until then those legs and customer families are counted apart (docs/scaling.md)",
                self.split.as_str()
            );
        }
    }
}

/// A partition worker processed a batch: message count and the delays it measured.
pub struct BatchProcessed<'a> {
    pub messages: usize,
    pub delays: &'a mut BatchDelays,
}

impl InternalEvent for BatchProcessed<'_> {
    fn emit(self, m: &SelfMetrics) {
        tracing::trace!(messages = self.messages, "batch processed");
        m.messages
            .fetch_add(self.messages as u64, Ordering::Relaxed);
        let d = self.delays;
        for (shared, local) in m.event_delay.iter().zip(&mut d.event_buckets) {
            if *local > 0 {
                shared.fetch_add(std::mem::take(local), Ordering::Relaxed);
            }
        }
        m.event_delay_sum_us
            .fetch_add(std::mem::take(&mut d.event_sum_us), Ordering::Relaxed);
        if !d.message.is_empty() {
            let mut shared = lock(&m.message_delay);
            for v in d.message.drain(..) {
                let _ = shared.record(v);
            }
        }
    }
}

/// Delays measured by one worker between two [`BatchProcessed`] events (no lock per message;
/// the message delays of a batch are recorded into the shared histogram under one lock, which
/// costs what the batch holds, not a walk over every bucket of a histogram per batch).
#[derive(Default)]
pub struct BatchDelays {
    event_buckets: [u64; EVENT_DELAY_BOUNDS.len() + 1],
    event_sum_us: u64,
    /// µs, at least 1.
    message: Vec<u64>,
}

impl BatchDelays {
    /// An event applied `delay_ms` after its `ts`.
    pub fn event(&mut self, delay_ms: Millis) {
        let secs = delay_ms.max(0) as f64 / 1000.0;
        let i = EVENT_DELAY_BOUNDS.partition_point(|&b| b < secs);
        self.event_buckets[i] += 1;
        self.event_sum_us += delay_ms.max(0) as u64 * 1000;
    }

    /// A message processed `delay_ms` after its Kafka timestamp.
    pub fn message(&mut self, delay_ms: Millis) {
        self.message.push((delay_ms.max(0) as u64 * 1000).max(1));
    }
}

fn delay_histogram() -> hdrhistogram::Histogram<u64> {
    // 1 µs to 1 h at 3 significant digits: the bounds are constants and valid.
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).expect("3 significant digits"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for SelfMetrics {
    fn default() -> Self {
        SelfMetrics {
            rebalances: AtomicU64::new(0),
            assigned: AtomicI64::new(0),
            consumer_errors: AtomicU64::new(0),
            dead_letter_errors: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            checkpoints_written: AtomicU64::new(0),
            checkpoint_failures: AtomicU64::new(0),
            checkpoint_bytes: AtomicU64::new(0),
            checkpoint_write_us: AtomicU64::new(0),
            checkpoint_loads: std::array::from_fn(|_| AtomicU64::new(0)),
            event_delay: std::array::from_fn(|_| AtomicU64::new(0)),
            event_delay_sum_us: AtomicU64::new(0),
            message_delay: Mutex::new(delay_histogram()),
            web: WebMetrics::default(),
            queues_split: AtomicI64::new(0),
            split_warned: Mutex::new(BTreeSet::new()),
            keying_splits: std::array::from_fn(|_| AtomicU64::new(0)),
            keying: KeyingWatch::default(),
        }
    }
}

impl SelfMetrics {
    /// Partitions assigned to this instance now.
    pub fn assigned(&self) -> i64 {
        self.assigned.load(Ordering::Relaxed)
    }

    /// Messages the partition workers handled (applied, rejected or skipped).
    pub fn messages_processed(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Kafka timestamp to processed, seconds, at quantile `q` (`None` before any message).
    pub fn message_delay_quantile(&self, q: f64) -> Option<f64> {
        let h = lock(&self.message_delay);
        (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e6)
    }

    /// Starts the message-delay distribution afresh (the benchmark's steady phase).
    pub fn reset_message_delay(&self) {
        lock(&self.message_delay).reset();
    }

    /// The instance's table of watched contact and customer ids (`service::keying`).
    pub fn keying(&self) -> &KeyingWatch {
        &self.keying
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Exposition;

    #[test]
    fn a_batch_moves_the_shared_counters_and_empties_the_local_ones() {
        let m = SelfMetrics::default();
        let mut d = BatchDelays::default();
        d.event(20);
        d.event(2_000);
        d.message(100);
        BatchProcessed {
            messages: 2,
            delays: &mut d,
        }
        .emit(&m);
        BatchProcessed {
            messages: 1,
            delays: &mut d,
        }
        .emit(&m);
        assert_eq!(m.messages_processed(), 3);
        assert_eq!(d.event_buckets.iter().sum::<u64>(), 0);
        assert!(d.message.is_empty());
        let mut out = Exposition::new();
        m.render(&mut out);
        let text = out.finish();
        assert!(
            text.contains("callpulse_event_delay_seconds_bucket{le=\"0.025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("callpulse_event_delay_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("callpulse_event_delay_seconds_sum 2.02\n"),
            "{text}"
        );
        assert!(
            text.contains("callpulse_messages_processed_total 3\n"),
            "{text}"
        );
        let p50 = m.message_delay_quantile(0.5).unwrap();
        assert!((p50 - 0.1).abs() < 0.001, "{p50}");
    }
}
