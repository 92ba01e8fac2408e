//! Kafka ingest: one consumer-group member, one worker task per assigned partition.
//!
//! A dedicated thread polls the `rdkafka` consumer, groups messages per partition and hands
//! them to the partition's worker over a bounded channel (backpressure, never an unbounded
//! buffer). Each worker owns its partition's [`Engine`] outright — no lock on the hot path —
//! and publishes a snapshot on a timer. Offsets are stored only after the worker applied the
//! events and committed synchronously on revoke and shutdown (at-least-once; redeliveries are
//! absorbed by the engine's de-duplication). On assignment a partition is re-read from the
//! rebuild horizon, so numbers after a failover equal numbers without one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::engine::Engine;
use crate::event::{decode, Reject};
use crate::metrics::{wall_now, PartView, PartitionKey, Shared};
use crate::time::{Millis, HOUR};

/// Header carrying the reject reason on dead-lettered messages.
pub const REJECT_HEADER: &str = "callpulse-reject-reason";
/// Messages taken from the client per poll round before they are handed to workers.
const POLL_BATCH: usize = 1024;
/// Batches a worker may have queued before the poll thread waits (backpressure).
const WORKER_QUEUE: usize = 4;
/// How often a worker moves its windows to the wall clock and publishes a snapshot.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("kafka client: {0}")]
    Kafka(#[from] KafkaError),
}

/// How far back a newly assigned partition is re-read: the longest window (at least a day,
/// for `today` across DST) plus the lateness and an hour for contacts that span the edge.
pub fn rebuild_span(config: &Config) -> Millis {
    if let Some(span) = config.kafka.rebuild {
        return span.millis();
    }
    let longest = config
        .engine
        .windows
        .iter()
        .map(|w| w.span.millis())
        .max()
        .unwrap_or(0);
    longest.max(25 * HOUR) + config.engine.allowed_lateness.millis() + HOUR
}

enum Control {
    /// Finish what is queued, publish, report the next offset to commit, and stop.
    Stop(oneshot::Sender<i64>),
}

struct Worker {
    data: mpsc::Sender<Vec<OwnedMessage>>,
    control: mpsc::Sender<Control>,
    /// Next offset whose predecessors are all applied (−1: nothing yet).
    processed: Arc<AtomicI64>,
    /// Committed offset when assigned: offsets are stored only beyond it.
    committed: i64,
}

/// The consumer's context: rebalances start and stop partition workers.
struct IngestContext {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    workers: Mutex<HashMap<PartitionKey, Worker>>,
    dead_letter: Option<(Arc<ThreadedProducer<DefaultProducerContext>>, String)>,
}

impl ClientContext for IngestContext {
    fn stats(&self, stats: Statistics) {
        let up = stats.brokers.values().any(|b| b.state == "UP");
        self.shared.broker_up.store(up, Ordering::Relaxed);
        for (topic, t) in &stats.topics {
            for (p, part) in &t.partitions {
                if *p >= 0 && part.hi_offset >= 0 {
                    self.shared
                        .set_high_watermark((topic.clone(), *p), part.hi_offset);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.shared.consumer_errors.inc();
        tracing::warn!(%error, reason, "kafka client error");
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        self.shared.rebalances.inc();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assigned = self.start_workers(consumer, tpl);
                if let Err(error) = consumer.assign(&assigned) {
                    tracing::error!(%error, "assign failed");
                }
                self.shared.assigned.set(assigned.count() as i64);
                self.shared.joined.store(true, Ordering::Relaxed);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.stop_workers(consumer, Some(tpl));
                if let Err(error) = consumer.unassign() {
                    tracing::error!(%error, "unassign failed");
                }
                self.shared.assigned.set(0);
            }
            other => {
                tracing::error!(error = ?other, "rebalance error");
                self.stop_workers(consumer, None);
                let _ = consumer.unassign();
                self.shared.assigned.set(0);
            }
        }
    }
}

impl IngestContext {
    /// Starts a worker per partition and returns the assignment with each partition's start
    /// offset: the first message at the rebuild horizon (or the beginning when the broker
    /// cannot look offsets up by time).
    fn start_workers(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &TopicPartitionList,
    ) -> TopicPartitionList {
        let config = &self.shared.config;
        let rebuild_from = wall_now() - rebuild_span(config);
        let mut by_time = TopicPartitionList::new();
        for e in tpl.elements() {
            let _ = by_time.add_partition_offset(
                e.topic(),
                e.partition(),
                Offset::Offset(rebuild_from),
            );
        }
        let found = consumer
            .offsets_for_times(by_time, Duration::from_secs(10))
            .ok();
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .ok();
        let mut assignment = TopicPartitionList::new();
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for e in tpl.elements() {
            let key: PartitionKey = (e.topic().to_string(), e.partition());
            let start = found
                .as_ref()
                .and_then(|f| f.find_partition(e.topic(), e.partition()))
                .map(|p| p.offset())
                .and_then(|o| match o {
                    Offset::Offset(o) if o >= 0 => Some(Offset::Offset(o)),
                    _ => None,
                })
                .unwrap_or(Offset::Beginning);
            let committed_at = committed
                .as_ref()
                .and_then(|c| c.find_partition(e.topic(), e.partition()))
                .and_then(|p| match p.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .unwrap_or(-1);
            let _ = assignment.add_partition_offset(e.topic(), e.partition(), start);
            tracing::info!(
                topic = e.topic(),
                partition = e.partition(),
                ?start,
                committed = committed_at,
                "partition assigned; rebuilding windows"
            );
            let worker = spawn_worker(
                self.shared.clone(),
                &self.runtime,
                key.clone(),
                rebuild_from,
                committed_at,
                self.dead_letter.clone(),
            );
            workers.insert(key, worker);
        }
        assignment
    }

    /// Stops the workers of revoked partitions (all when `tpl` is `None`): they finish their
    /// queued batches, their offsets are stored and committed synchronously.
    fn stop_workers(&self, consumer: &BaseConsumer<Self>, tpl: Option<&TopicPartitionList>) {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<PartitionKey> = match tpl {
            Some(tpl) => tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect(),
            None => workers.keys().cloned().collect(),
        };
        for key in keys {
            let Some(worker) = workers.remove(&key) else {
                continue;
            };
            let (ack, done) = oneshot::channel();
            let next = match worker.control.blocking_send(Control::Stop(ack)) {
                Ok(()) => done.blocking_recv().unwrap_or(-1),
                Err(_) => worker.processed.load(Ordering::Acquire),
            };
            store(consumer, &key, next, worker.committed);
            self.shared.forget(&key);
            tracing::info!(topic = %key.0, partition = key.1, next, "partition revoked");
        }
        if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is not an error worth more than a note.
            tracing::debug!(%error, "commit on revoke");
        }
    }

