//! The `connect` input: Amazon Connect's own records — contact events (EventBridge), agent event
//! stream records (Kinesis) and contact records (CTR) — told apart by their fields and mapped
//! onto events.md JSON as `shared/spec/inputs.md` says.
//!
//! The mapping is a function of one record: no memory across records, so the order records
//! arrive in (EventBridge does not order them) changes nothing, and any partitioning works.
//! Every event's id names the Connect contact and the step (`cx-<ContactId>-answered`), so a
//! contact seen through its contact events and through its CTR counts once: the engine keeps the
//! first and counts the other as `duplicate` — and a CTR re-sent on an update changes nothing.
//!
//! Identities, the same in every record kind:
//! - contact = `InitialContactId` (else `ContactId`): a transfer in Connect starts a new contact of
//!   the same initial contact, which is a new leg of the same customer contact in events.md;
//! - queue = the queue ARN's id, or the name `queue_names` gives it (contact events carry no queue
//!   name); agents' own queues (`…/queue/agent/…`) are no queues of the center and are skipped;
//! - agent = the agent ARN's id.
//!
//! After-contact work: Connect puts an agent in ACW after each contact it handled, so a handled
//! contact ends with `wrapup: true` and its wrap-up end comes from COMPLETED (contact events) or
//! the CTR's `Agent.AfterContactWorkEndTimestamp` — at the conversation's end when the agent
//! skipped ACW.

mod agent_event;
mod contact_event;
mod contact_record;
mod json;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::event::{Limits, Reject, RejectReason};
use crate::time::Millis;

use self::json::{arn_id, field, is_agent_queue, object, text, Object};
use super::write::{event_id, push, Out};

/// Settings of one `connect` input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectSettings {
    /// Queue names by queue id (the last part of the queue ARN); a queue not named here is
    /// called by its id.
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

/// One `connect` input's adapter.
#[derive(Debug, Default)]
pub struct Connect {
    settings: ConnectSettings,
    limits: Limits,
}

impl Connect {
    pub fn new(settings: ConnectSettings) -> Self {
        Connect {
            settings,
            limits: Limits::default(),
        }
    }

    /// Maps one record onto zero or more events.md events appended to `out`; returns its kind
    /// (one of [`KINDS`]) or the `Reject` of a record that is not JSON, not one of the three
    /// kinds, or lacks what its kind needs.
    pub fn map(&self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        if record.len() > self.limits.max_message_bytes {
            return Err(Reject::new(RejectReason::TooLarge, "message"));
        }
        let value: serde_json::Value = serde_json::from_slice(record)
            .map_err(|_| Reject::new(RejectReason::MalformedJson, "message"))?;
        let Some(obj) = value.as_object() else {
            return Err(Reject::new(RejectReason::MalformedJson, "message"));
        };
        let mut events = Events {
            settings: &self.settings,
            out: Vec::new(),
        };
        let kind = if let Some(detail_type) = field(obj, "detail-type") {
            if detail_type.as_str() != Some("Amazon Connect Contact Event") {
                return Ok("eventbridge_other");
            }
            let detail = object(obj, "detail")
                .ok_or_else(|| Reject::new(RejectReason::MissingField, "detail"))?;
            contact_event::map(detail, json::instant(obj, "time")?, &mut events)?
        } else if field(obj, "eventType").is_some() && field(obj, "contactId").is_some() {
            contact_event::map(obj, None, &mut events)?
        } else if field(obj, "EventType").is_some()
            && (field(obj, "AgentARN").is_some() || field(obj, "CurrentAgentSnapshot").is_some())
        {
            agent_event::map(obj, &mut events)?
        } else if field(obj, "ContactId").is_some() {
            contact_record::map(obj, &mut events)?
        } else {
            return Err(Reject::new(RejectReason::UnknownType, "record"));
        };
        // a record's events go out only when the whole record was read
        out.append(&mut events.out);
        Ok(kind)
    }
}

/// The events of one record, written with the input's settings.
struct Events<'a> {
    settings: &'a ConnectSettings,
    out: Vec<String>,
}

/// The contact a record is about: its events.md contact and its Connect contact.
struct Contact<'r> {
    /// events.md `contact_id`: the initial contact's id.
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

impl<'a> Events<'a> {
    /// The callpulse name of a queue ARN: `None` for an agent's own queue.
    fn queue<'s>(&self, arn: &'s str) -> Option<&'s str>
    where
        'a: 's,
    {
        if is_agent_queue(arn) {
            return None;
        }
        let id = arn_id(arn);
        Some(self.settings.queue_names.get(id).map_or(id, String::as_str))
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

/// events.md's channel for a Connect channel (`VOICE`, `CHAT`, `TASK`, `EMAIL`, any case) and
/// initiation method (a queued callback is a `callback`); `None` for a channel events.md lacks.
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
/// sent away by routing (an overflow), by its `DisconnectReason`; `unknown` when it has none.
fn abandoned(reason: Option<&str>, unknown: bool) -> bool {
    reason.map_or(unknown, |r| r.eq_ignore_ascii_case("CUSTOMER_DISCONNECT"))
}
