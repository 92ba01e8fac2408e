//! A step: one accepted event of a contact as the contact rules keep it (time, kind, queue,
//! agent, flags and scores, without its strings), and the facts those rules produce.

use crate::event::{Channel, ContactEvent, ContactStep};
use crate::kpi::{Fact, NO_SCORE};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    pub at: Millis,
    /// The queue the event names, or `NO_QUEUE` (always named on `Offered`).
    pub queue: QueueId,
    /// The agent the event names, or `NO_AGENT`.
    pub agent: AgentKey,
    pub step: ContactStep,
    pub wrapup: Option<bool>,
    /// `resolved` of `contact.ended`.
    pub resolved: Option<bool>,
    /// The channel of `contact.offered` (`Voice` on other steps).
    pub channel: Channel,
    /// CSAT, NPS and CES of a survey, each stored `+1` ([`NO_SCORE`]: not answered).
    pub scores: [u8; 3],
}

impl Step {
    /// A step with no flags, channel `voice` and no scores (tests build these).
    pub fn new(at: Millis, step: ContactStep, queue: QueueId, agent: AgentKey) -> Self {
        Step {
            at,
            queue,
            agent,
            step,
            wrapup: None,
            resolved: None,
            channel: Channel::Voice,
            scores: [NO_SCORE; 3],
        }
    }

    /// The step of an accepted contact event.
    pub fn of(at: Millis, queue: QueueId, agent: AgentKey, c: &ContactEvent<'_>) -> Self {
        let plus = |v: Option<u8>| v.map_or(NO_SCORE, |v| v.saturating_add(1));
        Step {
            wrapup: c.wrapup,
            resolved: c.resolved,
            channel: c.channel,
            scores: [plus(c.scores.csat), plus(c.scores.nps), plus(c.scores.ces)],
            ..Step::new(at, c.step, queue, agent)
        }
    }
}

/// A fact and the queue it counts in.
pub type QueueFact = (QueueId, Fact);
