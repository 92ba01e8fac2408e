//! Which event times move a partition's time (docs/metrics.md, "A wrong clock costs only its own
//! events"): with a wall clock, nothing further ahead of it than `max_clock_skew`; without one
//! (replay), a jump ahead of the partition's time by more than the lateness only once later
//! events confirm it, a lone outlier being `bad_timestamp`.
//!
//! The engine never reads a clock: the service hands it the wall-clock instant
//! ([`Engine::observe_wall_clock`]) before each batch; an engine never told one (replay, tests)
//! confirms jumps instead: by later events, or by an evaluation instant (`advance(now)`) at or
//! after the time jumped to.

use crate::event::{Event, Reject, RejectReason};
use crate::time::Millis;

use super::Engine;

/// Events that agree with a jump, the jump included, that confirm it.
pub const CONFIRMING_EVENTS: usize = 3;
/// Events at the partition's old time after a jump that refute it: the jump was a lone outlier.
pub const REFUTING_EVENTS: u32 = 3;

/// What decides whether an event's time is believable.
#[derive(Debug, Default)]
pub(super) enum TimeGuard {
    /// No wall clock (replay, tests): jumps wait for confirmation.
    #[default]
    Confirm,
    /// The latest event time believable: the wall clock plus `max_clock_skew`.
    Wall { latest: Millis },
}

/// Events that jumped ahead of the partition's time, held until later events confirm the jump
/// (then applied in arrival order) or refute it (then rejected as `bad_timestamp`).
#[derive(Debug, Default)]
pub(super) struct Jump {
    events: Vec<Event<'static>>,
    /// Events since the jump too old to agree with it (at the partition's old time).
    refuted_by: u32,
}

impl Jump {
    /// The time the held events jumped to (the first one's).
    fn to(&self) -> Option<Millis> {
        self.events.first().map(|e| e.ts)
    }
}

/// What the guard decided about one event.
pub(super) enum Verdict {
    /// Apply it now.
    Apply,
    /// Held with a jump not yet confirmed.
    Held,
    /// Its jump is confirmed: apply the held events (this one last).
    Confirmed(Vec<Event<'static>>),
}

impl Engine {
    /// The wall-clock instant of the live service, read by its shell: from now on an event
    /// further ahead of it than `engine.max_clock_skew` is `bad_timestamp` and moves nothing.
    pub fn observe_wall_clock(&mut self, now: Millis) {
        let latest = now.saturating_add(self.config.engine.max_clock_skew.millis());
        self.time_guard = TimeGuard::Wall { latest };
        // held jumps have a wall clock to be judged by now
        if !self.jump.events.is_empty() {
            for event in std::mem::take(&mut self.jump.events) {
                let _ = self.apply(&event);
            }
        }
    }

    /// Judges an event's time before it is applied; `Err` for a time not to be believed.
    pub(super) fn judge_time(&mut self, event: &Event<'_>) -> Result<Verdict, Reject> {
        let bad = Reject::new(RejectReason::BadTimestamp, "ts");
        match self.time_guard {
            TimeGuard::Wall { latest } if event.ts > latest => return Err(bad),
            TimeGuard::Wall { .. } => return Ok(Verdict::Apply),
            TimeGuard::Confirm => {}
        }
        let Some(jumped_to) = self.jump.to() else {
            if self.watermark != Millis::MIN
                && event.ts > self.watermark.saturating_add(self.lateness)
            {
                self.jump.events.push(event.to_owned_event());
                return Ok(Verdict::Held);
            }
            return Ok(Verdict::Apply);
        };
        if event.ts < jumped_to.saturating_sub(self.lateness) {
            // at the old time: evidence against the jump
            self.jump.refuted_by += 1;
            if self.jump.refuted_by >= REFUTING_EVENTS {
                self.refute_jump();
            }
            return Ok(Verdict::Apply);
        }
        if event.id.is_some() && self.jump.events.iter().any(|e| e.id == event.id) {
            // a repeated outlier does not confirm itself
            return Err(Reject::new(RejectReason::Duplicate, "id"));
        }
        if self.jump.events.len() + 1 >= CONFIRMING_EVENTS {
            let mut held = std::mem::take(&mut self.jump).events;
            held.push(event.to_owned_event());
            return Ok(Verdict::Confirmed(held));
        }
        self.jump.events.push(event.to_owned_event());
        Ok(Verdict::Held)
    }

    /// Rejects the held events as a lone outlier's.
    fn refute_jump(&mut self) {
        let held = std::mem::take(&mut self.jump).events;
        self.stats.rejected[RejectReason::BadTimestamp.index()] += held.len() as u64;
    }

    /// Applies the held events of a jump to `now` or before it: the caller's evaluation
    /// instant has reached the time they jumped to.
    pub(super) fn confirm_jump_before(&mut self, now: Millis) {
        if self.jump.to().is_some_and(|to| to <= now) {
            let held = std::mem::take(&mut self.jump).events;
            let _ = self.apply_held(&held);
        }
    }

    /// At the end of the input: a jump nothing refuted is applied (a history may end after a
    /// quiet spell); one that later events refuted in part is rejected.
    pub fn settle_jump(&mut self) {
        if self.jump.refuted_by > 0 {
            self.refute_jump();
            return;
        }
        let held = std::mem::take(&mut self.jump).events;
        let _ = self.apply_held(&held);
    }

    /// Applies the held events of a confirmed jump in arrival order; the result is the last
    /// one's.
    pub(super) fn apply_held(&mut self, held: &[Event<'static>]) -> Result<(), Reject> {
        let mut result = Ok(());
        for event in held {
            result = self.apply_believed(event);
        }
        result
    }
}
