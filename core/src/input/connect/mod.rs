//! The `connect` input: Amazon Connect's own records — contact events (EventBridge), agent event
//! stream records (Kinesis) and contact records (CTR) — told apart by their fields and mapped
//! onto docs/events.md JSON as `docs/inputs.md` says.
//!
//! The mapping is a function of one record and of the queue labels the stream has given so far
//! ([`queues`]), so the order records arrive in (EventBridge does not order them) changes
//! nothing, and any partitioning works. Every event's id names the Connect contact and the step
//! (`cx-<ContactId>-answered`), so a contact seen through its contact events and through its
//! CTR counts once: the engine keeps the first and counts the other as `duplicate` — and a CTR
//! re-sent on an update changes nothing.
//!
//! Identities, the same in every record kind:
//! - contact = `InitialContactId` (else `ContactId`): a transfer in Connect starts a new contact of
//!   the same initial contact, which is a new leg of the same customer contact in docs/events.md;
//! - queue = the name `queue_names` gives it (by queue id or ARN), else the name a record gave it
//!   (CTR `Queue.Name`, agent stream `InboundQueues[].Name`), else the queue ARN's id — fixed at
//!   the queue's first event; agents' own queues (`…/queue/agent/…`) are no queues of the center
//!   and are skipped;
//! - agent = the agent ARN's id.
//!
//! Contacts initiated outbound (`OUTBOUND`, an agent's `API` call, …) are no queue contacts and
//! map to nothing, also when a contact event carries `queueInfo`.
//!
//! After-contact work: Connect puts an agent in ACW after each contact it handled, so a handled
//! contact ends with `wrapup: true` and its wrap-up end comes from COMPLETED (contact events) or
//! the CTR's `Agent.AfterContactWorkEndTimestamp` — at the conversation's end when the agent
//! skipped ACW.
//!
//! A history read from a file ([`Connect::history`]) holds the records of a queue no record has
//! named yet until one does (or the file ends), so its contact events get the name a later CTR
//! or agent record gives; the live service calls such a queue by its id at once.

mod agent_event;
mod contact_event;
mod contact_record;
mod json;
pub mod queues;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::event::{Limits, Reject, RejectReason};
use crate::time::Millis;

use self::json::{field, object, text, Object};
use self::queues::{Label, Labels};
use super::write::{event_id, push, Out};

/// Settings of one `connect` input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectSettings {
    /// Queue names by queue id (the last part of the queue ARN) or by full queue ARN; they win
    /// over the names records give.
    pub queue_names: BTreeMap<String, String>,
}

/// Every kind [`Connect::map`] returns.
pub const KINDS: &[&str] = &[
    "contact_event_initiated",
    "contact_event_queued",
    "contact_event_connected_to_agent",
    "contact_event_disconnected",
    "contact_event_completed",
    "contact_event_other",
    "eventbridge_other",
    "agent_event_state_change",
    "agent_event_heart_beat",
    "agent_event_login",
    "agent_event_logout",
    "agent_event_other",
    "contact_record",
];

/// The prefix of the ids of the events this input writes.
const PREFIX: &str = "cx";

/// Records a history holds at most while their queues wait for a name; past it the queue of
/// the next one is called by its id and its records go out.
const MAX_WAITING: usize = 100_000;

/// One `connect` input's adapter.
#[derive(Debug, Default)]
pub struct Connect {
    limits: Limits,
    labels: Labels,
    /// Records of queues not named yet, by queue id (a history only).
    waiting: BTreeMap<String, Vec<Vec<u8>>>,
    waiting_records: usize,
}

impl Connect {
    /// The adapter of a live stream: a queue no record has named by its first event is called
    /// by its id.
    pub fn new(settings: ConnectSettings) -> Self {
        Connect {
            limits: Limits::default(),
            labels: Labels::new(&settings.queue_names, false),
            waiting: BTreeMap::new(),
            waiting_records: 0,
        }
    }

    /// The adapter of a history read from a file (`replay`, `convert`): the records of a queue
    /// not named yet wait for a record that names it, or for the end ([`Connect::flush`]).
    pub fn history(settings: ConnectSettings) -> Self {
        Connect {
            labels: Labels::new(&settings.queue_names, true),
            ..Connect::new(settings)
        }
    }

