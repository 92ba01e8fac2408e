//! The queue limit that junk cannot capture: when `max_queues` queues are known and an event
//! names a new one, queues that were not configured and have been idle for
//! `forget_idle_queues_after` (nothing waiting, no agent serving them, no fact a window still
//! needs) are forgotten to make room. Configured queues are never forgotten nor locked out.
//!
//! A forgotten queue's id is never given to another queue (contacts, agents and customers may
//! still refer to it); its slot keeps only its name and counts nothing more. Slots are bounded
//! at [`SLOTS_PER_QUEUE`] × `max_queues`.

use crate::time::{Millis, MINUTE};

use super::Engine;

/// Queue slots (live and forgotten) at most, per queue of `max_queues`.
pub const SLOTS_PER_QUEUE: usize = 4;

impl Engine {
    /// Forgets idle queues that were not configured, at most once per minute of event time;
    /// whether a queue may now be added.
    pub(super) fn make_room_for_a_queue(&mut self) -> bool {
        let max = self.config.engine.max_queues;
        if self.queues.len() >= max.saturating_mul(SLOTS_PER_QUEUE) {
            return false;
        }
        if self.queue_ids.len() < max {
            return true;
        }
        let frontier = self.frontier();
        if self
            .last_retire_scan
            .is_some_and(|at| frontier < at.saturating_add(MINUTE))
        {
            return false;
        }
        self.last_retire_scan = Some(frontier);
        let idle_since =
            frontier.saturating_sub(self.config.engine.forget_idle_queues_after.millis());
        let mut forgotten = 0u64;
        for q in &mut self.queues {
            let configured = self.config.queues.contains_key(&*q.name);
            if !q.retired && !configured && q.last_named < idle_since && q.is_quiet() {
                q.retire();
                self.queue_ids.remove(&q.name);
                forgotten += 1;
            }
        }
        self.stats.queues_forgotten += forgotten;
        self.queue_ids.len() < max
    }
}

/// When the last scan for idle queues ran (event time), if any.
pub(super) type LastScan = Option<Millis>;
