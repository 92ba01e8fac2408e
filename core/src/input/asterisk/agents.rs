//! The adapter's agent memory: each agent's queue list, presence, pause (with its reason) and
//! the call it is on or wrapping up, from which its `agent.state` is synthesized.

use std::collections::HashMap;

use crate::event::AgentState;

/// Whether the agent is logged in, as far as this stream has told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    /// Nothing seen yet (e.g. a static member of `queues.conf`, which logs no ADDMEMBER).
    Unknown,
    In,
    Out,
}

/// The conversation the agent is in, or wrapping up after.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Call {
    None,
    Busy(String),
    Wrapup(String),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    pub queues: Vec<String>,
    pub presence: Presence,
    pub paused: bool,
    pub reason: Option<String>,
    pub call: Call,
    /// The queue list changed since the last `agent.state` went out.
    pub queues_changed: bool,
    /// The (state, reason) of the last `agent.state` that went out.
    pub last: Option<(AgentState, Option<String>)>,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            queues: Vec::new(),
            presence: Presence::Unknown,
            paused: false,
            reason: None,
            call: Call::None,
            queues_changed: false,
            last: None,
        }
    }
}

impl Agent {
    /// The state the memory implies: a call or its wrap-up first, then presence, then pause.
    pub fn state(&self) -> AgentState {
        match self.call {
            Call::Busy(_) => AgentState::Busy,
            Call::Wrapup(_) => AgentState::Wrapup,
            Call::None => match self.presence {
                Presence::Out | Presence::Unknown => AgentState::LoggedOut,
                Presence::In if self.paused => AgentState::NotReady,
                Presence::In => AgentState::Available,
            },
        }
    }

    pub fn add_queue(&mut self, queue: &str) {
        if !self.queues.iter().any(|q| q == queue) {
            self.queues.push(queue.to_owned());
            self.queues.sort_unstable();
            self.queues_changed = true;
        }
    }

    /// Removes a queue; with none left the agent is logged out.
    pub fn remove_queue(&mut self, queue: &str) {
        let before = self.queues.len();
        self.queues.retain(|q| q != queue);
        self.queues_changed |= self.queues.len() != before;
        if self.queues.is_empty() {
            self.log_out();
            // an explicit empty list, so the engine forgets the queues as well
            self.queues_changed = true;
        }
    }

    pub fn log_out(&mut self) {
        self.presence = Presence::Out;
        self.call = Call::None;
        self.pause(false, None);
    }

    pub fn pause(&mut self, paused: bool, reason: Option<String>) {
        self.paused = paused;
        self.reason = if paused { reason } else { None };
    }

    /// The conversation `callid` of this agent ended (COMPLETE* or *TRANSFER); `wrapup` when a
    /// WRAPUPSTART of the agent follows at the same instant. A record about another call than
    /// the one the agent is on (a late or repeated record) leaves the state alone.
    pub fn conversation_ended(&mut self, callid: &str, wrapup: bool) {
        match &self.call {
            // on another call: this record is about an older one
            Call::Busy(c) if c != callid => return,
            // this conversation already ended (a repeated record)
            Call::Wrapup(c) if c == callid => return,
            _ => {}
        }
        if self.presence == Presence::Out {
            return;
        }
        self.presence = Presence::In;
        self.call = if wrapup {
            Call::Wrapup(callid.to_owned())
        } else {
            Call::None
        };
    }

    /// The wrap-up after `callid` ended.
    pub fn wrapup_ended(&mut self, callid: &str) {
        if matches!(&self.call, Call::Wrapup(c) if c == callid) {
            self.call = Call::None;
        }
    }

    /// What an `agent.state` would say now, when it differs from the last one that went out
    /// (or the queue list changed): (state, reason, queues when they changed).
    pub fn pending_state(&mut self) -> Option<(AgentState, Option<String>, Option<Vec<String>>)> {
        let state = self.state();
        let reason = match state {
            AgentState::NotReady => self.reason.clone(),
            _ => None,
        };
        let now = Some((state, reason.clone()));
        if now == self.last && !self.queues_changed {
            return None;
        }
        self.last = now;
        let queues = self.queues_changed.then(|| self.queues.clone());
        self.queues_changed = false;
        Some((state, reason, queues))
    }
}

/// Every agent of the stream, bounded: past `max`, logged-out agents not on a call are
/// forgotten (a producer inventing agent names does not grow memory without end).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Agents {
    pub by_name: HashMap<String, Agent>,
}

impl Agents {
    /// The agent's memory, created empty on first sight (always `Some`).
    pub fn get(&mut self, name: &str) -> Option<&mut Agent> {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_owned(), Agent::default());
        }
        self.by_name.get_mut(name)
    }

    /// Forgets logged-out agents when more than `max` are held; returns how many.
    pub fn trim(&mut self, max: usize) -> usize {
        if self.by_name.len() <= max {
            return 0;
        }
        let before = self.by_name.len();
        self.by_name
            .retain(|_, a| a.presence == Presence::In || a.call != Call::None);
        before - self.by_name.len()
    }
}
