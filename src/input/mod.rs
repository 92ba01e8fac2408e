//! Input formats: wire formats decoded into the events of [`crate::event`], and the one step
//! every reader takes with a message — decode, count a reject, apply — written once for the
//! Kafka partition workers and for `callpulse replay`.

pub mod asterisk;
pub mod callpulse;

use crate::engine::Engine;
use crate::event::Reject;
use crate::time::Millis;

/// The event-time range a reader applies: `[from, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admit {
    /// Events before this are older than the rebuild horizon of a newly assigned partition.
    pub from: Millis,
    /// Events at or after this had not happened yet at the evaluation instant (replay `--at`).
    pub until: Millis,
}

impl Admit {
    /// Every event.
    pub const ALL: Admit = Admit {
        from: Millis::MIN,
        until: Millis::MAX,
    };
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Ingested {
    /// Applied to the engine; `ts` is the event's time.
    Applied { ts: Millis },
    /// Rejected, by the decoder or by the engine, and counted under its reason.
    Rejected(Reject),
    /// Valid, but older than [`Admit::from`]: not applied.
    BeforeHorizon,
    /// Valid, but at or after [`Admit::until`]: not applied.
    AfterEnd,
}

/// Decodes one `callpulse`-format message and applies it when its time is admitted; a reject is
/// counted in the engine's statistics either way.
pub fn ingest(engine: &mut Engine, payload: &[u8], admit: Admit) -> Ingested {
    match callpulse::decode(payload, engine.limits()) {
        Err(reject) => {
            engine.count_reject(reject.reason);
            Ingested::Rejected(reject)
        }
        Ok(event) if event.ts < admit.from => Ingested::BeforeHorizon,
        Ok(event) if event.ts >= admit.until => Ingested::AfterEnd,
        Ok(event) => match engine.apply(&event) {
            Ok(()) => Ingested::Applied { ts: event.ts },
            Err(reject) => Ingested::Rejected(reject),
        },
    }
}
