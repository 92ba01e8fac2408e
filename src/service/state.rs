//! What the parts of one running instance share: the latest view of every partition worker,
//! the high watermarks and group membership behind readiness, and the self-metrics; and the
//! /metrics page put together from them (the KPIs by `export`, the self-metrics by
//! `self_metrics`).
//!
//! Partition workers publish a [`PartView`] (counters, lag, held structures) on every tick; the
//! hot path touches no lock. A scrape asks every worker for its KPI snapshot
//! ([`ServiceState::gather`]) and merges them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::Engine;
use crate::export::{render, Exposition, Selection};
use crate::snapshot::Snapshot;
use crate::time::Millis;

use super::scrape::{Gathered, Incomplete, SharedGather};
use super::self_metrics::{InternalEvent, Partitions, ScrapeServed, SelfMetrics};

pub use super::view::{LiveRequest, PartView, SnapshotRequest};
pub use crate::kafka::PartitionKey;

/// Messages behind the high watermark a partition may be and still count as caught up.
pub const READY_LAG: i64 = 1000;

/// How long a scrape waits for the partition workers' snapshots; when a worker does not answer
/// in time the scrape is refused (HTTP 503), never rendered without that partition.
pub const SCRAPE_WAIT: Duration = Duration::from_secs(5);

/// Shared between the consumer thread, the partition workers and the HTTP server.
pub struct ServiceState {
    config: Arc<Config>,
    parts: Mutex<BTreeMap<PartitionKey, PartView>>,
    /// High watermark per partition, from librdkafka statistics.
    high: Mutex<BTreeMap<PartitionKey, i64>>,
    joined: AtomicBool,
    broker_up: AtomicBool,
    metrics: SelfMetrics,
    /// The time of day of the workers and the /metrics page (the wall clock but in the soak tool).
    clock: Clock,
    /// Scrapes that arrive together share one gather of the workers' snapshots.
    scrapes: SharedGather,
    /// Turns to render a `/metrics` response (`[http] max_concurrent_scrapes`).
    render_turns: Arc<tokio::sync::Semaphore>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ServiceState {
    pub fn new(config: Arc<Config>) -> Arc<ServiceState> {
        ServiceState::with_clock(config, Clock::Wall)
    }

    /// A service whose workers and /metrics page read the time of day from `clock`.
    pub fn with_clock(config: Arc<Config>, clock: Clock) -> Arc<ServiceState> {
        Arc::new(ServiceState {
            parts: Mutex::new(BTreeMap::new()),
            high: Mutex::new(BTreeMap::new()),
            joined: AtomicBool::new(false),
            broker_up: AtomicBool::new(false),
            metrics: SelfMetrics::default(),
            clock,
            scrapes: SharedGather::default(),
            render_turns: Arc::new(tokio::sync::Semaphore::new(
                config.http.max_concurrent_scrapes.max(1),
            )),
            config,
        })
    }

    /// The time of day on the service's clock (epoch ms).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Turns to render a `/metrics` response: at most `[http] max_concurrent_scrapes` at once.
    pub fn render_turns(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.render_turns
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn metrics(&self) -> &SelfMetrics {
        &self.metrics
    }

    /// Whether this instance is a member of its consumer group (false again once it leaves).
    pub fn set_joined(&self, joined: bool) {
        self.joined.store(joined, Ordering::Relaxed);
    }

    pub fn set_broker_up(&self, up: bool) {
        self.broker_up.store(up, Ordering::Relaxed);
    }

    pub fn publish(&self, key: PartitionKey, view: PartView) {
        lock(&self.parts).insert(key, view);
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

    /// Ready: group joined, a broker reachable, every assigned partition caught up to within
    /// [`READY_LAG`] messages.
    pub fn ready(&self) -> bool {
        if !self.joined.load(Ordering::Relaxed) || !self.broker_up.load(Ordering::Relaxed) {
            return false;
        }
        let parts = lock(&self.parts)
            .iter()
            .map(|(k, v)| (k.clone(), v.position))
            .collect::<Vec<_>>();
        parts.len() as i64 >= self.metrics.assigned()
            && parts
                .iter()
                .all(|(k, pos)| self.lag(k, *pos).is_some_and(|l| l <= READY_LAG))
    }

    /// The full /metrics page at wall-clock instant `now`, from the views as published.
    pub fn render_metrics(&self, now: Millis) -> String {
        self.render_selected(now, &Selection::default())
    }

    /// `/metrics` with a scrape-time selection (`?queue=`, `?window=`, `?family=`, `?shard=`),
    /// from the views as published.
    pub fn render_selected(&self, now: Millis, selection: &Selection) -> String {
        let mut out = Exposition::new();
        self.render_into(&self.merged(now, self.views()), selection, &mut out);
        out.finish()
    }

    /// The partition views as published.
    pub fn views(&self) -> Vec<(PartitionKey, PartView)> {
        lock(&self.parts)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Every partition's snapshot at this moment (each worker answers between two batches),
    /// merged with the configured queues; a scrape that arrives while a gather runs shares it.
    /// A partition whose worker does not answer within [`SCRAPE_WAIT`] makes the gather
    /// [`Incomplete`]: a scrape is refused rather than shown without it.
    pub async fn gather(&self) -> Result<Arc<Gathered>, Incomplete> {
        let (result, outcome) = self.scrapes.get(|| self.gather_now()).await;
        ScrapeServed {
            outcome,
            error: result.as_ref().err(),
        }
        .emit(&self.metrics);
        result
    }

    async fn gather_now(&self) -> Result<Gathered, Incomplete> {
        let now = self.now();
        let mut views = self.views();
        let mut replies = Vec::with_capacity(views.len());
        let mut missing = Vec::new();
        for (i, (key, v)) in views.iter().enumerate() {
            let Some(tx) = &v.snapshots else { continue };
            let (reply, answer) = oneshot::channel();
            match tx.try_send(reply) {
                Ok(()) => replies.push((i, answer)),
                Err(_) => missing.push(key.clone()),
            }
        }
        let deadline = tokio::time::Instant::now() + SCRAPE_WAIT;
        for (i, answer) in replies {
            match tokio::time::timeout_at(deadline, answer).await {
                Ok(Ok(snapshot)) => views[i].1.snapshot = snapshot,
                _ => missing.push(views[i].0.clone()),
            }
        }
        if !missing.is_empty() {
            missing.sort();
            return Err(Incomplete {
                missing,
                ..Incomplete::default()
            });
        }
        Ok(self.merged(now, views))
    }

    /// The views with the configured queues, merged at `now`.
    fn merged(&self, now: Millis, views: Vec<(PartitionKey, PartView)>) -> Gathered {
        // Configured queues are exported even while no partition is assigned.
        let mut base = Engine::new(self.config.center.clone());
        base.advance(now);
        let base = base.export_snapshot();
        let merged =
            Snapshot::merge(std::iter::once(&base).chain(views.iter().map(|(_, v)| &*v.snapshot)));
        Gathered { now, views, merged }
    }

    /// `/metrics` with a scrape-time selection, from a gathered picture, written into `out`
    /// (which may stream it).
    pub fn render_into(&self, gathered: &Gathered, selection: &Selection, out: &mut Exposition) {
        let selected;
        let snapshot = if selection.selects_queues_or_windows() {
            let mut s = gathered.merged.clone();
            selection.apply(&mut s);
            selected = s;
            &selected
        } else {
            &gathered.merged
        };
        if !selection.families.is_empty() {
            out.keep_only(selection.families.clone());
        }
        render(snapshot, &self.config.center.export, out);
        if selection.self_metrics() {
            let lags: Vec<Option<i64>> = (gathered.views.iter())
                .map(|(k, v)| self.lag(k, v.position))
                .collect();
            let partitions = Partitions {
                views: &gathered.views,
                lags: &lags,
                now: gathered.now,
                ready: self.ready(),
                configured_queues: self.config.center.queues.len(),
            };
            self.metrics.render_partitions(&partitions, out);
            self.metrics.render(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::engine::Held;
    use crate::kpi::FactKind;

    /// Log lines written while the test's subscriber is the default.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A partition's view whose snapshot (every configured queue, as an engine exports them)
    /// holds one offered contact in each of `offered`.
    fn view(config: &Arc<Config>, offered: &[&str]) -> PartView {
        let mut snapshot = Engine::new(config.center.clone()).export_snapshot();
        for q in snapshot.queues.iter_mut().map(Arc::make_mut) {
            if offered.contains(&q.name.as_str()) {
                q.windows[0].apply(&FactKind::Offered, 1);
            }
        }
        PartView {
            snapshot: Arc::new(snapshot),
            ..PartView::default()
        }
    }

    fn gauge(text: &str) -> &str {
        text.lines()
            .find_map(|l| l.strip_prefix("callpulse_queues_split "))
            .unwrap_or_else(|| panic!("no callpulse_queues_split in\n{text}"))
    }

    #[test]
    fn every_bounded_structure_is_exported_summed_over_partitions() {
        let config = Arc::new(Config::parse("[queues.sales]\n").unwrap());
        let state = ServiceState::new(config.clone());
        let held = |n: usize| PartView {
            held: Held {
                open_contacts: n,
                expiry_entries: 2 * n,
                facts: 3 * n,
                agents: 4 * n,
                customers: 5 * n,
                dedup_ids: 6 * n,
                finished_contacts: 7 * n,
            },
            ..view(&config, &[])
        };
        state.publish(("events".into(), 0), held(1));
        state.publish(("events".into(), 1), held(10));
        let text = state.render_metrics(0);
        for (name, value) in [
            ("callpulse_agents_held", 44),
            ("callpulse_dedup_ids_held", 66),
            ("callpulse_finished_contacts_held", 77),
            ("callpulse_expiry_entries_held", 22),
        ] {
            assert!(
                text.lines().any(|l| l == format!("{name} {value}")),
                "{name} {value} in\n{text}"
            );
        }
    }

    #[test]
    fn queues_split_counts_a_queue_seen_in_two_partitions_and_warns_once() {
        let config =
            Arc::new(Config::parse("[queues.sales]\n[queues.support]\n[queues.idle]\n").unwrap());
        let state = ServiceState::new(config.clone());
        let part = |p: i32| ("events".to_string(), p);
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let warnings = || {
            let text = String::from_utf8(lock(&logs.0).clone()).unwrap();
            text.lines()
                .filter(|l| l.contains("more than one partition"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        tracing::subscriber::with_default(subscriber, || {
            // sales has contacts in both partitions; support in one; idle (configured) in
            // neither, though both partitions export it
            state.publish(part(0), view(&config, &["sales", "support"]));
            state.publish(part(1), view(&config, &["sales"]));
            assert_eq!(gauge(&state.render_metrics(0)), "1");
            assert_eq!(gauge(&state.render_metrics(0)), "1");
            let w = warnings();
            assert_eq!(
                w.len(),
                1,
                "one warning for sales, not one per scrape: {w:?}"
            );
            assert!(
                w[0].contains("sales") && w[0].contains("partitions=2"),
                "{w:?}"
            );

            // support now in both too: only support is newly warned about
            state.publish(part(1), view(&config, &["sales", "support"]));
            assert_eq!(gauge(&state.render_metrics(0)), "2");
            let w = warnings();
            assert_eq!(w.len(), 2, "{w:?}");
            assert!(w[1].contains("support") && !w[1].contains("sales"), "{w:?}");

            // a partition revoked: nothing is split any more
            state.forget(&part(1));
            assert_eq!(gauge(&state.render_metrics(0)), "0");
            assert_eq!(warnings().len(), 2);
        });
    }
}
