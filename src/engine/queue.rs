//! One queue's time-ordered facts and the windows that slide over them.
//!
//! The timeline holds only facts a rolling window (or the not-yet-final counters) may still
//! need, so memory is bounded by what the rolling windows hold, not by window length × queues.
//! Every window keeps a running aggregate that facts enter at its right edge (`now`); rolling
//! windows drop them at their left edge, while `interval` and `today` start afresh at their
//! boundary and so never need a fact again once it is final — a busy day does not pile up in
//! memory. A fact corrected by a late event is removed from exactly the windows that hold it.

use std::collections::{BTreeSet, VecDeque};

use crate::config::{EngineConfig, QueueSettings};
use crate::event::AgentState;
use crate::kpi::{Fact, WindowAgg};
use crate::time::{Millis, MINUTE};

use super::workforce::Workforce;

pub type QueueId = u32;

/// A window's edges `[start, end)` and what it holds.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Window {
    start: Millis,
    end: Millis,
    agg: WindowAgg,
}

impl Window {
    fn holds(&self, at: Millis) -> bool {
        self.start <= at && at < self.end
    }
}

/// Which start rule a window follows.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Rolling(Millis),
    Interval,
    Today,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct QueueState {
    pub name: Box<str>,
    /// From the config (a checkpoint keeps neither these nor the window rules: see [`Self::restored`]).
    #[serde(skip)]
    pub settings: QueueSettings,
    timeline: VecDeque<Fact>,
    #[serde(skip)]
    rules: Vec<Rule>,
    windows: Vec<Window>,
    /// Facts before `cumulative.end` are final and counted in the cumulative counters.
    cumulative: Window,
    /// Local-clock window starts are recomputed once per UTC minute (zones move in whole minutes).
    calendar_minute: Millis,
    interval_start: Millis,
    today_start: Millis,
    /// Contacts waiting: (offered at, contact slot, leg).
    waiting: BTreeSet<(Millis, u32, u16)>,
    /// Agents serving this queue, by exported state.
    pub agents: [i64; 4],
    /// Agent time by state in each window.
    pub workforce: Workforce,
}

/// The start rules of a queue's windows: the rolling windows, then `interval` and `today`.
fn rules(engine: &EngineConfig) -> Vec<Rule> {
    let mut rules: Vec<Rule> = engine
        .windows
        .iter()
        .map(|w| Rule::Rolling(w.span.millis()))
        .collect();
    rules.push(Rule::Interval);
    rules.push(Rule::Today);
    rules
}

impl QueueState {
    pub fn new(name: &str, settings: QueueSettings, engine: &EngineConfig, now: Millis) -> Self {
        let rules = rules(engine);
        let mut q = QueueState {
            name: name.into(),
            settings,
            timeline: VecDeque::new(),
            windows: vec![Window::default(); rules.len()],
            rules,
            cumulative: Window {
                start: Millis::MIN,
                end: Millis::MIN,
                agg: WindowAgg::default(),
            },
            calendar_minute: Millis::MIN,
            interval_start: 0,
            today_start: 0,
            waiting: BTreeSet::new(),
            agents: [0; 4],
            workforce: Workforce::default(),
        };
        let (starts, _) = q.starts(now, engine);
        q.workforce = Workforce::new(&starts, now);
        for (w, s) in q.windows.iter_mut().zip(starts) {
            w.start = s;
            w.end = now;
        }
        q
    }

    /// Takes back the settings and window rules a checkpoint leaves out (the checkpoint's
    /// config fingerprint guarantees they are the ones its windows were built with).
    pub fn restored(&mut self, settings: QueueSettings, engine: &EngineConfig) {
        self.settings = settings;
        self.rules = rules(engine);
    }

    /// Every window's start at `now`, and the earliest start of a rolling window (`now` when
    /// there is none).
    fn starts(&mut self, now: Millis, engine: &EngineConfig) -> (Vec<Millis>, Millis) {
        let minute = now.div_euclid(MINUTE);
        if minute != self.calendar_minute {
            self.calendar_minute = minute;
            self.interval_start = self.settings.clock.interval_start(now, engine.interval);
            self.today_start = self.settings.clock.day_start_before(now);
        }
        let starts: Vec<Millis> = self
            .rules
            .iter()
            .map(|r| match *r {
                Rule::Rolling(span) => now.saturating_sub(span),
                Rule::Interval => self.interval_start,
                Rule::Today => self.today_start,
            })
            .collect();
        let rolling_min = self
            .rules
            .iter()
            .zip(&starts)
            .filter(|(r, _)| matches!(r, Rule::Rolling(_)))
            .map(|(_, &s)| s)
            .min()
            .unwrap_or(now);
        (starts, rolling_min)
    }

    /// Adds (`sign = 1`) or removes (`sign = -1`) one fact everywhere it belongs.
    pub fn apply(&mut self, fact: Fact, sign: i64) {
        if sign > 0 {
            let pos = self.insert_position(fact.at);
            self.timeline.insert(pos, fact);
        } else {
            match self.position_of(&fact) {
                Some(i) => {
                    self.timeline.remove(i);
                }
                // Pruned: it was final (before the frontier, so no event can correct it) and
                // lies before every rolling window.
                None => return,
            }
        }
        for w in self
            .windows
            .iter_mut()
            .chain(std::iter::once(&mut self.cumulative))
        {
            if w.holds(fact.at) {
                w.agg.apply(&fact.kind, sign);
            }
        }
    }

