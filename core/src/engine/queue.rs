//! One queue's time-ordered facts and the windows that slide over them.
//!
//! The timeline holds only facts a rolling window (or the not-yet-final counters) may still
//! need, so memory is bounded by what the rolling windows hold, not by window length × queues.
//! It is two time-ordered lines: facts at the instant of their event, and facts decided at a
//! deadline after it (a service level missed once the threshold passed, a customer lost once
//! `callback_window` passed). Events mostly come in time order, so each line is appended to
//! at its end, where a single line would insert every new fact before the deadlines still
//! ahead; a fact is found from the end, where the recent ones are.
//!
//! Every window keeps a running aggregate that facts enter at its right edge (`now`); rolling
//! windows drop them at their left edge, while `interval` and `today` start afresh at their
//! boundary and so never need a fact again once it is final — a busy day does not pile up in
//! memory. A fact corrected by a late event is removed from exactly the windows that hold it.

use std::collections::{BTreeSet, VecDeque};

use crate::event::AgentState;
use crate::kpi::{
    Aggregate, BoundCounts, Cumulative, Distribution, Durations, Fact, FactKind, SlOutcome,
    WindowAgg,
};
use crate::settings::{EngineConfig, QueueSettings};
use crate::time::{Millis, MINUTE};

use super::workforce::Workforce;

pub type QueueId = u32;

/// A window's edges `[start, end)` and what it holds (the final counters are one too, with
/// durations kept at the histograms' bounds).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Window<D = Distribution> {
    start: Millis,
    end: Millis,
    agg: Aggregate<D>,
}

impl<D> Window<D> {
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

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct QueueState {
    pub name: Box<str>,
    /// From the config (a checkpoint keeps neither these nor the window rules: see [`Self::restored`]).
    #[serde(skip)]
    pub settings: QueueSettings,
    /// Facts at their event's instant.
    timeline: VecDeque<Fact>,
    /// Facts decided at a deadline after their event (see [`is_deadline`]).
    deadlines: VecDeque<Fact>,
    #[serde(skip)]
    rules: Vec<Rule>,
    windows: Vec<Window>,
    /// Facts before `cumulative.end` are final and counted in the cumulative counters.
    cumulative: Window<BoundCounts>,
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
    /// The latest event time that named this queue.
    pub last_named: Millis,
    /// Forgotten (an idle queue that was not configured, when `max_queues` was reached): no
    /// longer exported, its name free; what still refers to its id changes nothing.
    pub retired: bool,
}

/// The start rules of the windows the engine keeps ([`EngineConfig::keeps`]): the rolling
/// windows, then `interval` and `today`.
fn rules(engine: &EngineConfig) -> Vec<Rule> {
    let mut rules: Vec<Rule> = engine
        .windows
        .iter()
        .filter(|w| engine.keeps(&w.label))
        .map(|w| Rule::Rolling(w.span.millis()))
        .collect();
    rules.extend(engine.keeps("interval").then_some(Rule::Interval));
    rules.extend(engine.keeps("today").then_some(Rule::Today));
    rules
}

impl QueueState {
    pub fn new(name: &str, settings: QueueSettings, engine: &EngineConfig, now: Millis) -> Self {
        let rules = rules(engine);
        let mut q = QueueState {
            name: name.into(),
            settings,
            timeline: VecDeque::new(),
            deadlines: VecDeque::new(),
            windows: vec![Window::default(); rules.len()],
            rules,
            cumulative: Window {
                start: Millis::MIN,
                end: Millis::MIN,
                agg: Cumulative::default(),
            },
            calendar_minute: Millis::MIN,
            interval_start: 0,
            today_start: 0,
            waiting: BTreeSet::new(),
            agents: [0; 4],
            workforce: Workforce::default(),
            last_named: now,
            retired: false,
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
        if self.retired {
            return;
        }
        let line = if is_deadline(&fact.kind) {
            &mut self.deadlines
        } else {
            &mut self.timeline
        };
        if sign > 0 {
            // after every fact at or before it
            let pos = search_from_end(line, |f| f.at <= fact.at);
            line.insert(pos, fact);
        } else {
            let from = search_from_end(line, |f| f.at < fact.at);
            let found = (from..line.len())
                .take_while(|&i| line[i].at == fact.at)
                .find(|&i| line[i] == fact);
            match found {
                Some(i) => {
                    line.remove(i);
                }
                // Pruned: it was final (before the frontier, so no event can correct it) and
                // lies before every rolling window.
                None => return,
            }
        }
        for w in &mut self.windows {
            if w.holds(fact.at) {
                w.agg.apply(&fact.kind, sign);
            }
        }
        if self.cumulative.holds(fact.at) {
            self.cumulative.agg.apply(&fact.kind, sign);
        }
    }

    /// Moves every window to `now`, the cumulative counters to `final_before`, and drops facts
    /// nothing needs any more.
    pub fn advance(&mut self, now: Millis, final_before: Millis, engine: &EngineConfig) {
        let (starts, rolling_start) = self.starts(now, engine);
        self.workforce.advance(&starts, now, rolling_start);
        let lines = [&self.timeline, &self.deadlines];
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
            slide(lines, w, start, now.max(w.end));
        }
        let cum_end = final_before.min(now).max(self.cumulative.end);
        slide(lines, &mut self.cumulative, Millis::MIN, cum_end);
        // Kept: what rolling windows hold, and everything not final (a late event may still
        // correct it). Both lie at or before `now`, so facts from a coming interval or day
        // boundary on are never dropped before that boundary is reached.
        let keep_from = rolling_start.min(self.cumulative.end);
        for line in [&mut self.timeline, &mut self.deadlines] {
            while line.front().is_some_and(|f| f.at < keep_from) {
                line.pop_front();
            }
        }
    }