    /// Maps one record onto zero or more docs/events.md events appended to `out`; returns its kind
    /// (one of [`KINDS`]) or the `Reject` of a record that is not JSON, not one of the three
    /// kinds, or lacks what its kind needs.
    pub fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        let mut events = Events {
            labels: &mut self.labels,
            out: Vec::new(),
            unnamed: None,
            named: Vec::new(),
        };
        let kind = Self::read(&self.limits, record, &mut events)?;
        let (unnamed, named) = (events.unnamed.take(), std::mem::take(&mut events.named));
        match unnamed {
            // its queue has no name yet: the record waits for one
            Some(queue) => self.wait(queue, record, out),
            // a record's events go out only when the whole record was read
            None => out.append(&mut events.out),
        }
        for queue in named {
            self.release(&queue, out);
        }
        Ok(kind)
    }

    /// Emits the records still waiting for their queue's name, the queue called by its id.
    pub fn flush(&mut self, out: &mut Vec<String>) {
        let queues: Vec<String> = self.waiting.keys().cloned().collect();
        for queue in queues {
            self.labels.call_by_id(&queue);
            self.release(&queue, out);
        }
    }

    /// The queue labels given so far, for a checkpoint (nothing else is remembered: records
    /// wait only in a history, which is never checkpointed).
    pub fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self.labels.given())
    }

    /// Takes back what [`Connect::save_state`] saved (nothing, from a checkpoint written before
    /// queue labels were remembered).
    pub fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        if !bytes.is_empty() {
            self.labels.restore(postcard::from_bytes(bytes)?);
        }
        Ok(())
    }

    /// Holds a record until its queue has a name; when too many wait, the queue is called by
    /// its id and its records go out now.
    fn wait(&mut self, queue: String, record: &[u8], out: &mut Vec<String>) {
        self.waiting
            .entry(queue.clone())
            .or_default()
            .push(record.to_vec());
        self.waiting_records += 1;
        if self.waiting_records > MAX_WAITING {
            self.labels.call_by_id(&queue);
            self.release(&queue, out);
        }
    }

    /// Maps again the records that waited for `queue`, which has a label now.
    fn release(&mut self, queue: &str, out: &mut Vec<String>) {
        let Some(records) = self.waiting.remove(queue) else {
            return;
        };
        self.waiting_records -= records.len();
        for record in records {
            // read once already: it maps the same way, or waits again for another queue
            let _ = self.map(&record, out);
        }
    }

    /// Reads one record into `events`.
    fn read(
        limits: &Limits,
        record: &[u8],
        events: &mut Events<'_>,
    ) -> Result<&'static str, Reject> {
        if record.len() > limits.max_message_bytes {
            return Err(Reject::new(RejectReason::TooLarge, "message"));
        }
        let value: serde_json::Value = serde_json::from_slice(record)
            .map_err(|_| Reject::new(RejectReason::MalformedJson, "message"))?;
        let Some(obj) = value.as_object() else {
            return Err(Reject::new(RejectReason::MalformedJson, "message"));
        };
        if let Some(detail_type) = field(obj, "detail-type") {
            if detail_type.as_str() != Some("Amazon Connect Contact Event") {
                return Ok("eventbridge_other");
            }
            let detail = object(obj, "detail")
                .ok_or_else(|| Reject::new(RejectReason::MissingField, "detail"))?;
            contact_event::map(detail, json::instant(obj, "time")?, events)
        } else if field(obj, "eventType").is_some() && field(obj, "contactId").is_some() {
            contact_event::map(obj, None, events)
        } else if field(obj, "EventType").is_some()
            && (field(obj, "AgentARN").is_some() || field(obj, "CurrentAgentSnapshot").is_some())
        {
            agent_event::map(obj, events)
        } else if field(obj, "ContactId").is_some() {
            contact_record::map(obj, events)
        } else {
            Err(Reject::new(RejectReason::UnknownType, "record"))
        }
    }
}

/// The events of one record, written with the stream's queue labels.
struct Events<'a> {
    labels: &'a mut Labels,
    out: Vec<String>,
    /// A queue of the record that has no name yet (a history only): the record waits.
    unnamed: Option<String>,
    /// Queues the record named first: their waiting records can go out.
    named: Vec<String>,
}

