//! Reading Amazon Connect JSON: fields looked up by name in any letter case (AWS's own samples
//! spell `agentInfo` and `AgentInfo`), ARNs cut to their resource id, ISO 8601 timestamps.

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::event::{Reject, RejectReason};
use crate::time::Millis;

/// A JSON object of a record.
pub type Object = Map<String, Value>;

/// The field `name` of `obj`, matched exactly or else in any letter case; `null` is absent.
pub fn field<'a>(obj: &'a Object, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// The object at `name`, if it is one.
pub fn object<'a>(obj: &'a Object, name: &str) -> Option<&'a Object> {
    field(obj, name).and_then(Value::as_object)
}

/// The non-empty string at `name`, if it is one.
pub fn text<'a>(obj: &'a Object, name: &str) -> Option<&'a str> {
    field(obj, name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The string at `path` (object names, then the field), if every step is there.
pub fn text_at<'a>(obj: &'a Object, path: &[&str]) -> Option<&'a str> {
    let (last, objects) = path.split_last()?;
    let mut at = obj;
    for name in objects {
        at = object(at, name)?;
    }
    text(at, last)
}

/// Instants before this (the first second of 1970: `1970-01-01T00:00:00.001Z`, epoch 0) are
/// Connect's "not set" placeholders, not instants.
const NOT_SET_BEFORE: Millis = 1_000;

/// The instant at `name`: an ISO 8601 / RFC 3339 string or epoch milliseconds; `Ok(None)` when
/// absent or a "not set" placeholder, a `bad_timestamp` reject when present and unreadable.
pub fn instant(obj: &Object, name: &'static str) -> Result<Option<Millis>, Reject> {
    let bad = || Reject::new(RejectReason::BadTimestamp, name);
    let at = match field(obj, name) {
        None => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.timestamp_millis())
            .map_err(|_| bad())?,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    Ok((!(0..NOT_SET_BEFORE).contains(&at)).then_some(at))
}

/// A whole number of seconds at `name` (durations such as `CustomerHoldDuration`); absent,
/// negative or unreadable is `None`.
pub fn seconds(obj: &Object, name: &str) -> Option<i64> {
    let v = field(obj, name)?;
    let secs = v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as i64)
}

/// The resource id an ARN ends with (`…:instance/<i>/queue/<id>` → `<id>`,
/// `…/agent/<id>` → `<id>`); a value that is no ARN is its own id.
pub fn arn_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Whether a queue ARN names an agent's own queue (`…/queue/agent/<id>`), which routes one
/// agent's transfers and is no queue of the center.
pub fn is_agent_queue(arn: &str) -> bool {
    arn.contains("/queue/agent/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(json: &str) -> Object {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fields_are_found_in_any_letter_case_and_null_is_absent() {
        let o = obj(r#"{"AgentInfo":{"AgentArn":"arn:x/agent/a1"},"queueInfo":null}"#);
        assert_eq!(
            text_at(&o, &["agentInfo", "agentArn"]),
            Some("arn:x/agent/a1")
        );
        assert!(field(&o, "queueInfo").is_none());
    }

    #[test]
    fn instants_read_iso_strings_with_or_without_fraction_and_epoch_millis() {
        let o = obj(
            r#"{"a":"2021-08-04T17:17:53.000Z","b":"2019-08-21T20:33:47Z","c":1628097473000,"d":"yesterday"}"#,
        );
        assert_eq!(instant(&o, "a").unwrap(), Some(1_628_097_473_000));
        assert_eq!(instant(&o, "b").unwrap(), Some(1_566_419_627_000));
        assert_eq!(instant(&o, "c").unwrap(), Some(1_628_097_473_000));
        assert_eq!(instant(&o, "e").unwrap(), None);
        let unset = obj(r#"{"a":"1970-01-01T00:00:00.001Z","b":"1970-01-01T00:00:00Z","c":0}"#);
        for name in ["a", "b", "c"] {
            assert_eq!(instant(&unset, name).unwrap(), None, "{name} is not set");
        }
        assert_eq!(
            instant(&o, "d").unwrap_err().reason,
            RejectReason::BadTimestamp
        );
    }

    #[test]
    fn arns_are_cut_to_their_id() {
        let q = "arn:aws:connect:us-west-2:123456789012:instance/abc/queue/q-1";
        assert_eq!(arn_id(q), "q-1");
        assert!(!is_agent_queue(q));
        assert!(is_agent_queue(
            "arn:aws:connect:r:1:instance/abc/queue/agent/a-9"
        ));
        assert_eq!(arn_id("sales"), "sales");
    }
}
