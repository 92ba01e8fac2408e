//! The adapter's agent memory: each mod_callcenter agent's status, its `Idle` state, the call
//! it is on or wrapping up after, and its queue list, from which its `agent.state` is
//! synthesized.

use std::collections::HashMap;

use crate::event::AgentState;

/// An agent's `CC-Agent-Status` as far as this stream has told.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    /// No status seen yet (the agent was logged in before the stream began).
    Unknown,
    LoggedOut,
    Available,
    /// `On Break`, or a status mod_callcenter does not define (its name is the reason).
    Away(String),
}

impl Status {
    /// The status of `CC-Agent-Status`.
    pub fn of(value: &str) -> Status {
        match value {
            "Logged Out" => Status::LoggedOut,
            "Available" | "Available (On Demand)" => Status::Available,
            other => Status::Away(other.to_owned()),
        }
    }
}

/// The conversation the agent is in, or wrapping up after (by caller session).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Call {
    None,
    Busy(String),
    Wrapup(String),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    pub status: Status,
    /// `agent-state-change Idle` (an on-demand agent after a call) until `Waiting` or a new
    /// status.
    pub idle: bool,
    pub call: Call,
    pub queues: Vec<String>,
    pub queues_changed: bool,
    /// The (state, reason) of the last `agent.state` that went out.
    pub last: Option<(AgentState, Option<String>)>,
}

impl Agent {
    fn new(queues: Vec<String>) -> Agent {
        Agent {
            status: Status::Unknown,
            idle: false,
            call: Call::None,
            queues_changed: !queues.is_empty(),
            queues,
            last: None,
        }
    }

    /// The state the memory implies: a call or its wrap-up first, then `Idle`, then the status.
    /// An agent of unknown status back from a call is taken to be available (it was taking
    /// calls).
    pub fn state(&self) -> (AgentState, Option<&str>) {
        match &self.call {
            Call::Busy(_) => (AgentState::Busy, None),
            Call::Wrapup(_) => (AgentState::Wrapup, None),
            Call::None => match &self.status {
                Status::LoggedOut => (AgentState::LoggedOut, None),
                _ if self.idle => (AgentState::NotReady, Some("Idle")),
                Status::Available | Status::Unknown => (AgentState::Available, None),
                Status::Away(reason) => (AgentState::NotReady, Some(reason)),
            },
        }
    }

    /// Adds a queue the agent is seen answering in (when its list is not configured).
    pub fn add_queue(&mut self, queue: &str) {
        if !self.queues.iter().any(|q| q == queue) {
            self.queues.push(queue.to_owned());
            self.queues.sort_unstable();
            self.queues_changed = true;
        }
    }

    /// The conversation with caller `session` ended; `wrapup` when a wrap-up time is configured
    /// for the agent. An end of another call than the one the agent is on changes nothing.
    pub fn conversation_ended(&mut self, session: &str, wrapup: bool) -> bool {
        if !matches!(&self.call, Call::Busy(c) if c == session) {
            return false;
        }
        self.call = if wrapup {
            Call::Wrapup(session.to_owned())
        } else {
            Call::None
        };
        true
    }

    /// The wrap-up after the conversation with `session` ended.
    pub fn wrapup_ended(&mut self, session: &str) {
        if matches!(&self.call, Call::Wrapup(c) if c == session) {
            self.call = Call::None;
        }
    }

    /// What an `agent.state` would say now, when it differs from the last one that went out
    /// (or the queue list changed): (state, reason, queues when they changed).
    pub fn pending_state(&mut self) -> Option<(AgentState, Option<String>, Option<Vec<String>>)> {
        let (state, reason) = self.state();
        let now = Some((state, reason.map(str::to_owned)));
        if now == self.last && !self.queues_changed {
            return None;
        }
        self.last = now.clone();
        let queues = self.queues_changed.then(|| self.queues.clone());
        self.queues_changed = false;
        now.map(|(state, reason)| (state, reason, queues))
    }
}

/// Every agent of the stream, bounded: past `max`, logged-out agents not on a call are
/// forgotten (a producer inventing agent names does not grow memory without end).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Agents {
    pub by_name: HashMap<String, Agent>,
}

impl Agents {
    /// The agent's memory, created on first sight with its configured queues.
    pub fn get(&mut self, name: &str, configured: Option<&Vec<String>>) -> &mut Agent {
        self.by_name
            .entry(name.to_owned())
            .or_insert_with(|| Agent::new(configured.cloned().unwrap_or_default()))
    }

    /// Forgets logged-out agents that are not on a call when more than `max` are held.
    pub fn trim(&mut self, max: usize) {
        if self.by_name.len() > max {
            self.by_name
                .retain(|_, a| a.status != Status::LoggedOut || a.call != Call::None);
        }
    }
}
