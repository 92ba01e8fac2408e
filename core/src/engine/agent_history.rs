//! One agent's recent history — its states and queue lists by event time, as far back as a late
//! event can still reach — and the changes an `agent.state` event makes to the number of agents
//! serving each queue in each state (what `engine/workforce/` integrates).
//!
//! An agent's state holds from its event until its next one, and its queue list likewise (an
//! event without `queues` keeps the list). At one instant the greatest state wins, and of two
//! lists the one whose names hash higher, so the result never depends on arrival order. A late
//! event rewrites the agent's counts from its instant up to the agent's next changes; the
//! changes are computed as (counts after) minus (counts before) over exactly that span.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::event::AgentState;
use crate::time::Millis;

use super::queue::{exported_index, QueueId};

/// From `at` on, `count` more agents (fewer when negative) serve `queue` in `state` (an index
/// into `AgentState::EXPORTED`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Delta {
    pub at: Millis,
    pub queue: QueueId,
    pub state: usize,
    pub count: i64,
}

/// A queue list as an event gave it: sorted, without repeats, with the order-independent key
/// that decides between two lists of one instant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueList {
    pub key: u64,
    pub queues: Vec<QueueId>,
}

impl QueueList {
    /// `ids[i]` is the queue named `names[i]`.
    pub fn new<S: AsRef<str>>(names: &[S], ids: Vec<QueueId>) -> QueueList {
        let mut sorted: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut h = DefaultHasher::new();
        sorted.hash(&mut h);
        let mut queues = ids;
        queues.sort_unstable();
        queues.dedup();
        QueueList {
            key: h.finish(),
            queues,
        }
    }
}

/// An agent's states and queue lists, each sorted by time with one entry per instant.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct History {
    states: Vec<(Millis, AgentState)>,
    lists: Vec<(Millis, QueueList)>,
}

impl History {
    /// The latest state (logged out before any event).
    pub fn state(&self) -> AgentState {
        self.states.last().map_or(AgentState::LoggedOut, |e| e.1)
    }

    /// The latest queue list (none before any event naming one).
    pub fn queues(&self) -> &[QueueId] {
        self.lists.last().map_or(&[], |e| &e.1.queues)
    }

    /// The instant of the latest event.
    pub fn last_at(&self) -> Millis {
        let s = self.states.last().map_or(Millis::MIN, |e| e.0);
        let l = self.lists.last().map_or(Millis::MIN, |e| e.0);
        s.max(l)
    }

    /// Records an event at `at`, pushes the count changes it makes onto `out` (sorted, net,
    /// none zero), and forgets what no event at or after `frontier` can need: every entry but
    /// the latest before `frontier` and those after it. Cost: O(k · q) for the agent's k
    /// changes from `at` on (1 for an event in order) and its q queues.
    pub fn record(
        &mut self,
        at: Millis,
        state: AgentState,
        list: Option<QueueList>,
        frontier: Millis,
        out: &mut Vec<Delta>,
    ) {
        let mut changes = Vec::new();
        self.deltas_from(at, -1, &mut changes);
        let i = self.states.partition_point(|e| e.0 < at);
        match self.states.get_mut(i) {
            Some(e) if e.0 == at => e.1 = e.1.max(state),
            _ => self.states.insert(i, (at, state)),
        }
        if let Some(list) = list {
            let i = self.lists.partition_point(|e| e.0 < at);
            match self.lists.get_mut(i) {
                Some(e) if e.0 == at => {
                    if list.key > e.1.key {
                        e.1 = list;
                    }
                }
                _ => self.lists.insert(i, (at, list)),
            }
        }
        self.deltas_from(at, 1, &mut changes);
        changes.sort_unstable_by_key(|d| (d.at, d.queue, d.state));
        let mut merged: Vec<Delta> = Vec::with_capacity(changes.len());
        for d in changes {
            match merged.last_mut() {
                Some(m) if (m.at, m.queue, m.state) == (d.at, d.queue, d.state) => {
                    m.count += d.count
                }
                _ => merged.push(d),
            }
        }
        out.extend(merged.into_iter().filter(|d| d.count != 0));
        forget_before(&mut self.states, frontier);
        forget_before(&mut self.lists, frontier);
    }

    /// The count changes at every change of state or list from `at` on, times `sign`.
    fn deltas_from(&self, at: Millis, sign: i64, out: &mut Vec<Delta>) {
        let s = self.states.partition_point(|e| e.0 < at);
        let l = self.lists.partition_point(|e| e.0 < at);
        let mut times: Vec<Millis> = self.states[s..]
            .iter()
            .map(|e| e.0)
            .chain(self.lists[l..].iter().map(|e| e.0))
            .collect();
        times.sort_unstable();
        times.dedup();
        for t in times {
            let (s0, l0) = self.value(t, false);
            let (s1, l1) = self.value(t, true);
            let mut push = |queues: &[QueueId], state: AgentState, count: i64| {
                if let Some(state) = exported_index(state) {
                    out.extend(queues.iter().map(|&queue| Delta {
                        at: t,
                        queue,
                        state,
                        count: count * sign,
                    }));
                }
            };
            push(l0, s0, -1);
            push(l1, s1, 1);
        }
    }

