//! The simulator's spec-v1 JSON (`docs/events.md`): the envelope (`v`, `id`, `type`,
//! `ts`, `contact_id`) and the optional fields of each event type, serialized with serde.
//!
//! The envelope rotates through the spellings the contract allows, so a consumer sees them all:
//! `v` on every other event, `ts` as epoch milliseconds, RFC 3339 UTC, or RFC 3339 with one of
//! a few offsets.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Serialize, Serializer};

use crate::time::Millis;

use super::SimEvent;

/// Offsets (minutes) the RFC 3339 timestamps with an offset rotate through.
const OFFSETS: [i32; 4] = [180, -300, 330, 60];

/// The fields after the envelope; `None` fields are left out.
#[derive(Serialize, Default)]
pub(super) struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) queue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) customer: Option<Customer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) queues: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) to_queue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) to_agent: Option<Supervisor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) wrapup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) resolved: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) csat: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) nps: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ces: Option<u8>,
}

/// A customer's id: a caller's phone number or a CRM id (derived from a hash).
#[derive(Clone, Copy, Debug)]
pub(super) enum Customer {
    Phone(u64),
    Crm(u64),
}

impl Serialize for Customer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Customer::Phone(n) => s.collect_str(&format_args!("+1555{:07}", n % 10_000_000)),
            Customer::Crm(n) => s.collect_str(&format_args!("crm-{:06}", n % 1_000_000)),
        }
    }
}

/// A supervisor a contact is transferred to (`sup-N`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Supervisor(pub(super) u64);

impl Serialize for Supervisor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("sup-{}", self.0))
    }
}

/// An id with the run's tag: `e-<run>-<n>` (events) or `c-<run>-<n>` (contacts).
struct RunId<'a> {
    kind: char,
    run: &'a str,
    n: u64,
}

impl std::fmt::Display for RunId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.kind, self.run, self.n)
    }
}

impl Serialize for RunId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An event's instant in one of the contract's spellings.
enum Ts {
    Millis(Millis),
    Utc(Millis),
    /// With an offset in minutes.
    Offset(Millis, i32),
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (t, offset) = match *self {
            Ts::Millis(t) => return s.serialize_i64(t),
            Ts::Utc(t) => (t, None),
            Ts::Offset(t, minutes) => (t, FixedOffset::east_opt(minutes * 60)),
        };
        // Milliseconds only when not whole seconds (`...:00Z`, `...:00.250+03:00`).
        let text = match (DateTime::from_timestamp_millis(t), offset) {
            (Some(utc), None) => utc.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            (Some(utc), Some(off)) => utc
                .with_timezone(&off)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            // Beyond chrono's range: the integer spelling.
            (None, _) => return s.serialize_i64(t),
        };
        s.serialize_str(&text)
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    v: Option<u8>,
    id: RunId<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
    ts: Ts,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_id: Option<RunId<'a>>,
    #[serde(flatten)]
    body: &'a Body<'a>,
}

/// Writes the events; ids and timestamp spellings rotate with the event counter.
pub(super) struct Encoder {
    /// The run tag of every id, derived from the seed and the start.
    pub(super) run: String,
    /// Events written so far (the next event's number).
    pub(super) next: u64,
    /// A contact's events are keyed by its contact id rather than the `key` given.
    pub(super) key_by_contact: bool,
    /// Events are keyed by the `key` given (their queue) rather than the center.
    pub(super) key_by_queue: bool,
}

impl Encoder {
    /// Appends one event of type `kind` at `t`, keyed `key` (or by contact id), for contact
    /// `contact` (if any).
    pub(super) fn emit(
        &mut self,
        out: &mut Vec<SimEvent>,
        key: &str,
        t: Millis,
        kind: &str,
        contact: Option<u64>,
        body: &Body<'_>,
    ) {
        let n = self.next;
        self.next += 1;
        let ts = match n % 3 {
            0 => Ts::Millis(t),
            1 => Ts::Utc(t),
            _ => Ts::Offset(t, OFFSETS[(n / 3 % 4) as usize]),
        };
        let envelope = Envelope {
            v: n.is_multiple_of(2).then_some(1),
            id: RunId {
                kind: 'e',
                run: &self.run,
                n,
            },
            kind,
            ts,
            contact_id: contact.map(|n| RunId {
                kind: 'c',
                run: &self.run,
                n,
            }),
            body,
        };
        // Cannot fail: strings, integers and booleans only. Were it to, the event would be one
        // the monitor rejects (and counts), not a panic in the producer.
        let json = serde_json::to_string(&envelope)
            .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()));
        let key = match contact {
            Some(n) if self.key_by_contact => (RunId {
                kind: 'c',
                run: &self.run,
                n,
            })
            .to_string(),
            _ if self.key_by_queue => key.to_string(),
            _ => super::CENTER_KEY.to_string(),
        };
        out.push(SimEvent {
            key,
            ts_ms: t,
            json,
            wrapup_ms: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_spelling_parse_back() {
        let mut enc = Encoder {
            run: "0000abcd".into(),
            next: 0,
            key_by_contact: false,
            key_by_queue: false,
        };
        let mut out = Vec::new();
        let instants = [0, 1, 999, 86_399_999, 951_782_400_000, 4_102_444_800_123];
        for t in instants {
            // Twelve events in a row go through every spelling and every offset.
            for _ in 0..12 {
                enc.emit(&mut out, "q", t, "x", None, &Body::default());
            }
        }
        let mut spellings = std::collections::BTreeSet::new();
        for e in &out {
            let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
            let ts = match &v["ts"] {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => {
                    spellings.insert(s.len());
                    crate::time::parse_rfc3339(s)
                }
                other => panic!("{other}"),
            };
            assert_eq!(ts, Some(e.ts_ms), "{}", e.json);
        }
        assert!(out[1].json.contains("\"ts\":\"1970-01-01T00:00:00Z\""));
        assert!(out[14].json.contains(".001+"), "{}", out[14].json);
        assert!(spellings.len() >= 3, "{spellings:?}");
    }
}
