//! A step: one accepted event of a contact as the contact rules keep it (time, kind, queue,
//! agent, flags and scores, without its strings), and the facts those rules produce.

use crate::event::{ContactStep, Scores};
use crate::kpi::Fact;
use crate::time::Millis;

use super::memory::hash_id;
use super::queue::QueueId;

/// The queue of an event that names none.
pub const NO_QUEUE: QueueId = QueueId::MAX;

/// An agent as a contact's events name it: a 32-bit hash of the name, so a step stays small.
/// Only the agents of one contact are ever compared, so a collision (odds about 1 in 4 billion
/// per pair of agents on the same contact) is negligible.
pub type AgentKey = u32;

/// The agent of an event that names none.
pub const NO_AGENT: AgentKey = 0;

pub fn agent_key(name: &str) -> AgentKey {
    (hash_id(name) as AgentKey).max(1)
}

/// One accepted event of a contact, without its strings (24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: Millis,
    /// The queue the event names, or `NO_QUEUE` (always named on `Offered`).
    pub queue: QueueId,
    /// The agent the event names, or `NO_AGENT`.
    pub agent: AgentKey,
    pub step: ContactStep,
    pub wrapup: Option<bool>,
    pub csat: Option<u8>,
    pub nps: Option<u8>,
    pub ces: Option<u8>,
}

impl Step {
    pub fn new(
        at: Millis,
        step: ContactStep,
        queue: QueueId,
        agent: AgentKey,
        wrapup: Option<bool>,
        scores: Scores,
    ) -> Self {
        Step {
            at,
            queue,
            agent,
            step,
            wrapup,
            csat: scores.csat,
            nps: scores.nps,
            ces: scores.ces,
        }
    }
}

/// A fact and the queue it counts in.
pub type QueueFact = (QueueId, Fact);
