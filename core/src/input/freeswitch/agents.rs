//! The adapter's agent memory: each mod_callcenter agent's status, its `Idle` state, the call
//! it is on or wrapping up after, and its queue list, from which its `agent.state` is
//! synthesized.

use std::collections::HashMap;

use crate::event::AgentState;
use crate::time::Millis;

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

    /// The state the status stands for between calls (no `Idle`).
    fn state(&self) -> (AgentState, Option<&str>) {
        match self {
            Status::LoggedOut => (AgentState::LoggedOut, None),
            Status::Available | Status::Unknown => (AgentState::Available, None),
            Status::Away(reason) => (AgentState::NotReady, Some(reason)),
        }
    }
}

/// A status record delivered after a newer one: the `agent.state` events that put it in its
/// place, (instant, state, reason) each.
pub type Restated = Vec<(Millis, AgentState, Option<String>)>;

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
    /// The instant of `status` (the newest status record seen).
    pub status_at: Millis,
    /// When the agent's last call (with its wrap-up) ended.
    pub free_at: Millis,
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
            status_at: Millis::MIN,
            free_at: Millis::MIN,
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
                status => status.state(),
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

    /// The conversation with caller `session` ended at `at`; `wrapup` when a wrap-up time is
    /// configured for the agent. An end of another call than the one the agent is on changes
    /// nothing.
    pub fn conversation_ended(&mut self, session: &str, wrapup: bool, at: Millis) -> bool {
        if !matches!(&self.call, Call::Busy(c) if c == session) {
            return false;
        }
        self.call = if wrapup {
            Call::Wrapup(session.to_owned())
        } else {
            self.free_at = self.free_at.max(at);
            Call::None
        };
        true
    }

    /// The wrap-up after the conversation with `session` ended at `at`.
    pub fn wrapup_ended(&mut self, session: &str, at: Millis) {
        if matches!(&self.call, Call::Wrapup(c) if c == session) {
            self.call = Call::None;
            self.free_at = self.free_at.max(at);
        }
    }

    /// A status record at `at`: the memory takes it when it is the newest status seen. One
    /// older than that (delivered late) leaves the memory as it is and returns the events
    /// that put it in its place: its own state at its instant, then the newer status's again
    /// at that one's instant (its event may have been left out as no change). Only when no
    /// call came between it and now (the agent is between calls, the last one over before
    /// it); otherwise which came first is not known and it says nothing.
    pub fn status_record(&mut self, status: Status, at: Millis) -> Option<Restated> {
        if at >= self.status_at {
            self.status = status;
            self.status_at = at;
            self.idle = false;
            return None;
        }
        if self.call != Call::None || at < self.free_at {
            return Some(Vec::new());
        }
        let (old, old_reason) = status.state();
        let (new, new_reason) = self.status.state();
        let mut events = vec![(at, old, old_reason.map(str::to_owned))];
        if (old, old_reason) != (new, new_reason) {
            events.push((self.status_at, new, new_reason.map(str::to_owned)));
        }
        Some(events)
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
