//! Reading one FreeSWITCH event as its JSON object (`switch_event_serialize_json`: one flat
//! object, every header a key, every value a string): only the headers the mapping reads are
//! deserialized, borrowed from the message where they need no unescaping; the channel
//! variables (`variable_*`, often tens of KB) are skipped without being copied.

use std::borrow::Cow;

use serde::Deserialize;

use crate::event::{Limits, Reject, RejectReason};
use crate::time::{Millis, MAX_MILLIS};

/// The largest event the `freeswitch` input reads: FreeSWITCH events carry every channel
/// variable, so the engine's `max_message_bytes` (64 KiB by default) is raised to this for
/// this input; a larger event is `too_large`.
pub use crate::settings::FREESWITCH_EVENT_BYTES as MAX_EVENT_BYTES;

/// The subclass of mod_callcenter's events.
const SUBCLASS: &str = "callcenter::info";

/// The headers the mapping reads; every other header is skipped.
#[derive(Debug, Default, Deserialize)]
pub struct Headers<'a> {
    #[serde(rename = "Event-Name", borrow)]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(rename = "Event-Subclass", borrow)]
    pub subclass: Option<Cow<'a, str>>,
    #[serde(rename = "Core-UUID", borrow)]
    pub core_uuid: Option<Cow<'a, str>>,
    #[serde(rename = "Event-Sequence", borrow)]
    pub sequence: Option<Cow<'a, str>>,
    #[serde(rename = "Event-Date-Timestamp", borrow)]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Action", borrow)]
    pub action: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Queue", borrow)]
    pub queue: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Agent", borrow)]
    pub agent: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Agent-Status", borrow)]
    pub agent_status: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Agent-State", borrow)]
    pub agent_state: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Member-Session-UUID", borrow)]
    pub session: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Member-CID-Number", borrow)]
    pub cid_number: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Cause", borrow)]
    pub cause: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Cancel-Reason", borrow)]
    pub cancel_reason: Option<Cow<'a, str>>,
    #[serde(rename = "CC-Agent-Answered-Time", borrow)]
    pub answered_time: Option<Cow<'a, str>>,
    #[serde(rename = "Answer-State", borrow)]
    pub answer_state: Option<Cow<'a, str>>,
    #[serde(rename = "Hangup-Cause", borrow)]
    pub hangup_cause: Option<Cow<'a, str>>,
    /// The caller's current queue (mod_callcenter sets `cc_queue` on the member channel when it
    /// enters a queue): on the old queue's end after a transfer it names the new queue.
    #[serde(rename = "variable_cc_queue", borrow)]
    pub current_queue: Option<Cow<'a, str>>,
    #[serde(rename = "variable_cc_queue_joined_epoch", borrow)]
    pub current_joined: Option<Cow<'a, str>>,
}

/// What a record is, by `Event-Name`, `Event-Subclass` and `CC-Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    QueueStart,
    QueueResume,
    QueueEnd,
    BridgeStart,
    BridgeEnd,
    BridgeFail,
    Offering,
    MaxNoAnswer,
    MembersCount,
    StatusChange,
    StateChange,
    /// Configuration and API actions (`agent-add`, `agent-*-get`, `agent-contact-change`).
    Administrative,
    /// A `callcenter::info` action not in mod_callcenter's source.
    Unknown,
    /// An event of another name or subclass.
    OtherEvent,
}

