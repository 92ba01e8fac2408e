//! Reading one TaskRouter event in any of its three spellings — an Event Streams CloudEvent
//! (`data.payload`, `data` possibly a JSON string), the EventCallbackUrl webhook's form fields
//! (`EventType`, `TaskSid`, …) and the Events REST API record (`event_type`, `event_data`) —
//! into one [`Record`] of the fields the mapping reads.

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::event::{Reject, RejectReason};
use crate::time::{Millis, MAX_MILLIS};

type Object = Map<String, Value>;

/// The prefix of Event Streams' TaskRouter event types.
const CLOUD_PREFIX: &str = "com.twilio.taskrouter.";

/// One event, read.
#[derive(Debug, Default, PartialEq)]
pub struct Record {
    /// The event type without prefix (`task-queue.entered`).
    pub event_type: String,
    /// The `EV…` sid, the same on every route; else the CloudEvent id.
    pub sid: Option<String>,
    pub at: Millis,
    pub task: Option<String>,
    /// The task's attributes (a JSON object, or a JSON string of one).
    pub attributes: Object,
    pub priority: Option<i64>,
    pub channel: Option<String>,
    pub queue_name: Option<String>,
    pub queue_sid: Option<String>,
    pub worker_name: Option<String>,
    pub worker_sid: Option<String>,
    pub activity: Option<String>,
    pub canceled_reason: Option<String>,
}

/// The field `snake` of `obj`, in its snake_case (Event Streams, REST) or PascalCase (webhook)
/// spelling; empty strings and `null` are absent.
fn field<'a>(obj: &'a Object, snake: &str) -> Option<&'a Value> {
    let pascal: String = snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    obj.get(snake)
        .or_else(|| obj.get(&pascal))
        .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
}

fn text(obj: &Object, snake: &str) -> Option<String> {
    match field(obj, snake)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn integer(obj: &Object, snake: &str) -> Option<i64> {
    match field(obj, snake)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An instant: epoch milliseconds (number or string) or an RFC 3339 string.
fn instant(value: &Value, seconds: bool) -> Option<Millis> {
    let at = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => DateTime::parse_from_rfc3339(s.trim())
                .ok()?
                .timestamp_millis(),
        },
        _ => return None,
    };
    let at = if seconds && !matches!(value, Value::String(s) if s.contains('T')) {
        at.checked_mul(1000)?
    } else {
        at
    };
    (0..=MAX_MILLIS).contains(&at).then_some(at)
}

/// An object given as an object or as a JSON string of one.
fn object(value: Option<&Value>) -> Result<Option<Object>, Reject> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o.clone())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Ok(Some(o)),
            _ => Err(Reject::new(RejectReason::InvalidValue, "data")),
        },
        Some(_) => Err(Reject::new(RejectReason::InvalidValue, "data")),
    }
}

/// Reads one event object.
pub fn read(obj: &Object) -> Result<Record, Reject> {
    let missing = |f| Reject::new(RejectReason::MissingField, f);
    // (event type, the object holding the fields, the sid, the time candidates)
    let (event_type, fields, sid, times): (String, Object, Option<String>, Vec<(Value, bool)>) =
        if let Some(kind) = obj.get("type").and_then(Value::as_str) {
            let Some(event_type) = kind.strip_prefix(CLOUD_PREFIX) else {
                return Ok(Record {
                    event_type: kind.to_owned(),
                    ..Record::default()
                });
            };
            let data = object(obj.get("data"))?.ok_or(missing("data"))?;
            let payload = object(data.get("payload"))?.unwrap_or_else(|| data.clone());
            let sid = text(&payload, "sid")
                .filter(|s| s.starts_with("EV"))
                .or_else(|| text(&data, "sid").filter(|s| s.starts_with("EV")))
                .or_else(|| text(obj, "id"));
            let mut times = Vec::new();
            for v in [
                payload.get("timestamp"),
                data.get("timestamp"),
                obj.get("time"),
            ]
            .into_iter()
            .flatten()
            {
                times.push((v.clone(), false));
            }
            (event_type.to_owned(), payload, sid, times)
        } else if let Some(kind) = obj.get("event_type").and_then(Value::as_str) {
            let data = object(obj.get("event_data"))?.unwrap_or_default();
            let times = [obj.get("event_date_ms"), obj.get("event_date")]
                .into_iter()
                .flatten()
                .map(|v| (v.clone(), false))
                .collect();
            (kind.to_owned(), data, text(obj, "sid"), times)
        } else if let Some(kind) = obj.get("EventType").and_then(Value::as_str) {
            let mut times: Vec<(Value, bool)> = Vec::new();
            if let Some(v) = obj.get("TimestampMs") {
                times.push((v.clone(), false));
            }
            if let Some(v) = obj.get("Timestamp") {
                times.push((v.clone(), true));
            }
            (kind.to_owned(), obj.clone(), text(obj, "sid"), times)
        } else {
            return Err(missing("type"));
        };
    let at = times
        .iter()
        .find_map(|(v, secs)| instant(v, *secs))
        .ok_or_else(|| match times.is_empty() {
            true => missing("timestamp"),
            false => Reject::new(RejectReason::BadTimestamp, "timestamp"),
        })?;
    Ok(Record {
        event_type: event_type.trim().to_owned(),
        sid,
        at,
        task: text(&fields, "task_sid"),
        attributes: object(field(&fields, "task_attributes"))?.unwrap_or_default(),
        priority: integer(&fields, "task_priority"),
        channel: text(&fields, "task_channel_unique_name"),
        queue_name: text(&fields, "task_queue_name"),
        queue_sid: text(&fields, "task_queue_sid"),
        worker_name: text(&fields, "worker_name"),
        worker_sid: text(&fields, "worker_sid"),
        activity: text(&fields, "worker_activity_name"),
        canceled_reason: text(&fields, "task_canceled_reason"),
    })
}

/// The customer's conversation a task stands for: `flexInteractionSid`, `call_sid`,
/// `conversationSid` of its attributes, else the task.
pub fn contact(rec: &Record) -> Option<&str> {
    ["flexInteractionSid", "call_sid", "conversationSid"]
        .iter()
        .find_map(|k| rec.attributes.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(rec.task.as_deref())
}

/// The customer (`TaskAttributes.from`).
pub fn customer(rec: &Record) -> Option<&str> {
    rec.attributes
        .get("from")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}
