//! Partition checkpoints: a partition worker's engine and reader state with the input offset
//! it covers, as bytes (here) and in a compacted Kafka topic ([`store`]), written on a timer
//! and on revoke ([`writer`]).
//!
//! A checkpoint is `CPCK`, the format version, the fingerprint of the configuration it was
//! built under, the next offset to read, then the deflated state. A newly assigned partition
//! resumes from its latest checkpoint and reads on from that offset, so what a failover
//! forgets no longer depends on the rebuild horizon: cumulative counters go on, a survey for a
//! contact older than the horizon still finds it, customer histories stay. A checkpoint of
//! another format version or configuration, or one that cannot be read, is not used: the
//! partition is rebuilt from the horizon as without checkpoints (counted and logged).

pub mod store;
pub mod writer;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use crate::config::{Config, InputConfig};
use crate::engine::{Captured, Engine, StateError};
use crate::input::Reader;

pub use super::self_metrics::LoadOutcome;
use super::self_metrics::{CheckpointLoaded, InternalEvent, SelfMetrics};
use crate::kafka::PartitionKey;
use crate::time::Millis;
use store::{CheckpointStore, Found, Generation};

/// How long looking up the checkpoints of an assignment may take before the partitions are
/// rebuilt from the horizon instead.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(60);

/// Bumped whenever a checkpointed type changes (`tests/it/checkpoint.rs` guards it).
pub const FORMAT_VERSION: u16 = 8;
const MAGIC: &[u8; 4] = b"CPCK";
const HEADER: usize = 4 + 2 + 8 + 8;

/// Why a checkpoint is not used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a callpulse checkpoint")]
    NotACheckpoint,
    #[error("checkpoint format version {found}, this build reads {FORMAT_VERSION}")]
    Version { found: u16 },
    #[error("checkpoint made under another configuration (engine, queues or input format)")]
    Configuration,
    #[error("checkpoint unreadable: {0}")]
    Io(#[from] std::io::Error),
    #[error("checkpoint unreadable: {0}")]
    State(#[from] StateError),
    #[error("checkpoint unreadable: {0}")]
    Postcard(#[from] postcard::Error),
    #[error("checkpoint topic: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("checkpoint incomplete: chunks missing or not matching its manifest")]
    Damaged,
    #[error("checkpoint's event time {watermark} ms is beyond the wall clock plus max_clock_skew (a wrong clock before 1.2)")]
    FutureTime { watermark: Millis },
}

impl CheckpointError {
    pub fn outcome(&self) -> LoadOutcome {
        match self {
            CheckpointError::Version { .. }
            | CheckpointError::Configuration
            | CheckpointError::FutureTime { .. } => LoadOutcome::Incompatible,
            _ => LoadOutcome::Unreadable,
        }
    }
}

/// What a partition resumes from.
pub struct Resume {
    /// The next offset to read.
    pub next_offset: i64,
    pub engine: Engine,
    pub reader: Reader,
}

/// A worker's state taken at an offset (on the worker, cheaply: see [`Engine::capture`]), not
/// yet serialised nor compressed ([`encode`] does both, off the worker).
pub struct Saved {
    next_offset: i64,
    engine: Captured,
    reader: Vec<u8>,
}

impl Saved {
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
}

/// The configuration a partition's checkpoint depends on: the engine's, and the partition's
/// input (its format and the adapter's settings).
pub fn fingerprint(config: &Config, input: &InputConfig) -> u64 {
    let mut crc = flate2::Crc::new();
    crc.update(format!("{input:?}").as_bytes());
    crate::engine::fingerprint(&config.center) ^ u64::from(crc.sum())
}

/// Takes the state of a worker that has read everything before `next_offset`: the only part
/// of a checkpoint on the worker, a capture of the engine (see [`Engine::capture`]) and the
/// reader's small state; [`encode`] serialises and compresses it elsewhere.
pub fn save(engine: &Engine, reader: &Reader, next_offset: i64) -> Result<Saved, CheckpointError> {
    Ok(Saved {
        next_offset,
        engine: engine.capture(),
        reader: reader.save_state()?,
    })
}

/// The checkpoint's bytes: the state is the pair (engine state, reader state) as postcard
/// writes it, each a length and its bytes.
pub fn encode(saved: &Saved, fingerprint: u64) -> Result<Vec<u8>, CheckpointError> {
    let engine = saved.engine.save_state()?;
    let mut out = Vec::with_capacity(HEADER + engine.len() / 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&fingerprint.to_le_bytes());
    out.extend_from_slice(&saved.next_offset.to_le_bytes());
    let mut deflate = DeflateEncoder::new(out, Compression::fast());
    for part in [&engine, &saved.reader] {
        deflate.write_all(&postcard::to_stdvec(&part.len())?)?;
        deflate.write_all(part)?;
    }
    Ok(deflate.finish()?)
}

/// Reads a checkpoint back for a partition of `input` under `config`.
pub fn decode(
    bytes: &[u8],
    config: &Arc<Config>,
    input: &InputConfig,
) -> Result<Resume, CheckpointError> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return Err(CheckpointError::NotACheckpoint);
    }
    let field = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        b
    };
    let found = u16::from_le_bytes([bytes[4], bytes[5]]);
    if found != FORMAT_VERSION {
        return Err(CheckpointError::Version { found });
    }
    if u64::from_le_bytes(field(6)) != fingerprint(config, input) {
        return Err(CheckpointError::Configuration);
    }
    let next_offset = i64::from_le_bytes(field(14));
    let mut state = Vec::new();
    DeflateDecoder::new(&bytes[HEADER..]).read_to_end(&mut state)?;
    let (engine, reader): (Vec<u8>, Vec<u8>) = postcard::from_bytes(&state)?;
    let engine = Engine::restore_state(config.center.clone(), &engine)?;
    let mut restored = Reader::with_lateness(input, config.center.engine.allowed_lateness.millis());
    restored.restore_state(&reader)?;
    Ok(Resume {
        next_offset,
        engine,
        reader: restored,
    })
}

