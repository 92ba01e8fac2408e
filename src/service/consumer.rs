//! The Kafka consumer: one consumer-group member, one worker task per assigned partition.
//!
//! A dedicated thread polls the `rdkafka` consumer, groups messages per partition and hands
//! them to the partition's worker ([`super::worker`]) over a bounded channel (backpressure,
//! never an unbounded buffer). Offsets are stored only after the worker applied the
//! events and committed synchronously on revoke and shutdown (at-least-once; redeliveries are
//! absorbed by the engine's de-duplication). On assignment a partition is re-read from the
//! rebuild horizon, so numbers after a failover equal numbers without one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::producer::{DefaultProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kafka::{consumer_config, dead_letter_config};
use crate::time::{Millis, HOUR};

use super::batch::Batch;
use super::checkpoint::store::CheckpointStore;
use super::checkpoint::writer::Checkpointer;
use super::checkpoint::{fingerprint, lookup};
use super::self_metrics::{ConsumerError, InternalEvent, PartitionsAssigned, Rebalanced};
use super::state::{PartView, PartitionKey, ServiceState};
use super::worker::{spawn_worker, Control, DeadLetter, Start, WorkerHandle};

/// Messages taken from the client per poll round before they are handed to workers.
const POLL_BATCH: usize = 4096;

/// One poll round's messages, by partition.
type Pending = Vec<(PartitionKey, u64, Batch)>;

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
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
        .center
        .engine
        .windows
        .iter()
        .map(|w| w.span.millis())
        .max()
        .unwrap_or(0);
    longest.max(25 * HOUR) + config.center.engine.allowed_lateness.millis() + HOUR
}

/// The consumer's context: rebalances start and stop partition workers.
struct ConsumerGroupContext {
    state: Arc<ServiceState>,
    runtime: tokio::runtime::Handle,
    workers: Mutex<HashMap<PartitionKey, WorkerHandle>>,
    dead_letter: DeadLetter,
    checkpoints: Option<Arc<CheckpointStore>>,
    /// Rebalances so far: a message is tagged with the epoch it was polled in.
    epoch: AtomicU64,
}

impl ClientContext for ConsumerGroupContext {
    fn stats(&self, stats: Statistics) {
        let up = stats.brokers.values().any(|b| b.state == "UP");
        self.state.set_broker_up(up);
        for (topic, t) in &stats.topics {
            for (p, part) in &t.partitions {
                if *p >= 0 && part.hi_offset >= 0 {
                    self.state
                        .set_high_watermark((topic.clone(), *p), part.hi_offset);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        ConsumerError {
            error: &error,
            context: reason,
        }
        .emit(self.state.metrics());
    }
}

impl ConsumerContext for ConsumerGroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let metrics = self.state.metrics();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                Rebalanced { what: "assign" }.emit(metrics);
                let assigned = self.start_workers(consumer, tpl);
                let result = match consumer.rebalance_protocol() {
                    RebalanceProtocol::Cooperative => consumer.incremental_assign(&assigned),
                    _ => consumer.assign(&assigned),
                };
                if let Err(error) = result {
                    let context = "assign";
                    ConsumerError {
                        error: &error,
                        context,
                    }
                    .emit(metrics);
                }
                let count = self.workers.lock().map_or(0, |w| w.len());
                PartitionsAssigned { count }.emit(metrics);
                self.state.set_joined(true);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                Rebalanced { what: "revoke" }.emit(metrics);
                self.stop_workers(consumer, Some(tpl));
                let result = match consumer.rebalance_protocol() {
                    RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
                    _ => consumer.unassign(),
                };
                if let Err(error) = result {
                    let context = "unassign";
                    ConsumerError {
                        error: &error,
                        context,
                    }
                    .emit(metrics);
                }
                let count = self.workers.lock().map_or(0, |w| w.len());
                PartitionsAssigned { count }.emit(metrics);
            }
            other => {
                Rebalanced { what: "error" }.emit(metrics);
                let error = format!("{other:?}");
                ConsumerError {
                    error: &error,
                    context: "rebalance",
                }
                .emit(metrics);
                self.stop_workers(consumer, None);
                let _ = consumer.unassign();
                PartitionsAssigned { count: 0 }.emit(metrics);
            }
        }
    }
}

