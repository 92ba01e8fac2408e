//! `[[kafka.inputs]]`: which topic carries which input format, and the format's settings.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::de::Deserializer;
use serde::Deserialize;

use super::file::Zone;

/// The wire format of an input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One events.md JSON object per message.
    #[default]
    Callpulse,
    /// Asterisk app_queue `queue_log` records (inputs.md), file lines or realtime JSON rows.
    Asterisk,
    /// Amazon Connect contact events, agent event stream records and contact records (inputs.md).
    Connect,
}

impl InputFormat {
    pub const ALL: [InputFormat; 3] = [
        InputFormat::Callpulse,
        InputFormat::Asterisk,
        InputFormat::Connect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Callpulse => "callpulse",
            InputFormat::Asterisk => "asterisk",
            InputFormat::Connect => "connect",
        }
    }
}

/// A format name that is not one of [`InputFormat::ALL`].
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown input format {0:?}; one of {known}", known = InputFormat::ALL.map(InputFormat::as_str).join(", "))]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for InputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        InputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.into()))
    }
}

/// `[[kafka.inputs]]`: a topic and the format its messages are written in.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub topic: String,
    #[serde(default)]
    pub format: InputFormat,
    /// Time zone of datetime strings written without an offset (Asterisk realtime rows).
    #[serde(default = "utc", deserialize_with = "zone")]
    pub timezone: Tz,
    /// Labels of queues by queue id (the end of the queue ARN) or by full queue ARN (Amazon
    /// Connect); they win over the names records give. A queue neither listed nor named by a
    /// record before its first event is called by its id.
    #[serde(default)]
    pub queue_names: BTreeMap<String, String>,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            topic: String::new(),
            format: InputFormat::Callpulse,
            timezone: Tz::UTC,
            queue_names: BTreeMap::new(),
        }
    }
}

fn utc() -> Tz {
    Tz::UTC
}

fn zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    Zone::deserialize(d).map(|z| z.0)
}
