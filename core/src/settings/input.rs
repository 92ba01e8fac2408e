//! `[[kafka.inputs]]`: which topic carries which input format, and the format's settings.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::de::Deserializer;
use serde::Deserialize;

use super::tables::Zone;
use super::SettingError;

/// The wire format of an input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One docs/events.md JSON object per message.
    #[default]
    Callpulse,
    /// Asterisk app_queue `queue_log` records (docs/inputs.md), file lines or realtime JSON rows.
    Asterisk,
    /// Amazon Connect contact events, agent event stream records and contact records (docs/inputs.md).
    Connect,
    /// FreeSWITCH mod_callcenter `callcenter::info` events as flat JSON (docs/inputs.md).
    Freeswitch,
    /// Twilio TaskRouter events: Event Streams CloudEvents, EventCallbackUrl webhooks and Events
    /// REST API records (docs/inputs.md).
    Taskrouter,
}

impl InputFormat {
    pub const ALL: [InputFormat; 5] = [
        InputFormat::Callpulse,
        InputFormat::Asterisk,
        InputFormat::Connect,
        InputFormat::Freeswitch,
        InputFormat::Taskrouter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Callpulse => "callpulse",
            InputFormat::Asterisk => "asterisk",
            InputFormat::Connect => "connect",
            InputFormat::Freeswitch => "freeswitch",
            InputFormat::Taskrouter => "taskrouter",
        }
    }

    /// The largest record this format's reader takes: the engine's `max_message_bytes`, raised
    /// for FreeSWITCH events (they carry every channel variable; see [`FREESWITCH_EVENT_BYTES`]).
    pub fn max_record_bytes(self, max_message_bytes: usize) -> usize {
        match self {
            InputFormat::Freeswitch => max_message_bytes.max(FREESWITCH_EVENT_BYTES),
            _ => max_message_bytes,
        }
    }
}

/// The largest FreeSWITCH event taken (unless `max_message_bytes` is larger): mod_callcenter's
/// events carry every channel variable, often tens of KB, of which the mapping reads a few
/// headers.
pub const FREESWITCH_EVENT_BYTES: usize = 1024 * 1024;

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
    /// Wrap-up seconds of agents not in `agent_wrapup_seconds` (FreeSWITCH; mod_callcenter's
    /// wrap-up is silent, so the monitor is told its length; 0: no wrap-up).
    #[serde(default)]
    pub wrapup_seconds: Option<u32>,
    /// Wrap-up seconds by agent (FreeSWITCH `CC-Agent`).
    #[serde(default)]
    pub agent_wrapup_seconds: BTreeMap<String, u32>,
    /// The queues each agent serves (FreeSWITCH tiers, TaskRouter target expressions: no event
    /// carries them); an agent not listed serves the queues it is seen answering in.
    #[serde(default)]
    pub agent_queues: BTreeMap<String, Vec<String>>,
    /// `task.canceled` reasons that are the customer abandoning (TaskRouter; default
    /// `["hangup"]`); any other reason is an overflow `other`.
    #[serde(default)]
    pub abandon_reasons: Option<Vec<String>>,
    /// Agent states of TaskRouter activities by activity name; unlisted activities follow the
    /// Flex defaults (`Offline` logged out, `Available` available, any other not ready).
    #[serde(default)]
    pub activities: BTreeMap<String, ActivityState>,
    /// The channel of TaskRouter's `default` task channel (default `voice`).
    #[serde(default)]
    pub default_channel: Option<DefaultChannel>,
    /// Whether TaskRouter queues and agents are called by their names (default) or their sids.
    #[serde(default)]
    pub identities: Option<Identities>,
}

/// The agent state a TaskRouter activity stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    LoggedOut,
    Available,
    NotReady,
}

/// The channel of TaskRouter's `default` task channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultChannel {
    #[default]
    Voice,
    Chat,
    Email,
}

/// How TaskRouter queues and workers are labelled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identities {
    /// `TaskQueueName`, `WorkerName` (Flex shows these).
    #[default]
    Names,
    /// `TaskQueueSid`, `WorkerSid` (stable when names are edited).
    Sids,
}

/// The platform settings of 1.2's formats, and the formats that read each.
const SETTINGS: &[(&str, &[InputFormat])] = &[
    ("wrapup_seconds", &[InputFormat::Freeswitch]),
    ("agent_wrapup_seconds", &[InputFormat::Freeswitch]),
    (
        "agent_queues",
        &[InputFormat::Freeswitch, InputFormat::Taskrouter],
    ),
    ("abandon_reasons", &[InputFormat::Taskrouter]),
    ("activities", &[InputFormat::Taskrouter]),
    ("default_channel", &[InputFormat::Taskrouter]),
    ("identities", &[InputFormat::Taskrouter]),
];

impl InputConfig {
    /// `check-config`: each platform setting is given only to the format that reads it, and
    /// names in it are non-empty.
    pub fn check(&self) -> Result<(), SettingError> {
        let given = |key: &str| match key {
            "wrapup_seconds" => self.wrapup_seconds.is_some(),
            "agent_wrapup_seconds" => !self.agent_wrapup_seconds.is_empty(),
            "agent_queues" => !self.agent_queues.is_empty(),
            "abandon_reasons" => self.abandon_reasons.is_some(),
            "activities" => !self.activities.is_empty(),
            "default_channel" => self.default_channel.is_some(),
            "identities" => self.identities.is_some(),
            _ => false,
        };
        for (key, formats) in SETTINGS {
            if given(key) && !formats.contains(&self.format) {
                let readers: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
                return Err(SettingError::new(
                    "kafka.inputs",
                    format!(
                        "topic {:?}: {key} is a setting of format {} (this input is {})",
                        self.topic,
                        readers.join(" or "),
                        self.format.as_str()
                    ),
                ));
            }
        }
        let empty_name = self
            .agent_wrapup_seconds
            .keys()
            .any(|a| a.trim().is_empty())
            || self
                .agent_queues
                .iter()
                .any(|(a, qs)| a.trim().is_empty() || qs.iter().any(|q| q.trim().is_empty()))
            || self.activities.keys().any(|a| a.trim().is_empty())
            || self
                .abandon_reasons
                .iter()
                .flatten()
                .any(|r| r.trim().is_empty());
        if empty_name {
            return Err(SettingError::new(
                "kafka.inputs",
                format!(
                    "topic {:?}: an empty agent, queue, activity or reason name",
                    self.topic
                ),
            ));
        }
        Ok(())
    }
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            topic: String::new(),
            format: InputFormat::Callpulse,
            timezone: Tz::UTC,
            queue_names: BTreeMap::new(),
            wrapup_seconds: None,
            agent_wrapup_seconds: BTreeMap::new(),
            agent_queues: BTreeMap::new(),
            abandon_reasons: None,
            activities: BTreeMap::new(),
            default_channel: None,
            identities: None,
        }
    }
}

fn utc() -> Tz {
    Tz::UTC
}

fn zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    Zone::deserialize(d).map(|z| z.0)
}
