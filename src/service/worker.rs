//! The partition worker: the task that owns one assigned partition's [`Engine`] outright — no
//! lock on the hot path — applies its batches, dead-letters its rejects, publishes its
//! self-metrics on a timer and hands a scrape its KPI snapshot between two batches.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use tokio::sync::{mpsc, oneshot};

use crate::engine::Engine;
use crate::event::Reject;
use crate::input::{Admit, Ingested, Reader};
use crate::kafka::REJECT_HEADER;
use crate::time::Millis;

use super::batch::{Batch, Msg};
use super::checkpoint::writer::{Checkpointer, LAST_WRITE};
use super::checkpoint::Resume;
use super::keying;
use super::self_metrics::{
    BatchDelays, BatchProcessed, DeadLetterFailed, InternalEvent, KeyingBroken,
};
use super::state::{LiveRequest, PartView, PartitionKey, ServiceState, SnapshotRequest};

/// How often a worker moves its windows to the service's clock and publishes its self-metrics
/// (a scrape asks for its KPI snapshot).
pub const PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// Batches a worker may have queued before the poll thread waits (backpressure).
const WORKER_QUEUE: usize = 4;
/// Scrapes that may wait for a worker's snapshot at once; more are answered without it.
const SCRAPES_WAITING: usize = 4;

/// Where rejected messages are copied, when `[kafka] dead_letter_topic` is set.
pub type DeadLetter = Option<(Arc<ThreadedProducer<DefaultProducerContext>>, String)>;

/// Sent by the consumer thread when the partition is revoked or the service stops.
pub enum Control {
    /// Finish what is queued, publish, report the next offset to commit, and stop.
    Stop(oneshot::Sender<i64>),
}

/// The consumer thread's handle on a running worker.
pub struct WorkerHandle {
    pub data: mpsc::Sender<Batch>,
    pub control: mpsc::Sender<Control>,
    /// Next offset whose predecessors are all applied (−1: nothing yet).
    pub processed: Arc<AtomicI64>,
    /// Committed offset when assigned: offsets are stored only beyond it.
    pub committed: i64,
    /// The rebalance this worker was started in: messages polled before it belong to an
    /// earlier owner of the partition and are not handed over.
    pub epoch: u64,
}

/// How a newly assigned partition starts.
pub struct Start {
    pub key: PartitionKey,
    /// Committed offset when assigned: offsets are stored only beyond it.
    pub committed: i64,
    /// Resume from a checkpoint (read on from its offset, every event admitted), or rebuild:
    /// read from the horizon, events before `rebuild_from` (event time) skipped.
    pub resume: Option<Resume>,
    pub rebuild_from: Millis,
    pub checkpoints: Option<Checkpointer>,
    pub dead_letter: DeadLetter,
}

/// Starts the worker of a newly assigned partition.
pub fn spawn_worker(
    state: Arc<ServiceState>,
    runtime: &tokio::runtime::Handle,
    start: Start,
) -> WorkerHandle {
    let (data_tx, data_rx) = mpsc::channel(WORKER_QUEUE);
    let (control_tx, control_rx) = mpsc::channel(4);
    let (snapshot_tx, snapshot_rx) = mpsc::channel(SCRAPES_WAITING);
    let (live_tx, live_rx) = mpsc::channel(SCRAPES_WAITING);
    let processed = Arc::new(AtomicI64::new(-1));
    let mut view = PartView {
        snapshots: Some(snapshot_tx),
        live: Some(live_tx),
        ..PartView::default()
    };
    let (engine, reader, from) = match start.resume {
        Some(r) => {
            view.position = r.next_offset;
            view.recovery_start = r.next_offset;
            (r.engine, r.reader, Millis::MIN)
        }
        None => (
            Engine::new(state.config().center.clone()),
            Reader::with_lateness(
                &state.config().kafka.input_of(&start.key.0),
                state.config().center.engine.allowed_lateness.millis(),
            ),
            start.rebuild_from,
        ),
    };
    let committed = start.committed;
    let worker = PartitionWorker {
        engine,
        reader,
        outcomes: Vec::new(),
        idle_ticks: 0,
        view,
        state,
        key: start.key,
        admit: Admit {
            from,
            until: Millis::MAX,
        },
        processed: processed.clone(),
        dead_letter: start.dead_letter,
        delays: BatchDelays::default(),
        checkpoints: start.checkpoints,
    };
    runtime.spawn(worker.run(data_rx, control_rx, snapshot_rx, live_rx));
    WorkerHandle {
        data: data_tx,
        control: control_tx,
        processed,
        committed,
        epoch: 0,
    }
}

struct PartitionWorker {
    engine: Engine,
    /// The topic's input format, with an adapter's per-stream memory.
    reader: Reader,
    /// What became of the events of the message being read (reused).
    outcomes: Vec<Ingested>,
    /// Ticks since the last batch: an idle, caught-up partition flushes what an adapter holds.
    idle_ticks: u32,
    view: PartView,
    state: Arc<ServiceState>,
    key: PartitionKey,
    admit: Admit,
    processed: Arc<AtomicI64>,
    dead_letter: DeadLetter,
    delays: BatchDelays,
    checkpoints: Option<Checkpointer>,
}