/// The contact a record is about: its docs/events.md contact and its Connect contact.
struct Contact<'r> {
    /// docs/events.md `contact_id`: the initial contact's id.
    id: &'r str,
    /// The Connect `ContactId` (one leg), which names the events' ids.
    leg: &'r str,
}

impl<'r> Contact<'r> {
    /// Reads `ContactId` and `InitialContactId`.
    fn of(obj: &'r Object) -> Result<Self, Reject> {
        let leg = text(obj, "ContactId")
            .ok_or_else(|| Reject::new(RejectReason::MissingField, "ContactId"))?;
        Ok(Contact {
            id: text(obj, "InitialContactId").unwrap_or(leg),
            leg,
        })
    }
}

/// The fields an event may carry besides its type, time and contact.
#[derive(Default, Clone, Copy)]
struct Fields<'a> {
    queue: Option<&'a str>,
    agent: Option<&'a str>,
    channel: Option<&'a str>,
    customer: Option<&'a str>,
    reason: Option<&'a str>,
    wrapup: Option<bool>,
}

impl Events<'_> {
    /// The label of a queue ARN: `None` for an agent's own queue, and for a queue with no name
    /// yet in a history (the record then waits for one).
    fn queue(&mut self, arn: &str) -> Option<String> {
        match self.labels.label(arn) {
            Label::Is(label) => Some(label),
            Label::AgentQueue => None,
            Label::Unnamed(id) => {
                self.unnamed = Some(id);
                None
            }
        }
    }

    /// Takes the name a record gives a queue (its label unless it has one already).
    fn learn(&mut self, arn: &str, name: Option<&str>) {
        if self.labels.learn(arn, name) {
            self.named.push(json::arn_id(arn).to_owned());
        }
    }

    /// One contact event, its id made of the Connect contact and `step`.
    fn contact(&mut self, kind: &str, step: &str, ts: Millis, c: &Contact<'_>, f: Fields<'_>) {
        let id = event_id(PREFIX, &[c.leg, step]);
        push(
            &mut self.out,
            Out {
                id: &id,
                kind,
                ts,
                contact_id: Some(c.id),
                queue: f.queue,
                agent: f.agent,
                channel: f.channel,
                customer: f.customer,
                reason: f.reason,
                wrapup: f.wrapup,
                ..Out::default()
            },
        );
    }
}

/// docs/events.md's channel for a Connect channel (`VOICE`, `CHAT`, `TASK`, `EMAIL`, any case) and
/// initiation method (a queued callback is a `callback`); `None` for a channel docs/events.md lacks.
fn channel(connect: Option<&str>, initiation: Option<&str>) -> Option<&'static str> {
    if initiation.is_some_and(|m| m.eq_ignore_ascii_case("CALLBACK")) {
        return Some("callback");
    }
    let c = connect?;
    [
        ("VOICE", "voice"),
        ("CHAT", "chat"),
        ("TASK", "email"),
        ("TASKS", "email"),
        ("EMAIL", "email"),
    ]
    .into_iter()
    .find(|(k, _)| c.eq_ignore_ascii_case(k))
    .map(|(_, v)| v)
}

/// Whether a contact no agent answered was given up by the customer (an abandon) rather than
/// sent away by routing (an overflow), by its `DisconnectReason`; without one (contact events,
/// and contact records written before 2021) it is an abandon.
fn abandoned(reason: Option<&str>) -> bool {
    reason.is_none_or(|r| r.eq_ignore_ascii_case("CUSTOMER_DISCONNECT"))
}

/// Initiation methods of contacts the center makes (or watches) rather than receives: no queue
/// contacts, whatever queue they name.
const OUTBOUND: &[&str] = &["OUTBOUND", "EXTERNAL_OUTBOUND", "AGENT_REPLY", "MONITOR"];

/// Whether a contact was initiated outbound: one of [`OUTBOUND`], or a voice call started by an
/// API call (an agent's or a dialer's `StartOutboundVoiceContact`; chats and tasks are started
/// by API too, and are inbound).
fn outbound(initiation: Option<&str>, connect_channel: Option<&str>) -> bool {
    let Some(m) = initiation else {
        return false;
    };
    OUTBOUND.iter().any(|o| m.eq_ignore_ascii_case(o))
        || (m.eq_ignore_ascii_case("API")
            && connect_channel.is_some_and(|c| c.eq_ignore_ascii_case("VOICE")))
}
