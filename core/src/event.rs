//! The events of `docs/events.md` as the engine sees them: contacts, agents, surveys,
//! the limits a message must keep, and the reasons a message is rejected. Decoding a wire
//! format into these types is the business of [`crate::input`].

use std::borrow::Cow;
use std::fmt;

use crate::time::Millis;

/// Why a message was rejected; exported as the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    MalformedJson,
    MissingField,
    BadTimestamp,
    UnknownType,
    UnsupportedVersion,
    InvalidValue,
    TooLarge,
    UnknownContact,
    OutOfOrder,
    TooLate,
    Duplicate,
    QueueLimit,
}

impl RejectReason {
    pub const ALL: [RejectReason; 12] = [
        RejectReason::MalformedJson,
        RejectReason::MissingField,
        RejectReason::BadTimestamp,
        RejectReason::UnknownType,
        RejectReason::UnsupportedVersion,
        RejectReason::InvalidValue,
        RejectReason::TooLarge,
        RejectReason::UnknownContact,
        RejectReason::OutOfOrder,
        RejectReason::TooLate,
        RejectReason::Duplicate,
        RejectReason::QueueLimit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::MissingField => "missing_field",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::UnknownType => "unknown_type",
            RejectReason::UnsupportedVersion => "unsupported_version",
            RejectReason::InvalidValue => "invalid_value",
            RejectReason::TooLarge => "too_large",
            RejectReason::UnknownContact => "unknown_contact",
            RejectReason::OutOfOrder => "out_of_order",
            RejectReason::TooLate => "too_late",
            RejectReason::Duplicate => "duplicate",
            RejectReason::QueueLimit => "queue_limit",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected message: the reason and, for people reading logs, which field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {field}")]
pub struct Reject {
    pub reason: RejectReason,
    pub field: &'static str,
}

impl Reject {
    pub fn new(reason: RejectReason, field: &'static str) -> Self {
        Reject { reason, field }
    }
}

/// Limits a hostile or broken producer cannot pass.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_string_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            max_string_chars: 128,
        }
    }
}

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Channel {
    #[default]
    Voice,
    Chat,
    Email,
    Callback,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AgentState {
    LoggedOut,
    Available,
    NotReady,
    Busy,
    Wrapup,
}

impl AgentState {
    /// The states exported in `callcenter_agents{state}` (logged-out agents are not counted).
    pub const EXPORTED: [AgentState; 4] = [
        AgentState::Available,
        AgentState::NotReady,
        AgentState::Busy,
        AgentState::Wrapup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Available => "available",
            AgentState::NotReady => "not_ready",
            AgentState::Busy => "busy",
            AgentState::Wrapup => "wrapup",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowReason {
    Timeout,
    NoAgents,
    Full,
    Key,
    Other,
}

/// The kind of a contact event, in the order same-instant events of one contact happen.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ContactStep {
    Offered,
    Answered,
    Abandoned,
    Overflowed,
    Held,
    Resumed,
    /// The agent's first written reply (since 1.1); later ones of the same leg are ignored.
    Responded,
    Transferred,
    Ended,
    WrapupEnded,
    Survey,
}

/// Survey answers; each is optional and already range-checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scores {
    pub csat: Option<u8>,
    pub nps: Option<u8>,
    pub ces: Option<u8>,
}

/// A valid event, borrowing its strings from the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<'a> {
    pub id: Option<Cow<'a, str>>,
    pub ts: Millis,
    pub body: Body<'a>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body<'a> {
    Contact(ContactEvent<'a>),
    Agent(AgentEvent<'a>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContactEvent<'a> {
    pub step: ContactStep,
    pub contact_id: Cow<'a, str>,
    /// Required on `contact.offered`, optional afterwards.
    pub queue: Option<Cow<'a, str>>,
    pub agent: Option<Cow<'a, str>>,
    pub channel: Channel,
    /// `wrapup` of `contact.ended` or `contact.transferred`: whether an after-call-work end
    /// will follow (`None`: the queue's setting decides).
    pub wrapup: Option<bool>,
    /// `resolved` of `contact.ended`: whether the customer's issue was resolved (`None`: not
    /// reported).
    pub resolved: Option<bool>,
    /// `customer` of `contact.offered` (personal data: the engine keeps only a keyed hash).
    pub customer: Option<Cow<'a, str>>,
    pub scores: Scores,
    /// `priority` of `contact.offered` (the live view of waiting contacts shows it).
    pub priority: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AgentEvent<'a> {
    pub agent: Cow<'a, str>,
    pub state: AgentState,
    pub queues: Option<Vec<Cow<'a, str>>>,
    /// `reason` of `agent.state`: the not-ready reason code (the live view shows it).
    pub reason: Option<Cow<'a, str>>,
}

impl Event<'_> {
    /// The same event owning its strings (held beyond its message's life).
    pub fn to_owned_event(&self) -> Event<'static> {
        fn own(s: &str) -> Cow<'static, str> {
            Cow::Owned(s.to_string())
        }
        Event {
            id: self.id.as_deref().map(own),
            ts: self.ts,
            body: match &self.body {
                Body::Contact(c) => Body::Contact(ContactEvent {
                    step: c.step,
                    contact_id: own(&c.contact_id),
                    queue: c.queue.as_deref().map(own),
                    agent: c.agent.as_deref().map(own),
                    channel: c.channel,
                    wrapup: c.wrapup,
                    resolved: c.resolved,
                    customer: c.customer.as_deref().map(own),
                    scores: c.scores,
                    priority: c.priority,
                }),
                Body::Agent(a) => Body::Agent(AgentEvent {
                    agent: own(&a.agent),
                    state: a.state,
                    queues: a
                        .queues
                        .as_ref()
                        .map(|q| q.iter().map(|n| own(n)).collect()),
                    reason: a.reason.as_deref().map(own),
                }),
            },
        }
    }
}