impl PartitionWorker {
    async fn run(
        mut self,
        mut data: mpsc::Receiver<Batch>,
        mut control: mpsc::Receiver<Control>,
        mut scrapes: mpsc::Receiver<SnapshotRequest>,
        mut live: mpsc::Receiver<LiveRequest>,
    ) {
        let mut tick = tokio::time::interval(PUBLISH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                Some(Control::Stop(ack)) = control.recv() => {
                    while let Ok(batch) = data.try_recv() {
                        self.apply(&batch);
                    }
                    self.publish();
                    let last = self.checkpoints.as_mut().and_then(|c| {
                        c.last(&self.engine, &self.reader, self.view.position, &self.state)
                    });
                    if let Some(write) = last {
                        let _ = tokio::time::timeout(LAST_WRITE, write).await;
                    }
                    let _ = ack.send(self.processed.load(Ordering::Acquire));
                    return;
                }
                Some(reply) = scrapes.recv() => {
                    // taken now, not on every publish: between scrapes no copy of the queues waits
                    self.engine.advance(self.state.now());
                    let _ = reply.send(Arc::new(self.engine.export_snapshot()));
                }
                Some(reply) = live.recv() => {
                    // built when asked: the hot path keeps only what the view needs
                    self.engine.advance(self.state.now());
                    let _ = reply.send(Arc::new(self.engine.live_view()));
                }
                Some(batch) = data.recv() => {
                    self.idle_ticks = 0;
                    self.apply(&batch);
                }
                _ = tick.tick() => {
                    self.idle_ticks = self.idle_ticks.saturating_add(1);
                    if self.idle_ticks >= 2 {
                        self.flush_held();
                    }
                    self.publish();
                    if let Some(c) = &mut self.checkpoints {
                        c.tick(&self.engine, &self.reader, self.view.position, &self.state);
                    }
                }
                else => return,
            }
        }
    }

    fn apply(&mut self, batch: &Batch) {
        let now = self.state.now();
        // events further ahead of the wall clock than max_clock_skew move nothing
        self.engine.observe_wall_clock(now);
        let tag = keying::tag(&self.key);
        if let (-1, Some(first)) = (self.view.recovery_start, batch.first_offset()) {
            self.view.recovery_start = first;
        }
        for m in batch.iter() {
            if m.offset < self.view.position {
                // read before (a broker sending a range again): applying it again would count
                // its events twice where they carry no id
                self.view.redelivered += 1;
                continue;
            }
            let kafka_ts = m.timestamp;
            if let Some(ts) = kafka_ts {
                self.delays.message(now - ts);
            }
            let mut outcomes = std::mem::take(&mut self.outcomes);
            let payload = m.payload.unwrap_or_default();
            self.reader
                .read(&mut self.engine, payload, self.admit, |o| outcomes.push(o));
            // a record is copied to the dead-letter topic once, whatever number of its events
            // were rejected
            for o in &outcomes {
                if let Ingested::Applied { keys, .. } = o {
                    let metrics = self.state.metrics();
                    for split in metrics.keying().seen(tag, *keys) {
                        KeyingBroken {
                            split,
                            partition: &self.key,
                        }
                        .emit(metrics);
                    }
                }
            }
            let rejected = outcomes
                .drain(..)
                .filter_map(|o| count(&mut self.delays, &mut self.view, now, o))
                .fold(None, |first, r| first.or(Some(r)));
            if let Some(reject) = rejected {
                self.dead_letter(m, reject);
            }
            self.outcomes = outcomes;
            self.view.position = m.offset + 1;
            self.view.last_message_ms = kafka_ts.or(self.view.last_message_ms);
        }
        self.processed.store(self.view.position, Ordering::Release);
        BatchProcessed {
            messages: batch.len(),
            delays: &mut self.delays,
        }
        .emit(self.state.metrics());
    }

    fn dead_letter(&mut self, m: Msg<'_>, reject: Reject) {
        let Some((producer, topic)) = &self.dead_letter else {
            return;
        };
        let reason = reject.reason.as_str();
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).headers(OwnedHeaders::new().insert(Header {
                key: REJECT_HEADER,
                value: Some(reason),
            }));
        if let Some(p) = m.payload {
            record = record.payload(p);
        }
        if let Some(k) = m.key {
            record = record.key(k);
        }
        match producer.send(record) {
            Ok(()) => self.view.dead_lettered += 1,
            Err((error, _)) => DeadLetterFailed {
                error: &error,
                reason,
            }
            .emit(self.state.metrics()),
        }
    }

    /// An idle partition (no message for a full publish interval: caught up, or its producer is
    /// quiet) ingests what its adapter held back for a follow-up that did not come — up to now,
    /// on every tick while idle: an adapter's events stamped later (an Asterisk wrap-up end)
    /// wait for their time, so they never move the watermark into the future.
    fn flush_held(&mut self) {
        let now = self.state.now();
        self.engine.observe_wall_clock(now);
        let (delays, view) = (&mut self.delays, &mut self.view);
        self.reader.flush(&mut self.engine, now, self.admit, |o| {
            // its events have no message of their own to copy to the dead-letter topic
            let _ = count(delays, view, now, o);
        });
    }

    fn publish(&mut self) {
        self.engine.advance(self.state.now());
        self.view.stats = self.engine.stats().clone();
        self.view.open_contacts = self.engine.open_contacts();
        self.view.facts_held = self.engine.facts_held();
        self.view.held = self.engine.held();
        self.view.last_event_ms = self.engine.watermark();
        self.view.input_records = (self.reader.format(), self.reader.kinds().clone());
        self.state.publish(self.key.clone(), self.view.clone());
    }
}

/// Counts what became of one event at `now` (the service's clock); hands back its reject, if any.
fn count(
    delays: &mut BatchDelays,
    view: &mut PartView,
    now: Millis,
    o: Ingested,
) -> Option<Reject> {
    match o {
        Ingested::Applied { ts, .. } => delays.event(now - ts),
        Ingested::BeforeHorizon => view.skipped_before_rebuild += 1,
        Ingested::AfterEnd => {}
        Ingested::Rejected(reject) => return Some(reject),
    }
    None
}
