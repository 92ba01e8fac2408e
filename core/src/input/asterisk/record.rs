//! One queue_log record as read: the verbs the adapter knows, both spellings (the file line and
//! the realtime/ODBC JSON row), the record's time in either spelling, and agent names.

use std::borrow::Cow;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

use crate::event::{Limits, Reject, RejectReason};
use crate::time::{parse_rfc3339, Millis, MAX_MILLIS};

/// What a verb means to the adapter.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Verb {
    EnterQueue,
    Connect,
    Abandon,
    ExitWithTimeout,
    ExitEmpty,
    ExitWithKey,
    Withdraw,
    Full,
    JoinEmpty,
    CompleteCaller,
    CompleteAgent,
    Transfer,
    BlindTransfer,
    AttendedTransfer,
    WrapupStart,
    SysCompat,
    AddMember,
    RemoveMember,
    AgentLogin,
    AgentCallbackLogin,
    AgentLogoff,
    AgentCallbackLogoff,
    Pause,
    PauseAll,
    Unpause,
    UnpauseAll,
    /// Seen and counted, nothing produced (ring events, config, outbound verbs, …).
    Ignored,
}

/// Every verb of docs/inputs.md's table, as Asterisk writes it, with its kind label.
pub const VERBS: &[(&str, &str, Verb)] = &[
    ("ENTERQUEUE", "enterqueue", Verb::EnterQueue),
    ("CONNECT", "connect", Verb::Connect),
    ("ABANDON", "abandon", Verb::Abandon),
    ("EXITWITHTIMEOUT", "exitwithtimeout", Verb::ExitWithTimeout),
    ("EXITEMPTY", "exitempty", Verb::ExitEmpty),
    ("EXITWITHKEY", "exitwithkey", Verb::ExitWithKey),
    ("WITHDRAW", "withdraw", Verb::Withdraw),
    ("FULL", "full", Verb::Full),
    ("JOINEMPTY", "joinempty", Verb::JoinEmpty),
    ("COMPLETECALLER", "completecaller", Verb::CompleteCaller),
    ("COMPLETEAGENT", "completeagent", Verb::CompleteAgent),
    ("TRANSFER", "transfer", Verb::Transfer),
    ("BLINDTRANSFER", "blindtransfer", Verb::BlindTransfer),
    (
        "ATTENDEDTRANSFER",
        "attendedtransfer",
        Verb::AttendedTransfer,
    ),
    ("WRAPUPSTART", "wrapupstart", Verb::WrapupStart),
    ("SYSCOMPAT", "syscompat", Verb::SysCompat),
    ("ADDMEMBER", "addmember", Verb::AddMember),
    ("REMOVEMEMBER", "removemember", Verb::RemoveMember),
    ("AGENTLOGIN", "agentlogin", Verb::AgentLogin),
    (
        "AGENTCALLBACKLOGIN",
        "agentcallbacklogin",
        Verb::AgentCallbackLogin,
    ),
    ("AGENTLOGOFF", "agentlogoff", Verb::AgentLogoff),
    (
        "AGENTCALLBACKLOGOFF",
        "agentcallbacklogoff",
        Verb::AgentCallbackLogoff,
    ),
    ("PAUSE", "pause", Verb::Pause),
    ("PAUSEALL", "pauseall", Verb::PauseAll),
    ("UNPAUSE", "unpause", Verb::Unpause),
    ("UNPAUSEALL", "unpauseall", Verb::UnpauseAll),
    ("RINGNOANSWER", "ringnoanswer", Verb::Ignored),
    ("RINGCANCELED", "ringcanceled", Verb::Ignored),
    ("AGENTDUMP", "agentdump", Verb::Ignored),
    ("PENALTY", "penalty", Verb::Ignored),
    ("RINGINUSE", "ringinuse", Verb::Ignored),
    ("QUEUESTART", "queuestart", Verb::Ignored),
    ("CONFIGRELOAD", "configreload", Verb::Ignored),
    ("DID", "did", Verb::Ignored),
    ("INFO", "info", Verb::Ignored),
    ("OUTDIAL", "outdial", Verb::Ignored),
    ("OUTANSWER", "outanswer", Verb::Ignored),
    ("OUTCANCEL", "outcancel", Verb::Ignored),
    ("OUTCHANUNAVAIL", "outchanunavail", Verb::Ignored),
    ("OUTCONGESTION", "outcongestion", Verb::Ignored),
    ("OUTTRANSFER", "outtransfer", Verb::Ignored),
];