    /// Hands one poll round's messages to their workers (waiting when a worker is behind).
    fn dispatch(&self, batch: Vec<OwnedMessage>) {
        let mut per_partition: HashMap<PartitionKey, Vec<OwnedMessage>> = HashMap::new();
        for m in batch {
            per_partition
                .entry((m.topic().to_string(), m.partition()))
                .or_default()
                .push(m);
        }
        let senders: Vec<_> = {
            let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            per_partition
                .into_iter()
                .filter_map(|(k, msgs)| workers.get(&k).map(|w| (w.data.clone(), msgs)))
                .collect()
        };
        for (tx, msgs) in senders {
            let _ = tx.blocking_send(msgs);
        }
    }

    /// Stores every worker's progress for the next (auto-)commit.
    fn store_progress(&self, consumer: &BaseConsumer<Self>) {
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for (key, w) in workers.iter() {
            store(
                consumer,
                key,
                w.processed.load(Ordering::Acquire),
                w.committed,
            );
        }
    }
}

/// Stores `next` (the next offset to read) when it is beyond what was committed.
fn store<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    key: &PartitionKey,
    next: i64,
    committed: i64,
) {
    if next > 0 && next > committed {
        // rdkafka stores offset + 1: pass the last processed offset.
        if let Err(error) = consumer.store_offset(&key.0, key.1, next - 1) {
            tracing::debug!(%error, topic = %key.0, partition = key.1, "store offset");
        }
    }
}

fn spawn_worker(
    shared: Arc<Shared>,
    runtime: &tokio::runtime::Handle,
    key: PartitionKey,
    rebuild_from: Millis,
    committed: i64,
    dead_letter: Option<(Arc<ThreadedProducer<DefaultProducerContext>>, String)>,
) -> Worker {
    let (data_tx, data_rx) = mpsc::channel(WORKER_QUEUE);
    let (control_tx, control_rx) = mpsc::channel(4);
    let processed = Arc::new(AtomicI64::new(-1));
    let partition = PartitionWorker {
        engine: Engine::new(shared.config.clone()),
        view: PartView::default(),
        shared,
        key,
        rebuild_from,
        processed: processed.clone(),
        dead_letter,
        message_delay: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .expect("valid bounds"),
    };
    runtime.spawn(partition.run(data_rx, control_rx));
    Worker {
        data: data_tx,
        control: control_tx,
        processed,
        committed,
    }
}

/// The task that owns one partition's engine.
struct PartitionWorker {
    engine: Engine,
    view: PartView,
    shared: Arc<Shared>,
    key: PartitionKey,
    rebuild_from: Millis,
    processed: Arc<AtomicI64>,
    dead_letter: Option<(Arc<ThreadedProducer<DefaultProducerContext>>, String)>,
    /// Message delays (µs) since the last publish; merged into the shared histogram.
    message_delay: hdrhistogram::Histogram<u64>,
}

