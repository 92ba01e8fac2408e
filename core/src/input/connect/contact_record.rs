//! Amazon Connect contact records (CTR), written when a contact ends: the whole contact at once —
//! offered, answered or abandoned/overflowed, one hold span, transferred or ended, wrap-up end.
//! Its events are late by the contact's length: for history and backfill, or a topic whose
//! lateness covers the longest contact and its wrap-up.
//!
//! The agent's conversation ends when the agent leaves it: at `AfterContactWorkStartTimestamp`,
//! else `TransferCompletedTimestamp`, else `DisconnectTimestamp` — on a transfer or conference
//! the customer often stays connected after the agent has left. So the talk, hold and wrap-up
//! callpulse computes are the CTR's own `AgentInteractionDuration`, `CustomerHoldDuration` and
//! `AfterContactWorkDuration`, and the wait its `Queue.Duration`.

use crate::event::{Reject, RejectReason};

use super::json::{arn_id, field, instant, object, seconds, text, text_at, Object};
use super::{abandoned, channel, outbound, Contact, Events, Fields};

/// Maps one contact record; a contact that never entered a queue of the center, or that the
/// center initiated, maps to nothing.
pub(super) fn map(ctr: &Object, events: &mut Events<'_>) -> Result<&'static str, Reject> {
    const KIND: &str = "contact_record";
    let contact = Contact::of(ctr)?;
    if outbound(text(ctr, "InitiationMethod"), text(ctr, "Channel")) {
        return Ok(KIND);
    }
    let Some(queue_obj) = object(ctr, "Queue") else {
        return Ok(KIND);
    };
    let Some(queue_arn) = text(queue_obj, "ARN") else {
        return Ok(KIND);
    };
    events.learn(queue_arn, text(queue_obj, "Name"));
    let Some(offered) = instant(queue_obj, "EnqueueTimestamp")? else {
        return Ok(KIND);
    };
    let Some(queue) = events.queue(queue_arn) else {
        return Ok(KIND);
    };
    let queue = queue.as_str();
    let disconnected = instant(ctr, "DisconnectTimestamp")?;
    let fields = Fields {
        queue: Some(queue),
        ..Fields::default()
    };
    let offer = Fields {
        channel: channel(text(ctr, "Channel"), text(ctr, "InitiationMethod")),
        customer: text_at(ctr, &["CustomerEndpoint", "Address"]),
        ..fields
    };
    events.contact("contact.offered", "offered", offered, &contact, offer);

    let agent_obj = object(ctr, "Agent");
    let answer = match agent_obj {
        Some(a) => instant(a, "ConnectedToAgentTimestamp")?.zip(text(a, "ARN")),
        None => None,
    };
    let transfer_completed = instant(ctr, "TransferCompletedTimestamp")?;
    let transferred = field(ctr, "NextContactId").is_some()
        || field(ctr, "TransferredToEndpoint").is_some()
        || transfer_completed.is_some();
    let Some((answered, agent_arn)) = answer else {
        // no agent: the customer gave up, or routing sent the contact elsewhere
        let left = instant(queue_obj, "DequeueTimestamp")?
            .or(disconnected)
            .ok_or(Reject::new(
                RejectReason::MissingField,
                "DisconnectTimestamp",
            ))?;
        // a record before 2021 has no DisconnectReason: a queued contact no agent reached
        if !transferred && abandoned(text(ctr, "DisconnectReason")) {
            events.contact("contact.abandoned", "out", left, &contact, fields);
        } else {
            let f = Fields {
                reason: Some("other"),
                ..fields
            };
            events.contact("contact.overflowed", "out", left, &contact, f);
        }
        return Ok(KIND);
    };
    let agent_obj = agent_obj.unwrap_or(ctr);
    let agent = arn_id(agent_arn);
    let with_agent = Fields {
        agent: Some(agent),
        ..fields
    };
    events.contact(
        "contact.answered",
        "answered",
        answered,
        &contact,
        with_agent,
    );
    // the agent's conversation ends when the agent leaves it, not when the customer does
    let ended = instant(agent_obj, "AfterContactWorkStartTimestamp")?
        .or(transfer_completed)
        .or(disconnected)
        .ok_or(Reject::new(
            RejectReason::MissingField,
            "DisconnectTimestamp",
        ))?
        .max(answered);
    // a CTR carries the hold total, not its instants: one span from the answer
    if let Some(hold) = seconds(agent_obj, "CustomerHoldDuration").filter(|&h| h > 0) {
        let resumed = (answered + hold).min(ended);
        if resumed > answered {
            events.contact("contact.held", "held", answered, &contact, with_agent);
            events.contact("contact.resumed", "resumed", resumed, &contact, with_agent);
        }
    }
    let end = Fields {
        wrapup: Some(true),
        ..with_agent
    };
    let kind = if transferred {
        "contact.transferred"
    } else {
        "contact.ended"
    };
    events.contact(kind, "end", ended, &contact, end);
    let wrapped = instant(agent_obj, "AfterContactWorkEndTimestamp")?
        .or_else(|| {
            let start = instant(agent_obj, "AfterContactWorkStartTimestamp").ok()??;
            Some(start + seconds(agent_obj, "AfterContactWorkDuration")?)
        })
        .map_or(ended, |w| w.max(ended));
    events.contact(
        "contact.wrapup_ended",
        "wrapup",
        wrapped,
        &contact,
        with_agent,
    );
    Ok(KIND)
}
