//! Checkpoints in a compacted Kafka topic (as Kafka Streams keeps its changelogs): pods are
//! disposable, so the state that must survive one lives in Kafka.
//!
//! A partition's checkpoint is written as chunks (a state can exceed a message's size limit)
//! keyed `<group>/<topic>/<partition>/<generation>/<i>`, then a manifest keyed
//! `<group>/<topic>/<partition>` naming the generation, its chunk count, length and CRC; then
//! the previous generation's chunks are deleted (tombstones), so compaction keeps one
//! checkpoint per partition. A reader reads every partition of the topic to its end and trusts
//! only a manifest whose chunks are all there and match it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use rdkafka::ClientContext;

use crate::config::Config;
use crate::kafka::{
    checkpoint_producer_config, checkpoint_reader_config, plain_config, PartitionKey,
};

/// Largest chunk of a checkpoint (under the 1 MB default message limits).
const CHUNK: usize = 512 * 1024;
const MANIFEST_MAGIC: &[u8; 4] = b"CPMF";
const TIMEOUT: Duration = Duration::from_secs(10);

/// One written checkpoint: its generation and chunk count (to delete it once superseded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation {
    pub id: u64,
    pub chunks: u32,
}

/// A manifest: the generation, its chunks, the checkpoint's length and CRC-32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Manifest {
    generation: Generation,
    len: u64,
    crc: u32,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut out = MANIFEST_MAGIC.to_vec();
        out.extend_from_slice(&self.generation.id.to_le_bytes());
        out.extend_from_slice(&self.generation.chunks.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<Manifest> {
        if b.len() != 28 || &b[..4] != MANIFEST_MAGIC {
            return None;
        }
        Some(Manifest {
            generation: Generation {
                id: u64::from_le_bytes(b[4..12].try_into().ok()?),
                chunks: u32::from_le_bytes(b[12..16].try_into().ok()?),
            },
            len: u64::from_le_bytes(b[16..24].try_into().ok()?),
            crc: u32::from_le_bytes(b[24..28].try_into().ok()?),
        })
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// What a load found for one partition.
pub enum Found {
    /// The latest complete checkpoint, and its generation.
    Complete(Vec<u8>, Generation),
    /// No manifest for the partition.
    Missing,
    /// A manifest whose chunks are missing or do not match it.
    Damaged,
}

/// The checkpoint topic of one instance.
pub struct CheckpointStore {
    topic: String,
    group: String,
    config: Arc<Config>,
    producer: FutureProducer,
}

impl CheckpointStore {
    /// The store of `[kafka] checkpoint_topic`, or `None` when checkpoints are off. Creates the
    /// topic (compacted, one partition) when it does not exist, in the background: a broker
    /// that cannot create topics leaves it to auto-creation or to the operator.
    pub fn open(
        config: &Arc<Config>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Option<CheckpointStore>, KafkaError> {
        let topic = config.kafka.checkpoint_topic.clone();
        if topic.is_empty() {
            return Ok(None);
        }
        let (handle, config_, topic_) = (runtime.clone(), config.clone(), topic.clone());
        runtime.spawn_blocking(move || handle.block_on(create_topic(config_, topic_)));
        Ok(Some(CheckpointStore {
            topic,
            group: config.kafka.group_id.clone(),
            config: config.clone(),
            producer: checkpoint_producer_config(config).create()?,
        }))
    }

    fn prefix(&self, key: &PartitionKey) -> String {
        format!("{}/{}/{}", self.group, key.0, key.1)
    }

    /// The checkpoint topic's partition count, when the topic exists.
    fn partitions(&self, client: &Client<impl ClientContext>) -> Option<i32> {
        client
            .fetch_metadata(Some(&self.topic), TIMEOUT)
            .ok()?
            .topics()
            .iter()
            .find(|t| t.name() == self.topic && t.error().is_none())
            .map(|t| t.partitions().len() as i32)
            .filter(|&n| n > 0)
    }

    /// Writes `bytes` as partition `key`'s checkpoint of generation `id`, then deletes
    /// `previous`; returns the generation written.
    pub async fn write(
        &self,
        key: &PartitionKey,
        id: u64,
        bytes: &[u8],
        previous: Option<Generation>,
    ) -> Result<Generation, KafkaError> {
        let prefix = self.prefix(key);
        // spread over the topic's partitions (a reader reads them all, so any will do)
        let count = self.partitions(self.producer.client()).unwrap_or(1);
        let partition = (crc32(prefix.as_bytes()) % count as u32) as i32;
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
        let keys: Vec<String> = (0..chunks.len())
            .map(|i| format!("{prefix}/{id}/{i}"))
            .collect();
        let mut deliveries = Vec::with_capacity(chunks.len());
        for (chunk_key, chunk) in keys.iter().zip(&chunks) {
            let record = FutureRecord::to(&self.topic)
                .partition(partition)
                .key(chunk_key)
                .payload(*chunk);
            // enqueued now (all chunks in flight together), delivered in order (idempotence)
            deliveries.push(self.producer.send_result(record).map_err(|(e, _)| e)?);
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(e),
                Err(_) => return Err(KafkaError::Canceled),
            }
        }
        let generation = Generation {
            id,
            chunks: chunks.len() as u32,
        };
        let manifest = Manifest {
            generation,
            len: bytes.len() as u64,
            crc: crc32(bytes),
        }
        .encode();
        let record = FutureRecord::to(&self.topic)
            .partition(partition)
            .key(&prefix)
            .payload(&manifest);
        self.producer
            .send(record, Timeout::After(TIMEOUT))
            .await
            .map_err(|(e, _)| e)?;
        if let Some(old) = previous.filter(|old| old.id != id) {
            for i in 0..old.chunks {
                let chunk_key = format!("{prefix}/{}/{i}", old.id);
                let tombstone: FutureRecord<'_, String, [u8]> = FutureRecord::to(&self.topic)
                    .partition(partition)
                    .key(&chunk_key);
                // a tombstone lost leaves a chunk no manifest names: compaction keeps it, no
                // reader uses it
                let _ = self.producer.send(tombstone, Timeout::After(TIMEOUT)).await;
            }
        }
        Ok(generation)
    }

    /// Reads the checkpoint topic up to its end and returns the latest complete checkpoint of
    /// every partition in `keys` (blocking; at most `deadline` long).
    pub fn load(
        &self,
        keys: &[PartitionKey],
        deadline: Duration,
    ) -> Result<HashMap<PartitionKey, Found>, KafkaError> {
        let started = Instant::now();
        let consumer: BaseConsumer = checkpoint_reader_config(&self.config).create()?;
        let wanted: HashMap<String, PartitionKey> =
            keys.iter().map(|k| (self.prefix(k), k.clone())).collect();
        let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
        let mut tpl = TopicPartitionList::new();
        // no topic: no checkpoint yet
        let count = self.partitions(consumer.client()).unwrap_or(0);
        for p in 0..count {
            let (low, high) = consumer.fetch_watermarks(&self.topic, p, TIMEOUT)?;
            if high > low {
                ends.insert(p, high);
                tpl.add_partition_offset(&self.topic, p, Offset::Beginning)?;
            }
        }
        let mut log = Log::default();
        if !ends.is_empty() {
            consumer.assign(&tpl)?;
        }
        while !ends.is_empty() {
            let left = deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(KafkaError::MessageConsumption(
                    RDKafkaErrorCode::OperationTimedOut,
                ));
            }
            match consumer.poll(left.min(Duration::from_millis(200))) {
                Some(Ok(m)) => {
                    if let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
                        log.read(&wanted, key, m.payload());
                    }
                    if ends
                        .get(&m.partition())
                        .is_some_and(|&end| m.offset() + 1 >= end)
                    {
                        ends.remove(&m.partition());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    ends.remove(&p);
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        Ok(wanted
            .into_iter()
            .map(|(prefix, key)| (key, log.found(&prefix)))
            .collect())
    }
}

/// What a load read so far: the latest manifest of each wanted partition and the chunks of
/// generations not superseded.
#[derive(Default)]
struct Log {
    manifests: HashMap<String, Manifest>,
    chunks: HashMap<(String, u64), BTreeMap<u32, Vec<u8>>>,
}

impl Log {
    fn read(&mut self, wanted: &HashMap<String, PartitionKey>, key: &str, payload: Option<&[u8]>) {
        if wanted.contains_key(key) {
            // the latest generation wins, in whatever order the topic's partitions are read
            if let Some(m) = payload.and_then(Manifest::decode) {
                let id = m.generation.id;
                if self
                    .manifests
                    .get(key)
                    .is_none_or(|old| old.generation.id <= id)
                {
                    self.chunks.retain(|(p, g), _| p != key || *g >= id);
                    self.manifests.insert(key.to_string(), m);
                }
            }
            return;
        }
        // `<prefix>/<generation>/<i>`
        let mut parts = key.rsplitn(3, '/');
        let (Some(i), Some(id), Some(prefix)) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        if !wanted.contains_key(prefix) {
            return;
        }
        let (Ok(i), Ok(id)) = (i.parse::<u32>(), id.parse::<u64>()) else {
            return;
        };
        if self
            .manifests
            .get(prefix)
            .is_some_and(|m| m.generation.id > id)
        {
            return;
        }
        let chunks = self.chunks.entry((prefix.to_string(), id)).or_default();
        match payload {
            Some(p) => {
                chunks.insert(i, p.to_vec());
            }
            None => {
                chunks.remove(&i);
            }
        }
    }

    fn found(&mut self, prefix: &str) -> Found {
        let Some(m) = self.manifests.get(prefix) else {
            return Found::Missing;
        };
        let Some(chunks) = self.chunks.remove(&(prefix.to_string(), m.generation.id)) else {
            return Found::Damaged;
        };
        if chunks.len() != m.generation.chunks as usize
            || chunks.keys().copied().ne(0..m.generation.chunks)
        {
            return Found::Damaged;
        }
        let bytes: Vec<u8> = chunks.into_values().flatten().collect();
        if bytes.len() as u64 != m.len || crc32(&bytes) != m.crc {
            return Found::Damaged;
        }
        Found::Complete(bytes, m.generation)
    }
}

/// Creates the checkpoint topic, compacted, when it does not exist (an existing topic is left
/// as it is; a failure is logged: writes then fail and are counted, loads find nothing).
async fn create_topic(config: Arc<Config>, topic: String) {
    let Ok(admin) =
        plain_config(&config.kafka.brokers).create::<AdminClient<DefaultClientContext>>()
    else {
        return;
    };
    let (brokers, exists) = admin
        .inner()
        .fetch_metadata(None, TIMEOUT)
        .map(|m| {
            let exists = m.topics().iter().any(|t| t.name() == topic);
            (m.brokers().len() as i32, exists)
        })
        .unwrap_or((1, false));
    if exists {
        return;
    }
    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(brokers.clamp(1, 3)))
        .set("cleanup.policy", "compact")
        .set("segment.ms", "600000")
        .set("min.cleanable.dirty.ratio", "0.1");
    let options = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    let created = admin.create_topics([&new], &options).await;
    match created {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        tracing::warn!(topic = %name, error = %code, "cannot create the checkpoint topic")
                    }
                }
            }
        }
        Err(error) => tracing::warn!(%error, topic, "cannot create the checkpoint topic"),
    }
}
