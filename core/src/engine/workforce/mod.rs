//! One queue's agent time: how many agents serve it in each state as a step function of event
//! time (its changes, from `engine/agent_history.rs`), and each window's exact integral of it
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
//! edge. `interval` and `today` start afresh at a boundary after the previous `now`, with
//! `level` = the counts after every change (`total`) minus the changes from the boundary on
//! (few: they are recent), and need no change one by one after that. Cost per change:
//! O(windows), plus an insertion into a time-ordered deque that is O(1) in order (a late
//! change shifts only the changes after it); one entry (24 bytes) per (instant, state) for as
//! long as the longest rolling window.

use std::collections::VecDeque;

use crate::kpi::AgentTime;
use crate::time::Millis;

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
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

/// The net change of the count of agents in `state` at instant `at`.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Change {
    at: Millis,
    state: usize,
    count: i64,
}

/// Agent time of one queue in each of its windows (same order as the queue's windows).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Workforce {
    /// Net changes of the counts, none zero, sorted by (instant, state), one per pair, every
    /// one at or after `kept_from`.
    changes: VecDeque<Change>,
    /// The counts after every change (the net of all changes ever applied).
    total: [i64; 4],
    kept_from: Millis,
    windows: Vec<Integral>,
}

impl Workforce {
    /// Windows starting at `starts` and ending at `now`, holding nothing yet.
    pub fn new(starts: &[Millis], now: Millis) -> Self {
        Workforce {
            changes: VecDeque::new(),
            total: [0; 4],
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
        self.total[state] += count;
        if at < self.kept_from {
            // Only a change older than every rolling window can land here: no window slides
            // over it any more, and `total` carries it into every later boundary.
            return;
        }
        let key = (at, state);
        let len = self.changes.len();
        // In order, a change lands at the end: look there first.
        let pos = (0..len.min(32))
            .map(|back| len - back)
            .find(|&i| (self.changes[i - 1].at, self.changes[i - 1].state) <= key)
            .unwrap_or_else(|| self.changes.partition_point(|c| (c.at, c.state) <= key));
        match pos.checked_sub(1).map(|i| (i, self.changes[i])) {
            Some((i, c)) if (c.at, c.state) == key => {
                if c.count + count == 0 {
                    self.changes.remove(i);
                } else {
                    self.changes[i].count += count;
                }
            }
            _ => self.changes.insert(pos, Change { at, state, count }),
        }
    }

    /// Where the first change at or after `t` is held. Searched from the end, galloping:
    /// window edges lie near it (`now`, the previous `now`, short windows' starts).
    fn index(&self, t: Millis) -> usize {
        let at = |i: usize| self.changes[i].at;
        // every change from `hi` on is at or after `t`
        let (mut hi, mut step) = (self.changes.len(), 1);
        while hi > 0 {
            let probe = hi.saturating_sub(step);
            if at(probe) < t {
                // the first one at or after `t` is in (probe, hi]
                let (mut a, mut b) = (probe + 1, hi);
                while a < b {
                    let m = a + (b - a) / 2;
                    if at(m) < t {
                        a = m + 1;
                    } else {
                        b = m;
                    }
                }
                return a;
            }
            hi = probe;
            step *= 2;
        }
        0
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
                let range = self.index(w.start)..self.index(start);
                let w = &mut self.windows[i];
                for c in self.changes.range(range) {
                    w.level[c.state] += c.count;
                    w.held[c.state] -= c.count;
                    w.weighted[c.state] -= i128::from(c.count) * i128::from(c.at);
                }
                w.start = start;
            }
            let end = now.max(self.windows[i].end);
            let range = self.index(self.windows[i].end)..self.index(end);
            let w = &mut self.windows[i];
            for c in self.changes.range(range) {
                w.held[c.state] += c.count;
                w.weighted[c.state] += i128::from(c.count) * i128::from(c.at);
            }
            w.end = end;
        }
        let keep = rolling_start.min(now);
        while self.changes.front().is_some_and(|c| c.at < keep) {
            self.changes.pop_front();
        }
        self.kept_from = self.kept_from.max(keep);
    }

    /// The counts just before `t` (`t` at or after `kept_from`, so every change from `t` on
    /// is still held).
    fn level_before(&self, t: Millis) -> [i64; 4] {
        debug_assert!(t >= self.kept_from, "the changes before {t} are forgotten");
        let mut level = self.total;
        for c in self.changes.range(self.index(t)..) {
            level[c.state] -= c.count;
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
mod tests;
