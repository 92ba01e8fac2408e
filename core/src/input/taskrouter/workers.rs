//! The adapter's worker memory: each worker's activity (and its instant), the tasks it is on or
//! wrapping up, when its last task ended and its queue list, from which its `agent.state` is
//! synthesized.

use std::collections::BTreeMap;

use super::record::Record;
use super::PREFIX;
use crate::event::AgentState;
use crate::input::write::{event_id, push, Out};
use crate::time::Millis;

/// A worker: its activity's state and the tasks it is on (busy) or wrapping up.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Worker {
    pub activity: (AgentState, Option<String>),
    /// The instant of `activity` (the newest activity update seen).
    pub activity_at: Millis,
    /// When the worker's last task (with its wrap-up) was completed.
    pub free_at: Millis,
    pub tasks: BTreeMap<String, bool>,
    pub queues: Vec<String>,
    pub queues_changed: bool,
    pub last: Option<(AgentState, Option<String>)>,
}

impl Worker {
    pub fn state(&self) -> (AgentState, Option<String>) {
        if self.tasks.values().any(|wrapup| !wrapup) {
            (AgentState::Busy, None)
        } else if !self.tasks.is_empty() {
            (AgentState::Wrapup, None)
        } else {
            self.activity.clone()
        }
    }
}

/// The id of an `agent.state` a record gives the worker (`step`: `state`, or `restate` for the
/// newer state put back after a late update).
pub fn state_id(name: &str, rec: &Record, step: &str) -> String {
    match &rec.sid {
        Some(sid) if step == "state" => event_id(PREFIX, &[sid, step, name]),
        Some(sid) => event_id(PREFIX, &[sid, step]),
        None => event_id(
            PREFIX,
            &[
                name,
                step,
                itoa::Buffer::new().format(rec.at),
                &rec.event_type,
            ],
        ),
    }
}

/// An `agent.state` of the worker at `at` (queues left as they are).
pub fn push_state(
    out: &mut Vec<String>,
    name: &str,
    rec: &Record,
    step: &str,
    at: Millis,
    (state, reason): &(AgentState, Option<String>),
) {
    push(
        out,
        Out {
            id: &state_id(name, rec, step),
            kind: "agent.state",
            ts: at,
            agent: Some(name),
            state: Some(state.as_str()),
            reason: reason.as_deref(),
            ..Out::default()
        },
    );
}
