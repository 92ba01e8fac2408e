//! Agents: each one's latest state and queue list, as its latest `agent.state` event says.
//!
//! State and queue list are tracked with their own timestamps (each agent's [`History`]), so an
//! event without `queues` arriving before an older event with `queues` gives the same result as
//! the in-order stream.
//! The table is bounded: past `max_agents`, agents logged out the longest are forgotten once no
//! late event can change them any more (a real center stays far below the bound; a producer
//! inventing agent names does not grow memory without end).

use std::collections::HashMap;

use crate::event::AgentState;
use crate::time::Millis;

use super::agent_history::{Delta, History, QueueList};
use super::queue::QueueId;

/// The change an event makes: the agent's (state, queues) before and after.
pub struct Change {
    pub before: (AgentState, Vec<QueueId>),
    pub after: (AgentState, Vec<QueueId>),
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Agents {
    by_name: HashMap<Box<str>, History>,
    /// After a scan that could not come down to 90 % of the bound (too many agents logged in,
    /// or logged out too recently): the table's size and `final_before` then. No new scan until
    /// the table grows by a tenth of the bound or [`RESCAN_AFTER`] more event time is final, so
    /// a center holding more logged-in agents than `max_agents` is not scanned on every tick.
    #[serde(skip)]
    stuck: Option<(usize, Millis)>,
    /// Scans made (the tests read it).
    #[cfg(test)]
    #[serde(skip)]
    scans: u64,
}

/// Event time after which a scan that could not forget enough is tried again.
const RESCAN_AFTER: Millis = 60_000;

impl Agents {
    /// Records an event; returns the change when the agent's latest state or queues moved, and
    /// pushes onto `deltas` the changes it makes to the agent counts of its queues over time
    /// (see [`History::record`]; `frontier`: no later event is older). Same-instant events for
    /// one agent resolve by a fixed order (greatest state; the list whose names hash higher),
    /// so the result never depends on arrival order.
    pub fn update(
        &mut self,
        name: &str,
        at: Millis,
        state: AgentState,
        queues: Option<QueueList>,
        frontier: Millis,
        deltas: &mut Vec<Delta>,
    ) -> Option<Change> {
        let agent = match self.by_name.get_mut(name) {
            Some(a) => a,
            None => self.by_name.entry(name.into()).or_default(),
        };
        let before = (agent.state(), agent.queues().to_vec());
        agent.record(at, state, queues, frontier, deltas);
        let after = (agent.state(), agent.queues().to_vec());
        (before != after).then_some(Change { before, after })
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// The queues `name` serves now (none for an agent not known).
    pub fn queues_of(&self, name: &str) -> &[QueueId] {
        self.by_name.get(name).map_or(&[], |a| a.queues())
    }

    /// When more than `max` agents are held, forgets the longest logged-out ones whose every
    /// event is before `final_before`, down to 90 % of `max` (so the scan is rare); returns how
    /// many were forgotten. Agents still logged in are never forgotten; a scan that cannot
    /// come down that far is not repeated before the table grows or more events are final.
    pub fn forget_logged_out(&mut self, max: usize, final_before: Millis) -> usize {
        let len = self.by_name.len();
        if len <= max {
            self.stuck = None;
            return 0;
        }
        if let Some((then_len, then_final)) = self.stuck {
            if len < then_len + max / 10 + 1 && final_before < then_final + RESCAN_AFTER {
                return 0;
            }
        }
        #[cfg(test)]
        {
            self.scans += 1;
        }
        let excess = len - max * 9 / 10;
        let mut idle: Vec<(Millis, &str)> = self
            .by_name
            .iter()
            .filter(|(_, a)| a.state() == AgentState::LoggedOut && a.last_at() < final_before)
            .map(|(name, a)| (a.last_at(), &**name))
            .collect();
        if idle.len() > excess {
            idle.select_nth_unstable(excess);
            idle.truncate(excess);
        }
        let forget: Vec<Box<str>> = idle.iter().map(|&(_, n)| n.into()).collect();
        for name in &forget {
            self.by_name.remove(name);
        }
        self.stuck = (forget.len() < excess).then_some((self.by_name.len(), final_before));
        forget.len()
    }

    /// How many times [`Agents::forget_logged_out`] scanned the table.
    #[cfg(test)]
    fn scans(&self) -> u64 {
        self.scans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_logged_in(n: usize) -> Agents {
        let mut agents = Agents::default();
        let mut deltas = Vec::new();
        for i in 0..n {
            let name = format!("a{i}");
            agents.update(&name, 0, AgentState::Available, None, 0, &mut deltas);
        }
        agents
    }

    #[test]
    fn more_logged_in_agents_than_the_bound_are_not_rescanned_on_every_tick() {
        let mut agents = with_logged_in(20);
        // two ticks a second for a minute of event time: nothing can be forgotten
        for tick in 0..120 {
            assert_eq!(agents.forget_logged_out(10, 1_000 + tick * 500), 0);
        }
        assert_eq!(
            agents.scans(),
            1,
            "one scan, then none until a minute is final"
        );
        agents.forget_logged_out(10, 1_000 + RESCAN_AFTER);
        assert_eq!(agents.scans(), 2, "a minute later, scanned again");
        // the table growing by a tenth of the bound is scanned again at once
        let mut deltas = Vec::new();
        agents.update("late", 70_000, AgentState::Available, None, 0, &mut deltas);
        agents.update("later", 70_000, AgentState::Available, None, 0, &mut deltas);
        agents.forget_logged_out(10, 1_000 + RESCAN_AFTER + 1);
        assert_eq!(agents.scans(), 3);
        assert_eq!(agents.len(), 22, "logged-in agents are never forgotten");
    }

    #[test]
    fn a_stuck_table_still_forgets_agents_as_soon_as_they_log_out() {
        let mut agents = with_logged_in(20);
        assert_eq!(agents.forget_logged_out(10, 1_000), 0);
        let mut deltas = Vec::new();
        for i in 0..15 {
            let name = format!("a{i}");
            agents.update(&name, 2_000, AgentState::LoggedOut, None, 0, &mut deltas);
        }
        // the logouts become final a minute after the first scan: all of them may go, the
        // oldest 11 do (down to 90 % of the bound)
        assert_eq!(agents.forget_logged_out(10, 1_000 + RESCAN_AFTER), 11);
        assert_eq!(agents.len(), 9);
    }
}
