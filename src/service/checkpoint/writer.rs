//! A partition worker's checkpoints: captured on the worker every `checkpoint_interval` (when
//! it read anything since the last one; spaced further when they grow costly) and on revoke —
//! a capture shares the engine's large maps rather than copying them, so the worker pauses for
//! milliseconds — then serialised, compressed and written off it, one write at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::wall_now;
use crate::engine::Engine;
use crate::input::Reader;

use super::super::self_metrics::{CheckpointFailed, CheckpointWritten, InternalEvent};
use super::super::state::{PartitionKey, ServiceState};
use super::store::{CheckpointStore, Generation};
use super::{encode, save, CheckpointError};

/// How long a revoked partition waits for its last checkpoint to be written.
pub const LAST_WRITE: Duration = Duration::from_secs(10);

/// A checkpoint comes no sooner than this many times as long as the last one took (taking,
/// compressing and writing it) after it: however large a partition's state grows, its
/// checkpoints take at most a twentieth of the time, and the partition keeps up with its
/// traffic (a resumed partition then re-reads more than `checkpoint_interval`).
pub const SPACING: u32 = 20;

/// When the next checkpoint is due after one that cost `cost`.
pub fn spacing(interval: Duration, cost: Duration) -> Duration {
    interval.max(cost.saturating_mul(SPACING))
}

/// The checkpoints of one partition worker.
pub struct Checkpointer {
    store: Arc<CheckpointStore>,
    key: PartitionKey,
    fingerprint: u64,
    interval: Duration,
    last_at: Instant,
    /// The offset the latest checkpoint taken covers.
    last_offset: i64,
    /// The latest generation written (deleted once the next one is written).
    written: Arc<Mutex<Option<Generation>>>,
    /// What the latest checkpoint written cost, in milliseconds (see [`SPACING`]).
    cost_ms: Arc<AtomicU64>,
    in_flight: Option<tokio::task::JoinHandle<()>>,
}

impl Checkpointer {
    /// `resumed`: the checkpoint the partition resumed from, if any.
    pub fn new(
        store: Arc<CheckpointStore>,
        key: PartitionKey,
        fingerprint: u64,
        interval: Duration,
        resumed: Option<(i64, Generation)>,
    ) -> Self {
        Checkpointer {
            store,
            key,
            fingerprint,
            interval,
            last_at: Instant::now(),
            last_offset: resumed.map_or(-1, |r| r.0),
            written: Arc::new(Mutex::new(resumed.map(|r| r.1))),
            cost_ms: Arc::new(AtomicU64::new(0)),
            in_flight: None,
        }
    }

    /// Takes a checkpoint when one is due and the last one is written.
    pub fn tick(
        &mut self,
        engine: &Engine,
        reader: &Reader,
        next_offset: i64,
        state: &Arc<ServiceState>,
    ) {
        let cost = Duration::from_millis(self.cost_ms.load(Ordering::Relaxed));
        if self.last_at.elapsed() < spacing(self.interval, cost)
            || next_offset <= self.last_offset
            || self.in_flight.as_ref().is_some_and(|h| !h.is_finished())
        {
            return;
        }
        self.in_flight = self.take(engine, reader, next_offset, state);
    }

    /// The last checkpoint of a revoked partition: the write to wait for (at most
    /// [`LAST_WRITE`]), if any.
    pub fn last(
        &mut self,
        engine: &Engine,
        reader: &Reader,
        next_offset: i64,
        state: &Arc<ServiceState>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if next_offset <= self.last_offset {
            return self.in_flight.take();
        }
        self.take(engine, reader, next_offset, state)
    }

    fn take(
        &mut self,
        engine: &Engine,
        reader: &Reader,
        next_offset: i64,
        state: &Arc<ServiceState>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.last_at = Instant::now();
        let started = Instant::now();
        let saved = match save(engine, reader, next_offset) {
            Ok(saved) => saved,
            Err(error) => {
                CheckpointFailed {
                    key: &self.key,
                    error: &error,
                }
                .emit(state.metrics());
                return None;
            }
        };
        self.last_offset = next_offset;
        let taken = started.elapsed();
        let (store, key, fingerprint) = (self.store.clone(), self.key.clone(), self.fingerprint);
        let (written, state) = (self.written.clone(), state.clone());
        let cost_ms = self.cost_ms.clone();
        let before = self.in_flight.take();
        Some(tokio::spawn(async move {
            if let Some(before) = before {
                // one write at a time: the previous generation is known before this one goes
                let _ = before.await;
            }
            let encoding = Instant::now();
            let encoded = tokio::task::spawn_blocking(move || {
                encode(&saved, fingerprint).map(|b| (b, saved.next_offset()))
            })
            .await;
            let (bytes, next_offset) = match encoded {
                Ok(Ok(b)) => b,
                Ok(Err(error)) => {
                    CheckpointFailed {
                        key: &key,
                        error: &error,
                    }
                    .emit(state.metrics());
                    return;
                }
                Err(_) => return,
            };
            let previous = *written.lock().unwrap_or_else(|p| p.into_inner());
            let id = wall_now().max(0) as u64;
            match store.write(&key, id, &bytes, previous).await {
                Ok(generation) => {
                    *written.lock().unwrap_or_else(|p| p.into_inner()) = Some(generation);
                    let cost = taken + encoding.elapsed();
                    cost_ms.store(cost.as_millis() as u64, Ordering::Relaxed);
                    CheckpointWritten {
                        key: &key,
                        next_offset,
                        bytes: bytes.len(),
                        taken,
                        total: started.elapsed(),
                    }
                    .emit(state.metrics());
                }
                Err(error) => {
                    let error = CheckpointError::from(error);
                    CheckpointFailed {
                        key: &key,
                        error: &error,
                    }
                    .emit(state.metrics());
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costly_checkpoint_spaces_the_next_one_out() {
        let interval = Duration::from_secs(300);
        // cheap ones keep the interval
        assert_eq!(spacing(interval, Duration::ZERO), interval);
        assert_eq!(spacing(interval, Duration::from_secs(15)), interval);
        // one that took 25 s: the next no sooner than 500 s later (a twentieth of the time)
        assert_eq!(
            spacing(interval, Duration::from_secs(25)),
            Duration::from_secs(500)
        );
        assert_eq!(
            spacing(Duration::from_secs(2), Duration::from_millis(300)),
            Duration::from_secs(6)
        );
    }
}