/// The kind label of a verb outside the table.
pub const UNKNOWN: &str = "unknown";

/// A record the adapter acts on, owning its text (it may be held back until its instant is complete).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub at: Millis,
    pub verb: Verb,
    /// Empty when the record has none (`NONE` or blank).
    pub callid: String,
    pub queue: String,
    /// Normalised (technology and `@context` removed); empty when none.
    pub agent: String,
    /// data1 and data2 (the later fields mean nothing to the mapping).
    pub data: [String; 2],
    /// Last, so that ordering records never compares it (it follows from `verb`).
    #[serde(with = "kind_label")]
    pub kind: KindLabel,
}

/// A kind label of the table (an alias: serde would take a literal `&'static str` field for
/// a string borrowed from the input, which a checkpoint's bytes cannot lend).
pub type KindLabel = &'static str;

/// A record's kind in a checkpoint: its label, read back as the table's own `&'static str`.
mod kind_label {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let label = String::deserialize(d)?;
        Ok(super::VERBS
            .iter()
            .map(|v| v.1)
            .find(|k| *k == label)
            .unwrap_or(super::UNKNOWN))
    }
}

/// A record read: the verb's kind label and, for verbs that produce something, the record.
pub struct Read {
    pub at: Millis,
    pub kind: &'static str,
    pub record: Option<Record>,
}

fn invalid(field: &'static str) -> Reject {
    Reject::new(RejectReason::InvalidValue, field)
}

fn missing(field: &'static str) -> Reject {
    Reject::new(RejectReason::MissingField, field)
}

fn bad_time() -> Reject {
    Reject::new(RejectReason::BadTimestamp, "time")
}

/// Reads one record in either spelling.
pub fn read(bytes: &[u8], tz: Tz, limits: &Limits) -> Result<Read, Reject> {
    if bytes.len() > limits.max_message_bytes {
        return Err(Reject::new(RejectReason::TooLarge, "message"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Reject::new(RejectReason::MalformedJson, "message"))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Reject::new(RejectReason::MalformedJson, "message"));
    }
    let fields = if text.starts_with('{') {
        row_fields(text, tz)?
    } else {
        line_fields(text)?
    };
    fields.judge(limits)
}

/// The fields of a record before they are judged (borrowed from a file line).
struct Fields<'a> {
    at: Millis,
    callid: Cow<'a, str>,
    queue: Cow<'a, str>,
    agent: Cow<'a, str>,
    verb: Cow<'a, str>,
    data: [Cow<'a, str>; 2],
}

fn line_fields(text: &str) -> Result<Fields<'_>, Reject> {
    let mut parts = text.split('|');
    let epoch = parts.next().unwrap_or_default().trim();
    let at = if epoch.is_empty() {
        return Err(missing("time"));
    } else {
        epoch_seconds(epoch, false)?
    };
    let mut next = || parts.next().map(Cow::Borrowed);
    let callid = next().ok_or_else(|| missing("callid"))?;
    let queue = next().ok_or_else(|| missing("queuename"))?;
    let agent = next().ok_or_else(|| missing("agent"))?;
    let verb = next().ok_or_else(|| missing("event"))?;
    let data = std::array::from_fn(|_| next().unwrap_or_default());
    Ok(Fields {
        at,
        callid,
        queue,
        agent,
        verb,
        data,
    })
}