    /// State and list in force just before `t`, or at `t` (`at = true`).
    fn value(&self, t: Millis, at: bool) -> (AgentState, &[QueueId]) {
        let upto = |x: Millis| if at { x <= t } else { x < t };
        let s = self.states.partition_point(|e| upto(e.0));
        let l = self.lists.partition_point(|e| upto(e.0));
        let state = s
            .checked_sub(1)
            .map_or(AgentState::LoggedOut, |i| self.states[i].1);
        let queues = l
            .checked_sub(1)
            .map_or(&[][..], |i| &self.lists[i].1.queues);
        (state, queues)
    }
}

/// Drops the entries before the latest one that is before `frontier`.
fn forget_before<T>(entries: &mut Vec<(Millis, T)>, frontier: Millis) {
    let before = entries.partition_point(|e| e.0 < frontier);
    if before > 1 {
        entries.drain(..before - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentState::*;

    fn list(ids: &[QueueId]) -> Option<QueueList> {
        let names: Vec<String> = ids.iter().map(|i| format!("q{i}")).collect();
        Some(QueueList::new(&names, ids.to_vec()))
    }

    fn record(h: &mut History, at: Millis, s: AgentState, l: Option<QueueList>) -> Vec<Delta> {
        let mut out = Vec::new();
        h.record(at, s, l, Millis::MIN, &mut out);
        out
    }

    fn d(at: Millis, queue: QueueId, state: AgentState, count: i64) -> Delta {
        let state = exported_index(state).unwrap();
        Delta {
            at,
            queue,
            state,
            count,
        }
    }

    #[test]
    fn in_order_events_change_counts_at_their_instant() {
        let mut h = History::default();
        assert_eq!(
            record(&mut h, 10, Available, list(&[0, 1])),
            vec![d(10, 0, Available, 1), d(10, 1, Available, 1)]
        );
        assert_eq!(
            record(&mut h, 20, Busy, None),
            vec![
                d(20, 0, Available, -1),
                d(20, 0, Busy, 1),
                d(20, 1, Available, -1),
                d(20, 1, Busy, 1)
            ]
        );
        // a list change alone moves only the queues that changed
        assert_eq!(
            record(&mut h, 30, Busy, list(&[1, 2])),
            vec![d(30, 0, Busy, -1), d(30, 2, Busy, 1)]
        );
        assert_eq!(
            record(&mut h, 40, LoggedOut, None),
            vec![d(40, 1, Busy, -1), d(40, 2, Busy, -1)]
        );
        assert!(record(&mut h, 50, LoggedOut, None).is_empty());
        assert_eq!((h.state(), h.queues()), (LoggedOut, &[1, 2][..]));
    }

    #[test]
    fn a_late_event_splits_the_span_it_falls_into() {
        let mut h = History::default();
        record(&mut h, 10, Available, list(&[0]));
        record(&mut h, 50, NotReady, None);
        // busy from 30 until the not_ready at 50 already known
        assert_eq!(
            record(&mut h, 30, Busy, None),
            vec![
                d(30, 0, Available, -1),
                d(30, 0, Busy, 1),
                d(50, 0, Available, 1),
                d(50, 0, Busy, -1),
            ]
        );
        // a late list change before everything moves every later span to the new queue
        assert_eq!(
            record(&mut h, 20, Available, list(&[3])),
            vec![
                d(20, 0, Available, -1),
                d(20, 3, Available, 1),
                d(30, 0, Available, 1),
                d(30, 0, Busy, -1),
                d(30, 3, Available, -1),
                d(30, 3, Busy, 1),
                d(50, 0, NotReady, -1),
                d(50, 0, Busy, 1),
                d(50, 3, NotReady, 1),
                d(50, 3, Busy, -1),
            ]
        );
    }

    #[test]
    fn same_instant_events_resolve_the_same_in_any_order() {
        let a = [
            (10, Available, list(&[0])),
            (10, Busy, None),
            (10, Available, list(&[1])),
        ];
        let mut totals = Vec::new();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut h = History::default();
            let mut all = Vec::new();
            for i in order {
                let (t, s, l) = a[i].clone();
                all.extend(record(&mut h, t, s, l));
            }
            let mut net: Vec<(Millis, QueueId, usize, i64)> = Vec::new();
            all.sort();
            for x in all {
                match net.last_mut() {
                    Some(n) if (n.0, n.1, n.2) == (x.at, x.queue, x.state) => n.3 += x.count,
                    _ => net.push((x.at, x.queue, x.state, x.count)),
                }
            }
            net.retain(|n| n.3 != 0);
            totals.push((net, h.state(), h.queues().to_vec()));
        }
        assert_eq!(totals[0], totals[1]);
        assert_eq!(totals[0], totals[2]);
        assert_eq!(totals[0].1, Busy);
    }

    #[test]
    fn forgets_all_but_the_latest_entry_before_the_frontier() {
        let mut h = History::default();
        let mut out = Vec::new();
        for t in [10, 20, 30] {
            h.record(t, Available, list(&[0]), Millis::MIN, &mut out);
        }
        h.record(40, Busy, None, 30, &mut out);
        assert_eq!(
            h.states.iter().map(|e| e.0).collect::<Vec<_>>(),
            [20, 30, 40]
        );
        assert_eq!(h.lists.iter().map(|e| e.0).collect::<Vec<_>>(), [20, 30]);
        // an event at the frontier still finds the state before it
        out.clear();
        h.record(30, NotReady, None, 30, &mut out);
        assert_eq!(
            out,
            vec![
                d(30, 0, Available, -1),
                d(30, 0, NotReady, 1),
                d(40, 0, Available, 1),
                d(40, 0, NotReady, -1),
            ]
        );
    }
}
