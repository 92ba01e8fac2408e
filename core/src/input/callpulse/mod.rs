//! The `callpulse` format: one JSON object per message, exactly as `docs/events.md` says.
//!
//! Strings borrow from the input (a `Cow` owns only when the JSON had escapes); every field is
//! read leniently first and judged afterwards, so each bad message gets exactly one reject reason.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::event::*;
use crate::time::{parse_rfc3339, Millis, MAX_MILLIS};

mod fast;

/// Decodes and validates one message.
pub fn decode<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Event<'a>, Reject> {
    if bytes.len() > limits.max_message_bytes {
        return Err(Reject::new(RejectReason::TooLarge, "message"));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(Reject::new(RejectReason::MalformedJson, "message"));
    }
    let mut raw = Raw::default();
    match fast::parse(bytes, &mut raw) {
        Some(()) => {
            let event = raw.validate(limits);
            debug_assert_eq!(
                event,
                general(bytes, limits),
                "the fast path read {:?} otherwise",
                String::from_utf8_lossy(bytes)
            );
            event
        }
        None => general(bytes, limits),
    }
}

/// The general path: serde_json reads any JSON and says why a message is malformed.
fn general<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Event<'a>, Reject> {
    // JSON is UTF-8 throughout, in the fields no reader looks at too: serde_json skips an
    // ignored string without checking it (the fast path checks every string it reads)
    if std::str::from_utf8(bytes).is_err() {
        return Err(Reject::new(RejectReason::MalformedJson, "message"));
    }
    let mut raw: Raw<'a> = serde_json::from_slice(bytes).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => RejectReason::InvalidValue,
            _ => RejectReason::MalformedJson,
        };
        Reject::new(reason, "message")
    })?;
    raw.validate(limits)
}

/// A JSON value as read, before it is judged: never fails to deserialize.
#[derive(Debug, Default)]
enum Scalar<'a> {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Scalar<'a>>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Scalar<'a>, D2::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Scalar<'a>>()? {
                    items.push(item);
                }
                Ok(Scalar::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The envelope and every field any event type may carry; unknown fields are skipped.
#[derive(Deserialize, Default)]
struct Raw<'a> {
    #[serde(default, borrow)]
    v: Scalar<'a>,
    #[serde(default, borrow)]
    id: Scalar<'a>,
    #[serde(default, borrow, rename = "type")]
    kind: Scalar<'a>,
    #[serde(default, borrow)]
    ts: Scalar<'a>,
    #[serde(default, borrow)]
    contact_id: Scalar<'a>,
    #[serde(default, borrow)]
    queue: Scalar<'a>,
    #[serde(default, borrow)]
    agent: Scalar<'a>,
    #[serde(default, borrow)]
    channel: Scalar<'a>,
    #[serde(default, borrow)]
    customer: Scalar<'a>,
    #[serde(default, borrow)]
    priority: Scalar<'a>,
    #[serde(default, borrow)]
    reason: Scalar<'a>,
    #[serde(default, borrow)]
    to_queue: Scalar<'a>,
    #[serde(default, borrow)]
    to_agent: Scalar<'a>,
    #[serde(default, borrow)]
    resolved: Scalar<'a>,
    #[serde(default, borrow)]
    wrapup: Scalar<'a>,
    #[serde(default, borrow)]
    csat: Scalar<'a>,
    #[serde(default, borrow)]
    nps: Scalar<'a>,
    #[serde(default, borrow)]
    ces: Scalar<'a>,
    #[serde(default, borrow)]
    state: Scalar<'a>,
    #[serde(default, borrow)]
    queues: Scalar<'a>,
}

fn invalid(field: &'static str) -> Reject {
    Reject::new(RejectReason::InvalidValue, field)
}

fn missing(field: &'static str) -> Reject {
    Reject::new(RejectReason::MissingField, field)
}

/// A name or id: a string of 1..=max characters.
fn name<'a>(
    s: Scalar<'a>,
    field: &'static str,
    max: usize,
) -> Result<Option<Cow<'a, str>>, Reject> {
    match s {
        Scalar::Null => Ok(None),
        Scalar::Str(text)
            if !text.is_empty() && (text.len() <= max || text.chars().count() <= max) =>
        {
            Ok(Some(text))
        }
        _ => Err(invalid(field)),
    }
}