    pub fn wait_started(&mut self, t0: Millis, slot: u32, leg: u16) {
        self.waiting.insert((t0, slot, leg));
    }

    pub fn wait_ended(&mut self, t0: Millis, slot: u32, leg: u16) {
        self.waiting.remove(&(t0, slot, leg));
    }

    /// The contacts waiting at `now`, oldest first: (offered at, contact slot, leg).
    pub fn waiting_before(&self, now: Millis) -> impl Iterator<Item = &(Millis, u32, u16)> {
        self.waiting.range(..(now, 0, 0))
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

    pub fn cumulative(&self) -> &Cumulative {
        &self.cumulative.agg
    }

    /// Whether nothing of it is live or held: no contact waiting, no agent serving it, no fact
    /// a window may still need.
    pub fn is_quiet(&self) -> bool {
        self.waiting.is_empty() && self.agents == [0; 4] && self.facts_held() == 0
    }

    /// Forgets the queue: its memory is released and it is no longer exported.
    pub fn retire(&mut self) {
        self.retired = true;
        self.timeline = VecDeque::new();
        self.deadlines = VecDeque::new();
        self.windows = Vec::new();
        self.rules = Vec::new();
        self.waiting = BTreeSet::new();
        self.workforce = Workforce::default();
    }

    /// Facts held in memory (for self-metrics and the memory benchmark).
    pub fn facts_held(&self) -> usize {
        self.timeline.len() + self.deadlines.len() + self.workforce.changes_held()
    }
}

pub fn exported_index(state: AgentState) -> Option<usize> {
    AgentState::EXPORTED.iter().position(|s| *s == state)
}

/// Whether a fact is decided at a deadline after its event rather than at its event.
fn is_deadline(kind: &FactKind) -> bool {
    matches!(kind, FactKind::Sl(SlOutcome::Missed) | FactKind::Lost)
}

/// The number of facts of `line` (sorted by time) for which `before` holds, which holds for a
/// prefix: found from the end in O(log d) for a boundary d facts from the end.
fn search_from_end(line: &VecDeque<Fact>, before: impl Fn(&Fact) -> bool) -> usize {
    let len = line.len();
    // gallop back from the end until a fact that is before
    let (mut lo, mut hi) = (len, len);
    let mut step = 1;
    while lo > 0 {
        let probe = lo.saturating_sub(step);
        if before(&line[probe]) {
            lo = probe + 1;
            break;
        }
        hi = probe;
        lo = probe;
        step *= 2;
    }
    // the boundary lies in [lo, hi]: facts before lo are before, from hi on are not
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(&line[mid]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The number of facts of `line` before `t`, searched from the end nearer in time (window
/// edges lie near one end or the other: O(log d) for d facts from it).
fn facts_before(line: &VecDeque<Fact>, t: Millis) -> usize {
    let (Some(first), Some(last)) = (line.front(), line.back()) else {
        return 0;
    };
    if first.at >= t {
        0
    } else if last.at < t {
        line.len()
    } else if t.saturating_sub(first.at) < last.at.saturating_sub(t) {
        // gallop forward from the front to a fact at or after `t`, then bisect
        let (mut lo, mut hi) = (0, 1);
        while hi < line.len() && line[hi].at < t {
            lo = hi;
            hi = (hi * 2).min(line.len());
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if line[mid].at < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    } else {
        search_from_end(line, |f| f.at < t)
    }
}

/// Facts a run of updates asks the cache for ahead of applying them: enough to keep several
/// memory reads in flight at once (the counts of busy queues' distributions are rarely cached).
const PREFETCH_AHEAD: usize = 16;

/// Adds or removes the facts `range` of `line` to or from `agg`.
fn apply_run<D: Durations>(
    line: &VecDeque<Fact>,
    range: std::ops::Range<usize>,
    agg: &mut Aggregate<D>,
    sign: i64,
) {
    for i in range.clone() {
        if i + PREFETCH_AHEAD < range.end {
            agg.prefetch(&line[i + PREFETCH_AHEAD].kind);
        }
        agg.apply(&line[i].kind, sign);
    }
}

/// Moves a window from `[w.start, w.end)` to `[start, end)` (both edges only move forward),
/// over the facts of both lines.
fn slide<D: Durations>(lines: [&VecDeque<Fact>; 2], w: &mut Window<D>, start: Millis, end: Millis) {
    for timeline in lines {
        let idx = |t: Millis| facts_before(timeline, t);
        // leaving: [old start, min(new start, old end))
        let leave_to = start.min(w.end);
        if w.start < leave_to {
            apply_run(timeline, idx(w.start)..idx(leave_to), &mut w.agg, -1);
        }
        // entering: [max(old end, new start), new end)
        let enter_from = w.end.max(start);
        if enter_from < end {
            apply_run(timeline, idx(enter_from)..idx(end), &mut w.agg, 1);
        }
    }
    w.start = start;
    w.end = end;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_from_end_finds_every_boundary() {
        for len in 0..40 {
            let line: VecDeque<Fact> = (0..len)
                .map(|i| Fact {
                    at: i as Millis / 3,
                    kind: FactKind::Offered,
                })
                .collect();
            for t in -1..15 {
                let want = line.iter().filter(|f| f.at <= t).count();
                assert_eq!(search_from_end(&line, |f| f.at <= t), want, "{len} {t}");
                let want = line.iter().filter(|f| f.at < t).count();
                assert_eq!(search_from_end(&line, |f| f.at < t), want, "{len} {t}");
                assert_eq!(facts_before(&line, t), want, "{len} {t}");
            }
        }
    }
}
