//! Amazon Connect agent event stream records: each is the agent's whole snapshot, mapped onto one
//! `agent.state` with the queues of its routing profile. On a contact → `busy`; a contact in
//! `ENDED` (after-contact work; Connect keeps the status `Available` meanwhile) → `wrapup`;
//! else by the status: `Available` (type ROUTABLE) → `available`, `Offline` → `logged_out`,
//! any custom status → `not_ready` with its name as the reason. LOGOUT → `logged_out`. The
//! routing profile names its queues: the stream learns those names (see [`super::queues`]).

use crate::event::{Reject, RejectReason};

use super::json::{arn_id, field, instant, object, text, Object};
use super::{Events, PREFIX};
use crate::input::write::{event_id, push, Out};

/// Maps one agent event stream record.
pub(super) fn map(record: &Object, events: &mut Events<'_>) -> Result<&'static str, Reject> {
    let kind = match text(record, "EventType")
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "STATE_CHANGE" => "agent_event_state_change",
        "HEART_BEAT" => "agent_event_heart_beat",
        "LOGIN" => "agent_event_login",
        "LOGOUT" => "agent_event_logout",
        _ => return Ok("agent_event_other"),
    };
    let agent = text(record, "AgentARN")
        .map(arn_id)
        .ok_or(Reject::new(RejectReason::MissingField, "AgentARN"))?;
    let ts = instant(record, "EventTimestamp")?
        .ok_or(Reject::new(RejectReason::MissingField, "EventTimestamp"))?;
    let snapshot = object(record, "CurrentAgentSnapshot");
    let (state, reason) = match snapshot {
        _ if kind == "agent_event_logout" => ("logged_out", None),
        Some(s) => state_of(s),
        None => {
            return Err(Reject::new(
                RejectReason::MissingField,
                "CurrentAgentSnapshot",
            ))
        }
    };
    let inbound: Option<Vec<&Object>> = snapshot
        .and_then(|s| object(s, "Configuration"))
        .and_then(|c| object(c, "RoutingProfile"))
        .and_then(|p| field(p, "InboundQueues"))
        .and_then(|q| q.as_array())
        .map(|list| list.iter().filter_map(|q| q.as_object()).collect());
    let queues: Option<Vec<String>> = inbound.map(|list| {
        for q in &list {
            if let Some(arn) = text(q, "ARN") {
                events.learn(arn, text(q, "Name"));
            }
        }
        let mut labels: Vec<String> = list
            .iter()
            .filter_map(|q| text(q, "ARN"))
            .filter_map(|arn| events.queue(arn))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        labels
    });
    let id = match text(record, "EventId") {
        Some(event) => event_id(PREFIX, &["agent", event]),
        None => event_id(PREFIX, &["agent", agent, itoa::Buffer::new().format(ts)]),
    };
    push(
        &mut events.out,
        Out {
            id: &id,
            kind: "agent.state",
            ts,
            agent: Some(agent),
            state: Some(state),
            reason,
            queues: queues.as_deref(),
            ..Out::default()
        },
    );
    Ok(kind)
}

/// The docs/events.md state of an agent snapshot, and the not-ready reason.
fn state_of(snapshot: &Object) -> (&'static str, Option<&str>) {
    let contacts = field(snapshot, "Contacts")
        .and_then(|c| c.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let in_state = |states: &[&str]| {
        contacts.iter().any(|c| {
            c.as_object()
                .and_then(|c| text(c, "State"))
                .is_some_and(|s| states.iter().any(|x| s.eq_ignore_ascii_case(x)))
        })
    };
    if in_state(&["CONNECTED", "CONNECTED_ONHOLD", "PAUSED"]) {
        return ("busy", None);
    }
    if in_state(&["ENDED"]) {
        return ("wrapup", None);
    }
    let status = object(snapshot, "AgentStatus");
    let name = status.and_then(|s| text(s, "Name"));
    let kind = status.and_then(|s| text(s, "Type"));
    let is = |v: Option<&str>, x: &str| v.is_some_and(|v| v.eq_ignore_ascii_case(x));
    if is(kind, "OFFLINE") || (kind.is_none() && is(name, "Offline")) {
        ("logged_out", None)
    } else if is(kind, "ROUTABLE") || (kind.is_none() && is(name, "Available")) {
        ("available", None)
    } else {
        ("not_ready", name)
    }
}