/// A checkpoint whose partition time is further ahead of the wall clock `now` than
/// `max_clock_skew` holds a time no event may set (docs/metrics.md): not resumed from.
fn believable(resume: Resume, config: &Config, now: Millis) -> Result<Resume, CheckpointError> {
    let latest = now.saturating_add(config.center.engine.max_clock_skew.millis());
    match resume.engine.watermark() {
        Some(watermark) if watermark > latest => Err(CheckpointError::FutureTime { watermark }),
        _ => Ok(resume),
    }
}

/// Looks up the checkpoints of newly assigned partitions at wall-clock instant `now`: what
/// each one resumes from, if anything (each lookup is counted by outcome and logged).
pub fn lookup(
    store: &CheckpointStore,
    config: &Arc<Config>,
    keys: &[PartitionKey],
    metrics: &SelfMetrics,
    now: Millis,
) -> HashMap<PartitionKey, (Resume, Generation)> {
    if keys.is_empty() {
        return HashMap::new();
    }
    let started = Instant::now();
    let mut found = store.load(keys, LOOKUP_DEADLINE);
    let mut resumes = HashMap::new();
    for key in keys {
        let result = match &mut found {
            Err(e) => Err(CheckpointError::Kafka(e.clone())),
            Ok(found) => match found.remove(key) {
                None | Some(Found::Missing) => Ok(None),
                Some(Found::Damaged) => Err(CheckpointError::Damaged),
                Some(Found::Complete(bytes, generation)) => {
                    decode(&bytes, config, &config.kafka.input_of(&key.0))
                        .and_then(|r| believable(r, config, now))
                        .map(|r| Some((r, generation)))
                }
            },
        };
        let (outcome, error, next_offset) = match &result {
            Ok(Some((r, _))) => (LoadOutcome::Restored, None, Some(r.next_offset)),
            Ok(None) => (LoadOutcome::Missing, None, None),
            Err(e) => (e.outcome(), Some(e.to_string()), None),
        };
        CheckpointLoaded {
            key,
            outcome,
            error,
            next_offset,
            took: started.elapsed(),
        }
        .emit(metrics);
        if let Ok(Some(resume)) = result {
            resumes.insert(key.clone(), resume);
        }
    }
    resumes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Body, ContactEvent, ContactStep, Event};

    fn resume_at(config: &Arc<Config>, ts: Millis) -> Resume {
        let mut engine = Engine::new(config.center.clone());
        let offer = Event {
            id: None,
            ts,
            body: Body::Contact(ContactEvent {
                step: ContactStep::Offered,
                contact_id: "c1".into(),
                queue: Some("sales".into()),
                agent: None,
                channel: Default::default(),
                wrapup: None,
                resolved: None,
                customer: None,
                scores: Default::default(),
                priority: None,
            }),
        };
        engine.apply(&offer).unwrap();
        Resume {
            next_offset: 1,
            engine,
            reader: Reader::new(&InputConfig::default()),
        }
    }

    #[test]
    fn a_checkpoint_poisoned_by_a_future_time_is_not_resumed_from() {
        let config = Arc::new(Config::parse("[engine]\nmax_clock_skew = \"5m\"\n").unwrap());
        let now = 1_800_000_000_000;
        assert!(believable(resume_at(&config, now + 299_000), &config, now).is_ok());
        let poisoned = believable(resume_at(&config, now + 3_600_000), &config, now);
        assert!(matches!(
            poisoned,
            Err(CheckpointError::FutureTime { watermark }) if watermark == now + 3_600_000
        ));
    }
}