/// Actions by `CC-Action`, with their kind for `callpulse_input_records_total`.
pub const ACTIONS: &[(&str, Action, &str)] = &[
    (
        "member-queue-start",
        Action::QueueStart,
        "member_queue_start",
    ),
    (
        "member-queue-resume",
        Action::QueueResume,
        "member_queue_resume",
    ),
    ("member-queue-end", Action::QueueEnd, "member_queue_end"),
    (
        "bridge-agent-start",
        Action::BridgeStart,
        "bridge_agent_start",
    ),
    ("bridge-agent-end", Action::BridgeEnd, "bridge_agent_end"),
    ("bridge-agent-fail", Action::BridgeFail, "bridge_agent_fail"),
    ("agent-offering", Action::Offering, "agent_offering"),
    (
        "agent-max-no-answer",
        Action::MaxNoAnswer,
        "agent_max_no_answer",
    ),
    ("members-count", Action::MembersCount, "members_count"),
    (
        "agent-status-change",
        Action::StatusChange,
        "agent_status_change",
    ),
    (
        "agent-state-change",
        Action::StateChange,
        "agent_state_change",
    ),
    ("agent-add", Action::Administrative, ADMINISTRATIVE),
    (
        "agent-contact-change",
        Action::Administrative,
        ADMINISTRATIVE,
    ),
];

pub const ADMINISTRATIVE: &str = "administrative";
pub const UNKNOWN: &str = "unknown_action";
pub const OTHER_EVENT: &str = "other_event";

impl Action {
    /// The action of `CC-Action` and its kind.
    fn of(action: &str) -> (Action, &'static str) {
        if let Some((_, a, kind)) = ACTIONS.iter().find(|(name, _, _)| *name == action) {
            return (*a, kind);
        }
        // the API's `callcenter_config agent get <key>` answers
        if action.starts_with("agent-") && action.ends_with("-get") {
            return (Action::Administrative, ADMINISTRATIVE);
        }
        (Action::Unknown, UNKNOWN)
    }
}

/// One event, read.
#[derive(Debug)]
pub struct Record<'a> {
    pub action: Action,
    pub kind: &'static str,
    pub at: Millis,
    pub headers: Headers<'a>,
}

/// A header's trimmed value, `None` when absent or empty.
pub fn text<'v>(value: &'v Option<Cow<'_, str>>) -> Option<&'v str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Reads one event; an event of another subclass is read as [`Action::OtherEvent`] without
/// its time being checked.
pub fn read<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Record<'a>, Reject> {
    if bytes.len() > MAX_EVENT_BYTES.max(limits.max_message_bytes) {
        return Err(Reject::new(RejectReason::TooLarge, "message"));
    }
    let headers: Headers<'a> = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Reject::new(RejectReason::InvalidValue, "header"),
        _ => Reject::new(RejectReason::MalformedJson, "message"),
    })?;
    let name = text(&headers.event_name);
    let subclass = text(&headers.subclass);
    let action = text(&headers.action);
    if name.is_none() && subclass.is_none() && action.is_none() {
        return Err(Reject::new(RejectReason::MissingField, "Event-Name"));
    }
    let other_name = name.is_some_and(|n| n != "CUSTOM");
    let other_subclass = subclass.is_some_and(|s| s != SUBCLASS && s != "callcenter%3A%3Ainfo");
    if other_name || other_subclass {
        return Ok(Record {
            action: Action::OtherEvent,
            kind: OTHER_EVENT,
            at: 0,
            headers,
        });
    }
    let action = action.ok_or(Reject::new(RejectReason::MissingField, "CC-Action"))?;
    let (action, kind) = Action::of(action);
    let micros = text(&headers.timestamp).ok_or(Reject::new(
        RejectReason::MissingField,
        "Event-Date-Timestamp",
    ))?;
    let at = micros
        .parse::<i64>()
        .ok()
        .map(|us| us.div_euclid(1000))
        .filter(|ms| (0..=MAX_MILLIS).contains(ms))
        .ok_or(Reject::new(
            RejectReason::BadTimestamp,
            "Event-Date-Timestamp",
        ))?;
    Ok(Record {
        action,
        kind,
        at,
        headers,
    })
}

/// Epoch seconds written by mod_callcenter (`CC-Agent-Answered-Time`, `cc_queue_joined_epoch`).
pub fn epoch_seconds(value: &Option<Cow<'_, str>>) -> Option<i64> {
    text(value)?.parse().ok().filter(|s| *s > 0)
}
