//! Amazon Connect contact events (the EventBridge "Amazon Connect Contact Event" detail): the
//! live view of queue contacts — offered on QUEUED, answered on CONNECTED_TO_AGENT, abandoned or
//! ended on DISCONNECTED, the wrap-up end on COMPLETED. Contact events name no queue: the label
//! is the configured name or one a CTR or agent record gave (see [`super::queues`]).

use crate::event::{Reject, RejectReason};
use crate::time::Millis;

use super::json::{instant, object, text, text_at, Object};
use super::{abandoned, channel, outbound, Contact, Events, Fields};

/// Maps one contact event's detail; `sent` is the EventBridge envelope's `time`, the fallback
/// for an instant the detail lacks.
pub(super) fn map(
    detail: &Object,
    sent: Option<Millis>,
    events: &mut Events<'_>,
) -> Result<&'static str, Reject> {
    let kind = text(detail, "eventType").unwrap_or_default();
    let kind = match kind.to_ascii_uppercase().as_str() {
        "INITIATED" => "contact_event_initiated",
        "QUEUED" => "contact_event_queued",
        "CONNECTED_TO_AGENT" => "contact_event_connected_to_agent",
        "DISCONNECTED" => "contact_event_disconnected",
        "COMPLETED" => "contact_event_completed",
        _ => return Ok("contact_event_other"),
    };
    let contact = Contact::of(detail)?;
    let queue_info = object(detail, "queueInfo");
    let agent_info = object(detail, "agentInfo");
    if outbound(text(detail, "initiationMethod"), text(detail, "channel")) {
        // the center's own call: its queue (the agent's outbound queue) waits for nobody
        return Ok(kind);
    }
    // not a queue contact (a flow-only contact) or an agent's own queue
    let Some(queue) = text_at(detail, &["queueInfo", "queueArn"]).and_then(|q| events.queue(q))
    else {
        return Ok(kind);
    };
    let queue = queue.as_str();
    let at = |obj: Option<&Object>, name: &'static str| -> Result<Millis, Reject> {
        obj.map(|o| instant(o, name))
            .transpose()?
            .flatten()
            .or(sent)
            .ok_or(Reject::new(RejectReason::MissingField, name))
    };
    let answered = match agent_info {
        Some(a) => instant(a, "connectedToAgentTimestamp")?,
        None => None,
    };
    let agent_arn = text_at(detail, &["agentInfo", "agentArn"]);
    let agent = agent_arn.map(super::json::arn_id);
    let fields = Fields {
        queue: Some(queue),
        ..Fields::default()
    };
    match kind {
        "contact_event_queued" => {
            let ts = at(queue_info, "enqueueTimestamp")?;
            let offer = Fields {
                channel: channel(text(detail, "channel"), text(detail, "initiationMethod")),
                customer: text_at(detail, &["customerEndpoint", "address"]),
                ..fields
            };
            events.contact("contact.offered", "offered", ts, &contact, offer);
        }
        "contact_event_connected_to_agent" => {
            let agent = agent.ok_or(Reject::new(RejectReason::MissingField, "agentArn"))?;
            let ts = at(agent_info, "connectedToAgentTimestamp")?;
            let f = Fields {
                agent: Some(agent),
                ..fields
            };
            events.contact("contact.answered", "answered", ts, &contact, f);
        }
        "contact_event_disconnected" => {
            let ts = at(Some(detail), "disconnectTimestamp")?;
            match (answered, agent) {
                (Some(_), Some(agent)) => {
                    let f = Fields {
                        agent: Some(agent),
                        wrapup: Some(true),
                        ..fields
                    };
                    events.contact("contact.ended", "end", ts, &contact, f);
                }
                _ if abandoned(text(detail, "disconnectReason")) => {
                    events.contact("contact.abandoned", "out", ts, &contact, fields);
                }
                _ => {
                    let f = Fields {
                        reason: Some("other"),
                        ..fields
                    };
                    events.contact("contact.overflowed", "out", ts, &contact, f);
                }
            }
        }
        "contact_event_completed" => {
            if let (Some(_), Some(agent)) = (answered, agent) {
                let ended = match agent_info.map(|a| instant(a, "afterContactWorkEndTimestamp")) {
                    Some(end) => end?,
                    None => None,
                };
                let ts = match ended {
                    Some(ts) => ts,
                    None => at(Some(detail), "disconnectTimestamp")?,
                };
                let f = Fields {
                    agent: Some(agent),
                    ..fields
                };
                events.contact("contact.wrapup_ended", "wrapup", ts, &contact, f);
            }
        }
        _ => {}
    }
    Ok(kind)
}