impl PartitionWorker {
    async fn run(
        mut self,
        mut data: mpsc::Receiver<Vec<OwnedMessage>>,
        mut control: mpsc::Receiver<Control>,
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
                    let _ = ack.send(self.processed.load(Ordering::Acquire));
                    return;
                }
                Some(batch) = data.recv() => self.apply(&batch),
                _ = tick.tick() => self.publish(),
                else => return,
            }
        }
    }

    fn apply(&mut self, batch: &[OwnedMessage]) {
        let now = wall_now();
        let delays = self.shared.event_delay.local();
        for m in batch {
            if let Some(ts) = m.timestamp().to_millis() {
                let _ = self
                    .message_delay
                    .record(((now - ts).max(0) as u64 * 1000).max(1));
            }
            let payload = m.payload().unwrap_or_default();
            let outcome = match decode(payload, self.engine.limits()) {
                Err(reject) => {
                    self.engine.count_reject(reject.reason);
                    Err(reject)
                }
                Ok(event) if event.ts < self.rebuild_from => {
                    self.view.skipped_before_rebuild += 1;
                    Ok(())
                }
                Ok(event) => {
                    let r = self.engine.apply(&event);
                    if r.is_ok() {
                        delays.observe((now - event.ts).max(0) as f64 / 1000.0);
                    }
                    r
                }
            };
            if let Err(reject) = outcome {
                self.dead_letter(m, reject);
            }
            self.view.position = m.offset() + 1;
            self.view.last_message_ms = m.timestamp().to_millis().or(self.view.last_message_ms);
        }
        delays.flush();
        self.processed.store(self.view.position, Ordering::Release);
        self.shared
            .processed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    fn dead_letter(&mut self, m: &OwnedMessage, reject: Reject) {
        let Some((producer, topic)) = &self.dead_letter else {
            return;
        };
        let reason = reject.reason.as_str();
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).headers(OwnedHeaders::new().insert(Header {
                key: REJECT_HEADER,
                value: Some(reason),
            }));
        if let Some(p) = m.payload() {
            record = record.payload(p);
        }
        if let Some(k) = m.key() {
            record = record.key(k);
        }
        match producer.send(record) {
            Ok(()) => self.view.dead_lettered += 1,
            Err((error, _)) => tracing::warn!(%error, reason, "dead-letter send failed"),
        }
    }

    fn publish(&mut self) {
        if !self.message_delay.is_empty() {
            self.shared.record_delays(&self.message_delay);
            self.message_delay.reset();
        }
        self.engine.advance(wall_now());
        self.view.snapshot = self.engine.snapshot();
        self.view.stats = self.engine.stats().clone();
        self.view.open_contacts = self.engine.open_contacts();
        self.view.facts_held = self.engine.facts_held();
        self.view.last_event_ms = self.engine.watermark();
        self.shared.publish(self.key.clone(), self.view.clone());
    }
}

/// The librdkafka configuration of the consumer: the `[kafka]` table plus what at-least-once needs.
pub fn consumer_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.brokers)
        .set("group.id", &config.kafka.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "1000")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in &config.kafka.properties {
        c.set(k, v);
    }
    c
}

/// Runs the consumer until `stop` is set: call from a dedicated thread. On the way out every
/// worker finishes, offsets are committed synchronously and the group is left.
pub fn consume(shared: Arc<Shared>, runtime: tokio::runtime::Handle) -> Result<(), IngestError> {
    let config = shared.config.clone();
    let dead_letter = match &config.kafka.dead_letter_topic {
        Some(topic) => {
            let mut pc = ClientConfig::new();
            pc.set("bootstrap.servers", &config.kafka.brokers);
            for (k, v) in &config.kafka.properties {
                pc.set(k, v);
            }
            Some((
                Arc::new(pc.create::<ThreadedProducer<DefaultProducerContext>>()?),
                topic.clone(),
            ))
        }
        None => None,
    };
    let context = IngestContext {
        shared: shared.clone(),
        runtime,
        workers: Mutex::new(HashMap::new()),
        dead_letter,
    };
    let consumer: BaseConsumer<IngestContext> =
        consumer_config(&config).create_with_context(context)?;
    let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    tracing::info!(brokers = %config.kafka.brokers, ?topics, group = %config.kafka.group_id, "consuming");
    let mut batch = Vec::with_capacity(POLL_BATCH);
    let mut last_store = std::time::Instant::now();
    while !shared.stopping.load(Ordering::Relaxed) {
        if let Some(first) = consumer.poll(Duration::from_millis(100)) {
            take(first, &mut batch, &shared);
            while batch.len() < POLL_BATCH {
                match consumer.poll(Duration::ZERO) {
                    Some(m) => take(m, &mut batch, &shared),
                    None => break,
                }
            }
            consumer.context().dispatch(std::mem::take(&mut batch));
        }
        if last_store.elapsed() >= Duration::from_millis(200) {
            consumer.context().store_progress(&consumer);
            last_store = std::time::Instant::now();
        }
    }
    consumer.context().stop_workers(&consumer, None);
    consumer.unsubscribe();
    tracing::info!("consumer stopped; offsets committed");
    Ok(())
}

fn take(
    m: KafkaResult<rdkafka::message::BorrowedMessage<'_>>,
    batch: &mut Vec<OwnedMessage>,
    shared: &Shared,
) {
    match m {
        Ok(m) => batch.push(m.detach()),
        Err(error) => {
            shared.consumer_errors.inc();
            tracing::warn!(%error, "consume error");
        }
    }
}
