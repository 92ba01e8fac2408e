//! The latest published state of one partition worker ([`PartView`]) and the requests a
//! scrape or the live API sends its worker: what the shared state holds per partition.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::config::InputFormat;
use crate::engine::{EngineStats, Held};
use crate::live::LiveView;
use crate::snapshot::Snapshot;
use crate::time::Millis;

/// A scrape's request for a partition engine's [`crate::engine::Engine::export_snapshot`]: its
/// worker answers between two batches.
pub type SnapshotRequest = oneshot::Sender<Arc<Snapshot>>;

/// A live API request's ask for a partition engine's [`crate::engine::Engine::live_view`],
/// answered likewise.
pub type LiveRequest = oneshot::Sender<Arc<LiveView>>;

/// The latest published state of one partition worker.
#[derive(Clone, Debug)]
pub struct PartView {
    /// The partition engine's snapshot: empty as published, filled by a scrape
    /// ([`super::state::ServiceState::gather`]) — snapshots are taken when a scrape asks, not on every
    /// publish, so no copy of every queue waits in memory between scrapes.
    pub snapshot: Arc<Snapshot>,
    /// Where a scrape asks the partition's worker for its snapshot.
    pub snapshots: Option<mpsc::Sender<SnapshotRequest>>,
    /// Where the live API asks the partition's worker for its live view.
    pub live: Option<mpsc::Sender<LiveRequest>>,
    pub stats: EngineStats,
    pub open_contacts: usize,
    /// KPI facts held by the windows (memory is bounded by what the windows hold).
    pub facts_held: usize,
    /// Entries of every bounded structure of the engine.
    pub held: Held,
    /// Event time of the newest accepted event.
    pub last_event_ms: Option<Millis>,
    /// Kafka timestamp (ms) of the last message processed.
    pub last_message_ms: Option<Millis>,
    /// Next offset to process.
    pub position: i64,
    /// The offset this assignment started reading at: a checkpoint's, or the rebuild
    /// horizon's (−1 until known).
    pub recovery_start: i64,
    /// Events older than the rebuild horizon, read and skipped after an assignment.
    pub skipped_before_rebuild: u64,
    /// Messages below the partition's position, delivered again and skipped.
    pub redelivered: u64,
    pub dead_lettered: u64,
    /// Platform records read, by kind, with the partition's input format.
    pub input_records: (InputFormat, BTreeMap<&'static str, u64>),
}

impl Default for PartView {
    fn default() -> Self {
        PartView {
            snapshot: Arc::default(),
            snapshots: None,
            live: None,
            stats: EngineStats::default(),
            open_contacts: 0,
            facts_held: 0,
            held: Held::default(),
            last_event_ms: None,
            last_message_ms: None,
            position: 0,
            recovery_start: -1,
            skipped_before_rebuild: 0,
            redelivered: 0,
            dead_lettered: 0,
            input_records: Default::default(),
        }
    }
}