fn required<'a>(s: Scalar<'a>, field: &'static str, max: usize) -> Result<Cow<'a, str>, Reject> {
    name(s, field, max)?.ok_or_else(|| missing(field))
}

fn enumerated<T: Copy>(
    s: &Scalar<'_>,
    field: &'static str,
    options: &[(&str, T)],
) -> Result<Option<T>, Reject> {
    match s {
        Scalar::Null => Ok(None),
        Scalar::Str(text) => options
            .iter()
            .find(|(n, _)| *n == text.as_ref())
            .map(|(_, v)| Some(*v))
            .ok_or_else(|| invalid(field)),
        _ => Err(invalid(field)),
    }
}

fn score(
    s: &Scalar<'_>,
    field: &'static str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<u8>, Reject> {
    match *s {
        Scalar::Null => Ok(None),
        Scalar::Int(v) if range.contains(&v) => Ok(Some(v as u8)),
        Scalar::Float(v) if v.fract() == 0.0 && range.contains(&(v as i64)) => Ok(Some(v as u8)),
        _ => Err(invalid(field)),
    }
}

fn flag(s: &Scalar<'_>, field: &'static str) -> Result<Option<bool>, Reject> {
    match *s {
        Scalar::Null => Ok(None),
        Scalar::Bool(b) => Ok(Some(b)),
        _ => Err(invalid(field)),
    }
}

fn timestamp(s: &Scalar<'_>) -> Result<Millis, Reject> {
    let bad = Reject::new(RejectReason::BadTimestamp, "ts");
    let ms = match s {
        Scalar::Null => return Err(missing("ts")),
        Scalar::Int(ms) => *ms,
        Scalar::Float(v) if v.fract() == 0.0 && v.abs() < 1e17 => *v as i64,
        Scalar::Str(text) => parse_rfc3339(text).ok_or(bad)?,
        _ => return Err(bad),
    };
    if (0..=MAX_MILLIS).contains(&ms) {
        Ok(ms)
    } else {
        Err(bad)
    }
}

/// `channel` values and what they mean to the engine.
pub const CHANNELS: [(&str, Channel); 4] = [
    ("voice", Channel::Voice),
    ("chat", Channel::Chat),
    ("email", Channel::Email),
    ("callback", Channel::Callback),
];
/// `state` values of `agent.state`.
pub const STATES: [(&str, AgentState); 5] = [
    ("logged_out", AgentState::LoggedOut),
    ("available", AgentState::Available),
    ("not_ready", AgentState::NotReady),
    ("busy", AgentState::Busy),
    ("wrapup", AgentState::Wrapup),
];
/// `reason` values of `contact.overflowed`.
pub const OVERFLOW_REASONS: [(&str, OverflowReason); 5] = [
    ("timeout", OverflowReason::Timeout),
    ("no_agents", OverflowReason::NoAgents),
    ("full", OverflowReason::Full),
    ("key", OverflowReason::Key),
    ("other", OverflowReason::Other),
];
/// The contact event types (`type`), besides `agent.state`.
pub const STEPS: [(&str, ContactStep); 11] = [
    ("contact.offered", ContactStep::Offered),
    ("contact.answered", ContactStep::Answered),
    ("contact.abandoned", ContactStep::Abandoned),
    ("contact.overflowed", ContactStep::Overflowed),
    ("contact.held", ContactStep::Held),
    ("contact.resumed", ContactStep::Resumed),
    ("contact.responded", ContactStep::Responded),
    ("contact.transferred", ContactStep::Transferred),
    ("contact.ended", ContactStep::Ended),
    ("contact.wrapup_ended", ContactStep::WrapupEnded),
    ("survey.submitted", ContactStep::Survey),
];

