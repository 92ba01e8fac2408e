//! Agents: each one's latest state and queue list, as its latest `agent.state` event says.
//!
//! State and queue list are tracked with their own timestamps, so an event without `queues`
//! arriving before an older event with `queues` gives the same result as the in-order stream.
//! The table is bounded: past `max_agents`, agents logged out the longest are forgotten once no
//! late event can change them any more (a real center stays far below the bound; a producer
//! inventing agent names does not grow memory without end).

use std::collections::HashMap;

use crate::event::AgentState;
use crate::time::Millis;

use super::queue::QueueId;

#[derive(Debug)]
pub struct Agent {
    pub state: AgentState,
    state_key: (Millis, AgentState),
    pub queues: Vec<QueueId>,
    queues_key: (Millis, Vec<QueueId>),
}

/// The change an event makes: the agent's (state, queues) before and after.
pub struct Change {
    pub before: (AgentState, Vec<QueueId>),
    pub after: (AgentState, Vec<QueueId>),
}

#[derive(Debug, Default)]
pub struct Agents {
    by_name: HashMap<Box<str>, Agent>,
}

impl Agents {
    /// Records an event; returns the change when the agent's effective state or queues moved.
    /// Same-instant events for one agent resolve by a fixed order (state, then queue list), so
    /// the result never depends on arrival order.
    pub fn update(
        &mut self,
        name: &str,
        at: Millis,
        state: AgentState,
        queues: Option<Vec<QueueId>>,
    ) -> Option<Change> {
        let agent = match self.by_name.get_mut(name) {
            Some(a) => a,
            None => self.by_name.entry(name.into()).or_insert(Agent {
                state: AgentState::LoggedOut,
                state_key: (Millis::MIN, AgentState::LoggedOut),
                queues: Vec::new(),
                queues_key: (Millis::MIN, Vec::new()),
            }),
        };
        let before = (agent.state, agent.queues.clone());
        if (at, state) > agent.state_key {
            agent.state_key = (at, state);
            agent.state = state;
        }
        if let Some(mut qs) = queues {
            qs.sort_unstable();
            qs.dedup();
            let key = (at, qs);
            if key > agent.queues_key {
                agent.queues = key.1.clone();
                agent.queues_key = key;
            }
        }
        let after = (agent.state, agent.queues.clone());
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
            .filter(|(_, a)| {
                a.state == AgentState::LoggedOut
                    && a.state_key.0 < final_before
                    && a.queues_key.0 < final_before
            })
            .map(|(name, a)| (a.state_key.0, &**name))
            .collect();
        idle.sort_unstable();
        let forget: Vec<Box<str>> = idle.iter().take(excess).map(|&(_, n)| n.into()).collect();
        for name in &forget {
            self.by_name.remove(name);
        }
        forget.len()
    }
}