    /// Where a fact at `at` goes: after every fact at or before it. New facts land near the
    /// end (only SL decisions of contacts still waiting lie ahead), so look there first.
    fn insert_position(&self, at: Millis) -> usize {
        let len = self.timeline.len();
        for back in 0..len.min(32) {
            if self.timeline[len - 1 - back].at <= at {
                return len - back;
            }
        }
        self.timeline.partition_point(|f| f.at <= at)
    }

    /// Where `fact` is held, if it is. Corrected facts are recent: look near the end first.
    fn position_of(&self, fact: &Fact) -> Option<usize> {
        let len = self.timeline.len();
        for back in 1..=len.min(64) {
            let f = &self.timeline[len - back];
            if f == fact {
                return Some(len - back);
            }
            if f.at < fact.at {
                return None;
            }
        }
        let from = self.timeline.partition_point(|f| f.at < fact.at);
        self.timeline
            .range(from..)
            .take_while(|f| f.at == fact.at)
            .position(|f| f == fact)
            .map(|i| from + i)
    }

    /// Moves every window to `now`, the cumulative counters to `final_before`, and drops facts
    /// nothing needs any more.
    pub fn advance(&mut self, now: Millis, final_before: Millis, engine: &EngineConfig) {
        let (starts, rolling_start) = self.starts(now, engine);
        self.workforce.advance(&starts, now, rolling_start);
        let timeline = &self.timeline;
        for ((w, start), rule) in self.windows.iter_mut().zip(starts).zip(&self.rules) {
            let start = start.max(w.start);
            if !matches!(rule, Rule::Rolling(_)) && start > w.start {
                // `interval` / `today` reached its boundary: it starts afresh. Its start moves
                // only to a boundary after the previous `now`, so it held nothing that stays,
                // and every fact from the boundary on is still in the timeline (see below).
                debug_assert!(start >= w.end, "{} restarts inside itself", self.name);
                *w = Window {
                    start,
                    end: start,
                    agg: WindowAgg::default(),
                };
            }
            slide(timeline, w, start, now.max(w.end));
        }
        let cum_end = final_before.min(now).max(self.cumulative.end);
        slide(timeline, &mut self.cumulative, Millis::MIN, cum_end);
        // Kept: what rolling windows hold, and everything not final (a late event may still
        // correct it). Both lie at or before `now`, so facts from a coming interval or day
        // boundary on are never dropped before that boundary is reached.
        let keep_from = rolling_start.min(self.cumulative.end);
        while self.timeline.front().is_some_and(|f| f.at < keep_from) {
            self.timeline.pop_front();
        }
    }

    pub fn wait_started(&mut self, t0: Millis, slot: u32, leg: u16) {
        self.waiting.insert((t0, slot, leg));
    }

    pub fn wait_ended(&mut self, t0: Millis, slot: u32, leg: u16) {
        self.waiting.remove(&(t0, slot, leg));
    }

    /// Contacts waiting at `now` and how long the oldest has waited (ms).
    pub fn waiting_at(&self, now: Millis) -> (i64, Millis) {
        let before = self.waiting.range(..(now, 0, 0));
        let count = before.clone().count() as i64;
        let oldest = self
            .waiting
            .first()
            .filter(|w| w.0 < now)
            .map_or(0, |w| now - w.0);
        (count, oldest)
    }

    pub fn agent_moved(&mut self, from: AgentState, to: AgentState) {
        if let Some(i) = exported_index(from) {
            self.agents[i] -= 1;
        }
        if let Some(i) = exported_index(to) {
            self.agents[i] += 1;
        }
    }

    /// The windows in export order: rolling as configured, then `interval`, then `today`.
    pub fn windows(&self) -> impl Iterator<Item = &WindowAgg> {
        self.windows.iter().map(|w| &w.agg)
    }

    pub fn cumulative(&self) -> &WindowAgg {
        &self.cumulative.agg
    }

    /// Facts held in memory (for self-metrics and the memory benchmark).
    pub fn facts_held(&self) -> usize {
        self.timeline.len() + self.workforce.changes_held()
    }
}

pub fn exported_index(state: AgentState) -> Option<usize> {
    AgentState::EXPORTED.iter().position(|s| *s == state)
}

/// Moves a window from `[w.start, w.end)` to `[start, end)` (both edges only move forward).
fn slide(timeline: &VecDeque<Fact>, w: &mut Window, start: Millis, end: Millis) {
    let idx = |t: Millis| timeline.partition_point(|f| f.at < t);
    // leaving: [old start, min(new start, old end))
    let leave_to = start.min(w.end);
    if w.start < leave_to {
        for f in timeline.range(idx(w.start)..idx(leave_to)) {
            w.agg.apply(&f.kind, -1);
        }
    }
    // entering: [max(old end, new start), new end)
    let enter_from = w.end.max(start);
    if enter_from < end {
        for f in timeline.range(idx(enter_from)..idx(end)) {
            w.agg.apply(&f.kind, 1);
        }
    }
    w.start = start;
    w.end = end;
}