/// The realtime/ODBC row; every field read leniently and judged afterwards.
#[derive(Deserialize)]
struct Row {
    #[serde(default)]
    time: Value,
    #[serde(default)]
    callid: Value,
    #[serde(default)]
    queuename: Value,
    #[serde(default)]
    agent: Value,
    #[serde(default)]
    event: Value,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    data1: Value,
    #[serde(default)]
    data2: Value,
    #[serde(default)]
    data3: Value,
    #[serde(default)]
    data4: Value,
    #[serde(default)]
    data5: Value,
}

/// A text column: a string, a number written as text, or empty for null.
fn column(v: Value, field: &'static str) -> Result<String, Reject> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid(field)),
    }
}

fn row_fields(text: &str, tz: Tz) -> Result<Fields<'static>, Reject> {
    let row: Row = serde_json::from_str(text).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => RejectReason::InvalidValue,
            _ => RejectReason::MalformedJson,
        };
        Reject::new(reason, "message")
    })?;
    let at = match &row.time {
        Value::Null => return Err(missing("time")),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(s), _) => s.checked_mul(1000).ok_or_else(bad_time)?,
            (None, Some(f)) if f.is_finite() && f.abs() < 1e14 => (f * 1000.0).floor() as Millis,
            _ => return Err(bad_time()),
        },
        Value::String(s) => row_time(s.trim(), tz)?,
        _ => return Err(bad_time()),
    };
    let mut data: [Cow<'static, str>; 2] = Default::default();
    let split = [row.data1, row.data2, row.data3, row.data4, row.data5];
    if split.iter().all(Value::is_null) {
        let joined = column(row.data, "data")?;
        for (slot, part) in data.iter_mut().zip(joined.split('|')) {
            *slot = Cow::Owned(part.to_owned());
        }
    } else {
        let fields = ["data1", "data2", "data3", "data4", "data5"];
        for (i, (v, field)) in split.into_iter().zip(fields).enumerate() {
            let text = column(v, field)?;
            if let Some(slot) = data.get_mut(i) {
                *slot = Cow::Owned(text);
            }
        }
    }
    Ok(Fields {
        at: in_range(at)?,
        callid: Cow::Owned(column(row.callid, "callid")?),
        queue: Cow::Owned(column(row.queuename, "queuename")?),
        agent: Cow::Owned(column(row.agent, "agent")?),
        verb: Cow::Owned(column(row.event, "event")?),
        data,
    })
}

fn in_range(ms: Millis) -> Result<Millis, Reject> {
    if (0..=MAX_MILLIS).contains(&ms) {
        Ok(ms)
    } else {
        Err(bad_time())
    }
}

/// Epoch seconds: digits, with a fraction when `fraction` allows it.
fn epoch_seconds(text: &str, fraction: bool) -> Result<Millis, Reject> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) if fraction => (w, f),
        Some(_) => return Err(bad_time()),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || frac.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad_time());
    }
    let secs: i64 = whole.parse().map_err(|_| bad_time())?;
    // milliseconds from the fraction's first three digits (later ones truncated)
    let ms = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |ms, digit| ms * 10 + i64::from(digit - b'0'));
    in_range(secs * 1000 + ms)
}

/// `time` of a row as a string: epoch seconds, RFC 3339 (or PostgreSQL) with an offset, or a local datetime
/// (`2026-11-23 10:00:00[.fraction]`, also with `T`) in `tz`. An ambiguous local time (the
/// repeated hour when clocks go back) is read as the earlier instant; a skipped one is bad.
fn row_time(text: &str, tz: Tz) -> Result<Millis, Reject> {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch_seconds(text, true);
    }
    if let Some(ms) = parse_rfc3339(text) {
        return in_range(ms);
    }
    // PostgreSQL's spelling of `timestamp with time zone`: `2026-11-23 11:00:00.25+01`
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return in_range(t.timestamp_millis());
    }
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .ok_or_else(bad_time)?;
    let local = match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(earlier, _) => earlier,
        LocalResult::None => return Err(bad_time()),
    };
    in_range(local.timestamp_millis())
}

