//! `callpulse replay`: the engine over a history (a file in any input format, as platforms store
//! it: see [`crate::input::stored`]), evaluated at one instant.
//!
//! The same engine as the live service, with event time only: windows are evaluated at `--at`
//! (default: the latest event time rounded up to the next whole second). Events at or after
//! `--at` had not happened yet at that instant and are not applied. A format whose records are
//! written when a contact is over (Amazon Connect) is put in time order first
//! ([`crate::input::history`]).

use std::io::BufRead;
use std::sync::Arc;

use crate::config::{Config, InputConfig};
use crate::engine::{Engine, EngineStats};
use crate::input::history::TimeOrder;
use crate::input::{stored, Admit, Ingested, Reader};
use crate::snapshot::Snapshot;
use crate::time::{Millis, SECOND};

/// How many lines between two `advance` calls while reading (keeps memory bounded on long files).
const ADVANCE_EVERY: u64 = 1024;

/// What a replay read and what it made of it.
#[derive(Debug)]
pub struct Replayed {
    pub snapshot: Snapshot,
    pub stats: EngineStats,
    pub lines: u64,
    /// Valid events at or after `--at`, not applied.
    pub after_at: u64,
}

/// The default evaluation instant: the latest event time rounded up to the next whole second.
pub fn default_at(latest: Millis) -> Millis {
    (latest.div_euclid(SECOND) + 1) * SECOND
}

/// Runs a history in the `callpulse` format through a fresh engine and snapshots it at `at`.
pub fn replay(
    config: Arc<Config>,
    input: impl BufRead,
    at: Option<Millis>,
) -> std::io::Result<Replayed> {
    replay_input(config, &InputConfig::default(), input, at)
}

/// Runs a history written in `format`'s input format through a fresh engine and snapshots it at `at`.
pub fn replay_input(
    config: Arc<Config>,
    format: &InputConfig,
    input: impl BufRead,
    at: Option<Millis>,
) -> std::io::Result<Replayed> {
    replay_windows(config, format, input, at, Windows::All)
}

/// Which windows a replay's snapshot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Windows {
    /// Every window ([`Engine::snapshot`]).
    All,
    /// Those the export profile writes, and the forecast's ([`Engine::export_snapshot`]): the
    /// Prometheus exposition of a center of many queues, in a fraction of the memory.
    Exported,
}

/// [`replay_input`], its snapshot holding `windows`.
pub fn replay_windows(
    config: Arc<Config>,
    format: &InputConfig,
    input: impl BufRead,
    at: Option<Millis>,
    windows: Windows,
) -> std::io::Result<Replayed> {
    let mut reader = Reader::history(format, config.center.engine.allowed_lateness.millis());
    let mut engine = Engine::new(config.center.clone());
    if !(windows == Windows::Exported && config.center.export.agents) {
        // nothing reads the live view: only the per-agent export of the exposition does
        engine.without_live_view();
    }
    let admit = Admit {
        until: at.unwrap_or(Millis::MAX),
        ..Admit::ALL
    };
    let (mut lines, mut after_at) = (0u64, 0u64);
    let limit = format
        .format
        .max_record_bytes(engine.limits().max_message_bytes);
    let mut order = reader.needs_time_order().then(TimeOrder::default);
    let mut mapped = Vec::new();
    for record in stored::records(Box::new(input), limit)? {
        lines += 1;
        let record = match record? {
            Ok(record) => record,
            Err(reject) => {
                engine.count_reject(reject.reason);
                continue;
            }
        };
        if let Some(order) = order.as_mut() {
            // gathered, applied in time order at the end
            let limits = *engine.limits();
            reader.convert(&record, &limits, &mut mapped, |r| {
                engine.count_reject(r.reason)
            });
            order.extend(mapped.drain(..));
            continue;
        }
        reader.read(&mut engine, &record, admit, |o| {
            after_at += u64::from(o == Ingested::AfterEnd);
        });
        if lines % ADVANCE_EVERY == 0 {
            advance(&mut engine, at);
        }
    }
    match order {
        Some(mut order) => {
            reader.convert_rest(&mut mapped);
            order.extend(mapped.drain(..));
            for (n, event) in order.into_sorted().enumerate() {
                let o = crate::input::ingest(&mut engine, event.as_bytes(), admit);
                after_at += u64::from(o == Ingested::AfterEnd);
                if (n as u64 + 1).is_multiple_of(ADVANCE_EVERY) {
                    advance(&mut engine, at);
                }
            }
        }
        None => reader.flush(&mut engine, Millis::MAX, admit, |o| {
            after_at += u64::from(o == Ingested::AfterEnd);
        }),
    }
    // a jump in time the history ended on is decided before its time is read
    engine.settle_jump();
    let at = at.unwrap_or_else(|| engine.watermark().map_or(0, default_at));
    engine.advance(at);
    engine.finish_input();
    Ok(Replayed {
        snapshot: match windows {
            Windows::All => engine.snapshot(),
            Windows::Exported => engine.export_snapshot(),
        },
        stats: engine.stats().clone(),
        lines,
        after_at,
    })
}

/// Moves the engine to its watermark (never past `at`), so a long history's finished windows
/// leave memory.
fn advance(engine: &mut Engine, at: Option<Millis>) {
    if let Some(wm) = engine.watermark() {
        engine.advance(at.map_or(wm, |at| wm.min(at)));
    }
}
