//! One queue's agent time: how many agents serve it in each state as a step function of event
//! time (its changes, from `engine/history.rs`), and each window's exact integral of it
//! (`callcenter_agent_seconds`, `callcenter_occupancy_ratio`).
//!
//! A window `[start, end)` keeps, per state, the count at `start` (`level`: the changes before
//! it), the net change inside it (`held`) and the changes' sum weighted by their instant
//! (`weighted`); its agent-milliseconds are then `level·(end − start) + Σ count·(end − at)` =
//! `level·(end − start) + end·held − weighted`, exact in integers. A change (or its correction
//! by a late event) enters every window by the same rule as a fact: `level` before `start`,
//! `held`/`weighted` inside, nothing at or after `end` (it enters when `end` passes it).
//!
//! Memory follows the rolling windows, as for facts: changes are kept from the earliest
//! rolling start (or `now`) on, so a rolling window can move them into `level` at its left
//! edge; older ones are summed into `base`. `interval` and `today` start afresh at a boundary
//! after the previous `now`, with `level` = `base` + the kept changes before it, and need no
//! change one by one after that. Cost per change: O(windows) plus a B-tree insertion; one
//! entry (~40 bytes) per (instant, state) for as long as the longest rolling window.

use std::collections::BTreeMap;

use crate::kpi::AgentTime;
use crate::time::Millis;

#[derive(Clone, Debug, Default)]
struct Integral {
    start: Millis,
    end: Millis,
    level: [i64; 4],
    held: [i64; 4],
    weighted: [i128; 4],
}

impl Integral {
    fn add(&mut self, at: Millis, state: usize, count: i64) {
        if at < self.start {
            self.level[state] += count;
        } else if at < self.end {
            self.held[state] += count;
            self.weighted[state] += i128::from(count) * i128::from(at);
        }
    }

    fn time(&self) -> AgentTime {
        let len = i128::from(self.end - self.start);
        let end = i128::from(self.end);
        AgentTime(std::array::from_fn(|s| {
            let ms =
                i128::from(self.level[s]) * len + end * i128::from(self.held[s]) - self.weighted[s];
            i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
        }))
    }
}

/// Agent time of one queue in each of its windows (same order as the queue's windows).
#[derive(Clone, Debug, Default)]
pub struct Workforce {
    /// Net changes of the counts by (instant, state), every one at or after `kept_from`.
    changes: BTreeMap<(Millis, usize), i64>,
    /// The counts at `kept_from`: the net of every change before it.
    base: [i64; 4],
    kept_from: Millis,
    windows: Vec<Integral>,
}

impl Workforce {
    /// Windows starting at `starts` and ending at `now`, holding nothing yet.
    pub fn new(starts: &[Millis], now: Millis) -> Self {
        Workforce {
            changes: BTreeMap::new(),
            base: [0; 4],
            kept_from: Millis::MIN,
            windows: starts
                .iter()
                .map(|&start| Integral {
                    start,
                    end: now,
                    ..Integral::default()
                })
                .collect(),
        }
    }

    /// From `at` on, `count` more agents (fewer when negative) serve the queue in `state`.
    pub fn apply(&mut self, at: Millis, state: usize, count: i64) {
        for w in &mut self.windows {
            w.add(at, state, count);
        }
        if at < self.kept_from {
            // Only a change older than every rolling window can land here; it counts in the
            // level of every later boundary.
            self.base[state] += count;
            return;
        }
        let entry = self.changes.entry((at, state)).or_insert(0);
        *entry += count;
        if *entry == 0 {
            self.changes.remove(&(at, state));
        }
    }

    /// Moves every window to its start in `starts` (never backwards) and to `now`; then forgets
    /// the changes before `rolling_start` (the earliest rolling window's start, `now` when there
    /// is none).
    pub fn advance(&mut self, starts: &[Millis], now: Millis, rolling_start: Millis) {
        for i in 0..self.windows.len() {
            let w = &self.windows[i];
            let start = starts.get(i).copied().unwrap_or(w.start).max(w.start);
            if start > w.start && start >= w.end {
                // A fresh start (`interval`/`today` at a boundary, or a rolling window that
                // moved past its whole length): the counts at `start`, nothing held yet.
                let level = self.level_before(start);
                self.windows[i] = Integral {
                    start,
                    end: start,
                    level,
                    ..Integral::default()
                };
            } else if start > w.start {
                // A rolling window's left edge: changes leaving it make up its level.
                let (from, w) = (w.start, &mut self.windows[i]);
                for (&(at, s), &count) in self.changes.range((from, 0)..(start, 0)) {
                    w.level[s] += count;
                    w.held[s] -= count;
                    w.weighted[s] -= i128::from(count) * i128::from(at);
                }
                w.start = start;
            }
            let w = &mut self.windows[i];
            let end = now.max(w.end);
            for (&(at, s), &count) in self.changes.range((w.end, 0)..(end, 0)) {
                w.held[s] += count;
                w.weighted[s] += i128::from(count) * i128::from(at);
            }
            w.end = end;
        }
        let keep = rolling_start.min(now);
        while let Some(entry) = self.changes.first_entry() {
            if entry.key().0 >= keep {
                break;
            }
            let ((_, s), count) = entry.remove_entry();
            self.base[s] += count;
        }
        self.kept_from = self.kept_from.max(keep);
    }

    /// The counts just before `t` (`t` at or after `kept_from`).
    fn level_before(&self, t: Millis) -> [i64; 4] {
        debug_assert!(t >= self.kept_from, "the changes before {t} are forgotten");
        let mut level = self.base;
        for (&(_, s), &count) in self.changes.range(..(t, 0)) {
            level[s] += count;
        }
        level
    }

    /// Agent time of every window, in the queue's window order.
    pub fn times(&self) -> Vec<AgentTime> {
        self.windows.iter().map(Integral::time).collect()
    }

    /// Changes held in memory.
    pub fn changes_held(&self) -> usize {
        self.changes.len()
    }
}

#[cfg(test)]
#[path = "workforce_tests.rs"]
mod tests;