/// The agent a member name means: the channel technology (`SIP/`, `Local/`, `Agent/`, …) and any
/// `@context` (and what follows it) removed; a name without `/` as written.
pub fn agent_name(member: &str) -> &str {
    let member = member.trim();
    match member.split_once('/') {
        None => member,
        Some((_, rest)) => {
            let end = rest.find(['@', '/']).unwrap_or(rest.len());
            &rest[..end]
        }
    }
}

/// The field without blanks, or empty when it holds no value.
fn keep(s: &str) -> &str {
    if present(s) {
        s.trim()
    } else {
        ""
    }
}

/// `NONE` and blank mean "no value" in queue_log.
fn present(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && !s.eq_ignore_ascii_case("NONE")
}

fn within(s: &str, max: usize, field: &'static str) -> Result<(), Reject> {
    if s.len() <= max || s.chars().count() <= max {
        Ok(())
    } else {
        Err(invalid(field))
    }
}

impl Fields<'_> {
    fn judge(self, limits: &Limits) -> Result<Read, Reject> {
        let verb_text = self.verb.trim();
        if verb_text.is_empty() {
            return Err(missing("event"));
        }
        let Some(&(_, kind, verb)) = VERBS
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(verb_text))
        else {
            return Ok(Read {
                at: self.at,
                kind: UNKNOWN,
                record: None,
            });
        };
        if verb == Verb::Ignored {
            return Ok(Read {
                at: self.at,
                kind,
                record: None,
            });
        }
        let max = limits.max_string_chars;
        use Verb::*;
        let needs_call = !matches!(
            verb,
            AddMember
                | RemoveMember
                | AgentLogin
                | AgentCallbackLogin
                | AgentLogoff
                | AgentCallbackLogoff
                | Pause
                | PauseAll
                | Unpause
                | UnpauseAll
                | WrapupStart
        );
        let needs_queue = needs_call || matches!(verb, AddMember | RemoveMember);
        let needs_agent = !matches!(
            verb,
            EnterQueue
                | Abandon
                | ExitWithTimeout
                | ExitEmpty
                | ExitWithKey
                | Withdraw
                | Full
                | JoinEmpty
                | SysCompat
        );
        let callid = keep(&self.callid);
        let queue = keep(&self.queue);
        let raw_agent = keep(&self.agent);
        let agent = agent_name(raw_agent);
        if needs_call && callid.is_empty() {
            return Err(missing("callid"));
        }
        if needs_queue && queue.is_empty() {
            return Err(missing("queuename"));
        }
        if needs_agent && raw_agent.is_empty() {
            return Err(missing("agent"));
        }
        if needs_agent && agent.is_empty() {
            return Err(invalid("agent"));
        }
        within(callid, max, "callid")?;
        within(queue, max, "queuename")?;
        within(agent, max, "agent")?;
        if verb == WrapupStart {
            wrapup_seconds(&self.data[0])?;
        }
        Ok(Read {
            at: self.at,
            kind,
            record: Some(Record {
                at: self.at,
                verb,
                kind,
                callid: callid.to_owned(),
                queue: queue.to_owned(),
                agent: agent.to_owned(),
                // a longer data field means nothing to the mapping (a caller id or pause
                // reason past the limit is left out): it is not held
                data: self.data.map(|d| {
                    if within(&d, max, "data").is_ok() {
                        d.into_owned()
                    } else {
                        String::new()
                    }
                }),
            }),
        })
    }
}

/// The longest wrap-up a WRAPUPSTART may announce (a day); more is an invalid value.
pub const MAX_WRAPUP_SECONDS: i64 = 86_400;

/// WRAPUPSTART's data1: whole seconds of wrap-up, 0..=a day.
pub fn wrapup_seconds(data1: &str) -> Result<i64, Reject> {
    let text = data1.trim();
    if text.is_empty() {
        return Err(missing("data1"));
    }
    match text.parse::<i64>() {
        Ok(s) if (0..=MAX_WRAPUP_SECONDS).contains(&s) => Ok(s),
        _ => Err(invalid("data1")),
    }
}