impl ConsumerGroupContext {
    /// Starts a worker per partition and returns the assignment with each partition's start
    /// offset: its checkpoint's, or the first message at the rebuild horizon (the beginning
    /// when the broker cannot look offsets up by time).
    fn start_workers(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &TopicPartitionList,
    ) -> TopicPartitionList {
        let config = self.state.config();
        let keys: Vec<PartitionKey> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        for key in &keys {
            // not ready, recovery 0, while its checkpoint loads
            self.state.publish(key.clone(), PartView::default());
        }
        let mut resumes = match &self.checkpoints {
            Some(store) => lookup(store, config, &keys, self.state.metrics(), self.state.now()),
            None => HashMap::new(),
        };
        let rebuild_from = self.state.now() - rebuild_span(config);
        let horizon = offsets_at(consumer, &keys, rebuild_from);
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .ok();
        let mut assignment = TopicPartitionList::new();
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            let (topic, partition) = (key.0.as_str(), key.1);
            let resume = resumes.remove(&key);
            let start = match &resume {
                Some((r, _)) => Offset::Offset(r.next_offset),
                None => horizon.get(&key).copied().unwrap_or(Offset::Beginning),
            };
            let committed_at = committed
                .as_ref()
                .and_then(|c| c.find_partition(topic, partition))
                .and_then(|p| match p.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .unwrap_or(-1);
            let _ = assignment.add_partition_offset(topic, partition, start);
            tracing::info!(
                topic,
                partition,
                ?start,
                committed = committed_at,
                checkpoint = resume.is_some(),
                "partition assigned; rebuilding windows"
            );
            let checkpoints = self.checkpoints.as_ref().map(|store| {
                Checkpointer::new(
                    store.clone(),
                    key.clone(),
                    fingerprint(config, &config.kafka.input_of(topic)),
                    Duration::from_millis(config.kafka.checkpoint_interval.millis().max(1) as u64),
                    resume.as_ref().map(|(r, g)| (r.next_offset, *g)),
                )
            });
            let mut worker = spawn_worker(
                self.state.clone(),
                &self.runtime,
                Start {
                    key: key.clone(),
                    committed: committed_at,
                    resume: resume.map(|(r, _)| r),
                    rebuild_from,
                    checkpoints,
                    dead_letter: self.dead_letter.clone(),
                },
            );
            worker.epoch = self.epoch.load(Ordering::Acquire);
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
            self.state.forget(&key);
            tracing::info!(topic = %key.0, partition = key.1, next, "partition revoked");
        }
        if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is not an error worth more than a note.
            tracing::debug!(%error, "commit on revoke");
        }
    }

    /// Hands one poll round's messages to their workers (waiting when a worker is behind). A
    /// message polled before its partition's worker was started (a rebalance ran during the
    /// round and gave the partition a new worker, resuming at its own offset) is dropped: the
    /// new worker reads it again from its start.
    fn dispatch(&self, pending: &mut Pending) {
        let senders: Vec<_> = {
            let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            pending
                .drain(..)
                .filter_map(|(k, epoch, batch)| {
                    let w = workers.get(&k)?;
                    (epoch >= w.epoch).then(|| (w.data.clone(), batch))
                })
                .collect()
        };
        for (tx, batch) in senders {
            let _ = tx.blocking_send(batch);
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

/// Runs the consumer until `shutdown` is cancelled: call from a dedicated thread. On the way
/// out every worker finishes, offsets are committed synchronously and the group is left.
pub fn consume(
    state: Arc<ServiceState>,
    runtime: tokio::runtime::Handle,
    shutdown: CancellationToken,
) -> Result<(), ConsumeError> {
    let config = state.config().clone();
    let dead_letter = match &config.kafka.dead_letter_topic {
        Some(topic) => Some((
            Arc::new(
                dead_letter_config(&config).create::<ThreadedProducer<DefaultProducerContext>>()?,
            ),
            topic.clone(),
        )),
        None => None,
    };
    let checkpoints = CheckpointStore::open(&config, &runtime)?.map(Arc::new);
    let context = ConsumerGroupContext {
        state: state.clone(),
        runtime,
        workers: Mutex::new(HashMap::new()),
        dead_letter,
        checkpoints,
        epoch: AtomicU64::new(0),
    };
    let consumer: BaseConsumer<ConsumerGroupContext> =
        consumer_config(&config).create_with_context(context)?;
    let inputs = config.kafka.inputs();
    for line in crate::input::connect::queues::unmatched(&inputs) {
        tracing::warn!("{line}");
    }
    let topics: Vec<&str> = inputs.iter().map(|i| i.topic.as_str()).collect();
    consumer.subscribe(&topics)?;
    tracing::info!(brokers = %config.kafka.brokers, ?topics, group = %config.kafka.group_id, "consuming");
    let mut pending = Pending::new();
    let mut last_store = std::time::Instant::now();
    while !shutdown.is_cancelled() {
        if let Some(first) = consumer.poll(Duration::from_millis(100)) {
            let mut taken = take(first, &mut pending, &consumer);
            while taken < POLL_BATCH {
                match consumer.poll(Duration::ZERO) {
                    Some(m) => taken += take(m, &mut pending, &consumer),
                    None => break,
                }
            }
            consumer.context().dispatch(&mut pending);
        }
        if last_store.elapsed() >= Duration::from_millis(200) {
            consumer.context().store_progress(&consumer);
            last_store = std::time::Instant::now();
        }
    }
    state.set_joined(false);
    consumer.context().stop_workers(&consumer, None);
    if config.kafka.instance_id.is_none() {
        // leave the group now; a static member does not leave (closing sends no LeaveGroup),
        // so a restart within the session timeout gets its partitions back without a rebalance
        consumer.unsubscribe();
    }
    tracing::info!("consumer stopped; offsets committed");
    Ok(())
}

/// Copies a polled message into its partition's batch of the round; 1 if it was a message.
fn take(
    m: KafkaResult<rdkafka::message::BorrowedMessage<'_>>,
    pending: &mut Pending,
    consumer: &BaseConsumer<ConsumerGroupContext>,
) -> usize {
    let context = consumer.context();
    match m {
        Ok(m) => {
            // the rebalance epoch the message was polled in: a batch holds one epoch's messages
            let epoch = context.epoch.load(Ordering::Acquire);
            let (topic, partition) = (m.topic(), m.partition());
            let i = match pending
                .iter()
                .rposition(|((t, p), _, _)| *p == partition && t == topic)
                .filter(|&i| pending[i].1 == epoch)
            {
                Some(i) => i,
                None => {
                    let batch = Batch::with_capacity(256, 256 * 192);
                    pending.push(((topic.to_string(), partition), epoch, batch));
                    pending.len() - 1
                }
            };
            pending[i].2.push(&m);
            1
        }
        Err(error) => {
            ConsumerError {
                error: &error,
                context: "consume",
            }
            .emit(context.state.metrics());
            0
        }
    }
}

/// Each partition's first offset at event time `at` (when the broker can tell).
fn offsets_at<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    keys: &[PartitionKey],
    at: Millis,
) -> HashMap<PartitionKey, Offset> {
    let mut by_time = TopicPartitionList::new();
    for (topic, partition) in keys {
        let _ = by_time.add_partition_offset(topic, *partition, Offset::Offset(at));
    }
    let Ok(found) = consumer.offsets_for_times(by_time, Duration::from_secs(10)) else {
        return HashMap::new();
    };
    found
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) if o >= 0 => {
                Some(((e.topic().to_string(), e.partition()), Offset::Offset(o)))
            }
            _ => None,
        })
        .collect()
}
