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

use super::history::{Delta, History, QueueList};
use super::queue::QueueId;

/// The change an event makes: the agent's (state, queues) before and after.
pub struct Change {
    pub before: (AgentState, Vec<QueueId>),
    pub after: (AgentState, Vec<QueueId>),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Agents {
    by_name: HashMap<Box<str>, History>,
}

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

    /// When more than `max` agents are held, forgets the longest logged-out ones whose every
    /// event is before `final_before`, down to 90 % of `max` (so the scan is rare); returns how
    /// many were forgotten. Agents still logged in are never forgotten.
    pub fn forget_logged_out(&mut self, max: usize, final_before: Millis) -> usize {
        if self.by_name.len() <= max {
            return 0;
        }
        let excess = self.by_name.len() - max * 9 / 10;
        let mut idle: Vec<(Millis, &str)> = self
            .by_name
            .iter()
            .filter(|(_, a)| a.state() == AgentState::LoggedOut && a.last_at() < final_before)
            .map(|(name, a)| (a.last_at(), &**name))
            .collect();
        idle.sort_unstable();
        let forget: Vec<Box<str>> = idle.iter().take(excess).map(|&(_, n)| n.into()).collect();
        for name in &forget {
            self.by_name.remove(name);
        }
        forget.len()
    }
}