impl<'a> Raw<'a> {
    /// Judges the fields read (taking the strings it keeps).
    fn validate(&mut self, limits: &Limits) -> Result<Event<'a>, Reject> {
        use std::mem::take;
        let max = limits.max_string_chars;
        match self.v {
            Scalar::Null | Scalar::Int(1) => {}
            Scalar::Int(_) => return Err(Reject::new(RejectReason::UnsupportedVersion, "v")),
            Scalar::Float(f) if f.fract() == 0.0 => {
                if f != 1.0 {
                    return Err(Reject::new(RejectReason::UnsupportedVersion, "v"));
                }
            }
            _ => return Err(invalid("v")),
        }
        let kind = match &self.kind {
            Scalar::Null => return Err(missing("type")),
            Scalar::Str(t) => t.as_ref(),
            _ => return Err(Reject::new(RejectReason::UnknownType, "type")),
        };
        let step = STEPS.iter().find(|(n, _)| *n == kind).map(|(_, s)| *s);
        if step.is_none() && kind != "agent.state" {
            return Err(Reject::new(RejectReason::UnknownType, "type"));
        }
        let ts = timestamp(&self.ts)?;
        let id = name(take(&mut self.id), "id", max)?;
        let body = match step {
            None => {
                let agent = required(take(&mut self.agent), "agent", max)?;
                let state =
                    enumerated(&self.state, "state", &STATES)?.ok_or_else(|| missing("state"))?;
                let reason = name(take(&mut self.reason), "reason", max)?;
                let queues = match take(&mut self.queues) {
                    Scalar::Null => None,
                    Scalar::List(items) => Some(
                        items
                            .into_iter()
                            .map(|q| required(q, "queues", max).map_err(|_| invalid("queues")))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    _ => return Err(invalid("queues")),
                };
                Body::Agent(AgentEvent {
                    agent,
                    state,
                    queues,
                    reason,
                })
            }
            Some(step) => {
                let contact_id = required(take(&mut self.contact_id), "contact_id", max)?;
                let queue = name(take(&mut self.queue), "queue", max)?;
                let agent = name(take(&mut self.agent), "agent", max)?;
                let mut event = ContactEvent {
                    step,
                    contact_id,
                    queue,
                    agent,
                    channel: Channel::Voice,
                    wrapup: None,
                    resolved: None,
                    customer: None,
                    scores: Scores::default(),
                    priority: None,
                };
                match step {
                    ContactStep::Offered => {
                        if event.queue.is_none() {
                            return Err(missing("queue"));
                        }
                        event.channel = enumerated(&self.channel, "channel", &CHANNELS)?
                            .unwrap_or(Channel::Voice);
                        // an empty caller id is no customer, not a broken offer
                        event.customer = match take(&mut self.customer) {
                            Scalar::Str(text) if text.is_empty() => None,
                            other => name(other, "customer", max)?,
                        };
                        // an integral float (2.0) is an integer, as for `ts` and the scores
                        let integral =
                            matches!(self.priority, Scalar::Float(f) if f.fract() == 0.0);
                        event.priority = match self.priority {
                            Scalar::Null => None,
                            Scalar::Int(p) => Some(p),
                            Scalar::Float(f) if integral => Some(f as i64),
                            _ => return Err(invalid("priority")),
                        };
                    }
                    ContactStep::Answered
                    | ContactStep::Held
                    | ContactStep::Resumed
                    | ContactStep::Responded
                    | ContactStep::Transferred
                    | ContactStep::Ended
                    | ContactStep::WrapupEnded => {
                        if event.agent.is_none() {
                            return Err(missing("agent"));
                        }
                        if step == ContactStep::Ended {
                            event.resolved = flag(&self.resolved, "resolved")?;
                            event.wrapup = flag(&self.wrapup, "wrapup")?;
                        }
                        if step == ContactStep::Transferred {
                            name(take(&mut self.to_queue), "to_queue", max)?;
                            name(take(&mut self.to_agent), "to_agent", max)?;
                            event.wrapup = flag(&self.wrapup, "wrapup")?;
                        }
                    }
                    ContactStep::Overflowed => {
                        enumerated(&self.reason, "reason", &OVERFLOW_REASONS)?;
                    }
                    ContactStep::Abandoned => {}
                    ContactStep::Survey => {
                        event.scores = Scores {
                            csat: score(&self.csat, "csat", 1..=5)?,
                            nps: score(&self.nps, "nps", 0..=10)?,
                            ces: score(&self.ces, "ces", 1..=7)?,
                        };
                    }
                }
                Body::Contact(event)
            }
        };
        Ok(Event { id, ts, body })
    }
}

#[cfg(test)]
mod tests;
