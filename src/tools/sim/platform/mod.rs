//! The simulator's traffic in a telephony platform's own format: which formats the simulator
//! writes ([`SimFormat`]) and the [`PlatformWriter`] that rewrites its docs/events.md events, in
//! time order, into that platform's records — the records the monitor's input adapter of the
//! same name (`crate::input`) maps back onto docs/events.md. `simulate --format` and
//! `demo --input` use it.
//!
//! A platform writes only what it records: events it has no record for are dropped (each
//! writer's documentation says which), so KPIs built on them (holds, surveys, …) are missing on
//! the way back, and the platform's clock (Asterisk: whole seconds) rounds the rest.
//!
//! Files: `asterisk.rs` (queue_log lines), `connect.rs` (Amazon Connect contact events and agent
//! event stream records), `freeswitch.rs` (mod_callcenter `callcenter::info` events),
//! `taskrouter.rs` (Twilio TaskRouter Event Streams CloudEvents).

mod asterisk;
mod connect;
mod freeswitch;
mod taskrouter;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::config::InputFormat;
use crate::time::Millis;

use super::SimEvent;

pub use asterisk::{AsteriskWriter, PBX_KEY};
pub use connect::ConnectWriter;
pub use freeswitch::{FreeswitchWriter, HOST_KEY};
pub use taskrouter::{TaskrouterWriter, WORKSPACE_KEY};

/// A format the simulator writes its traffic in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SimFormat {
    /// docs/events.md JSON, one object per message, keyed by queue (the simulator's own).
    #[default]
    Callpulse,
    /// Asterisk app_queue `queue_log` file lines, keyed by PBX, on a whole-second clock.
    Asterisk,
    /// Amazon Connect contact events (EventBridge) and agent event stream records.
    Connect,
    /// FreeSWITCH mod_callcenter `callcenter::info` events, keyed by host.
    Freeswitch,
    /// Twilio TaskRouter Event Streams CloudEvents, keyed by workspace.
    Taskrouter,
}

impl SimFormat {
    pub const ALL: [SimFormat; 5] = [
        SimFormat::Callpulse,
        SimFormat::Asterisk,
        SimFormat::Connect,
        SimFormat::Freeswitch,
        SimFormat::Taskrouter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SimFormat::Callpulse => "callpulse",
            SimFormat::Asterisk => "asterisk",
            SimFormat::Connect => "connect",
            SimFormat::Freeswitch => "freeswitch",
            SimFormat::Taskrouter => "taskrouter",
        }
    }

    /// What its messages are, in a few words (the demo's banner).
    pub fn describe(self) -> &'static str {
        match self {
            SimFormat::Callpulse => "events.md JSON keyed by queue",
            SimFormat::Asterisk => {
                "Asterisk queue_log lines keyed by PBX (whole-second clock; no holds or surveys)"
            }
            SimFormat::Connect => {
                "Amazon Connect contact events and agent event stream records (no holds, transfers or surveys)"
            }
            SimFormat::Freeswitch => {
                "FreeSWITCH mod_callcenter events keyed by host (no holds, wrap-up or surveys; every call voice)"
            }
            SimFormat::Taskrouter => {
                "Twilio TaskRouter Event Streams CloudEvents keyed by workspace (no holds or surveys)"
            }
        }
    }

    /// The monitor's input format that reads these messages (`[[kafka.inputs]] format`).
    pub fn input(self) -> InputFormat {
        match self {
            SimFormat::Callpulse => InputFormat::Callpulse,
            SimFormat::Asterisk => InputFormat::Asterisk,
            SimFormat::Connect => InputFormat::Connect,
            SimFormat::Freeswitch => InputFormat::Freeswitch,
            SimFormat::Taskrouter => InputFormat::Taskrouter,
        }
    }

    /// The writer that rewrites the simulator's events; `None` for its own format.
    pub fn writer(self) -> Option<Box<dyn PlatformWriter>> {
        match self {
            SimFormat::Callpulse => None,
            SimFormat::Asterisk => Some(Box::new(AsteriskWriter::new(PBX_KEY))),
            SimFormat::Connect => Some(Box::new(ConnectWriter::new())),
            SimFormat::Freeswitch => Some(Box::new(FreeswitchWriter::new())),
            SimFormat::Taskrouter => Some(Box::new(TaskrouterWriter::new())),
        }
    }
}

impl fmt::Display for SimFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is not one of [`SimFormat::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?} (expected {known})", known = SimFormat::ALL.map(SimFormat::as_str).join(", "))]
pub struct UnknownSimFormat(pub String);

impl FromStr for SimFormat {
    type Err = UnknownSimFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        SimFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownSimFormat(s.to_string()))
    }
}

/// Rewrites the simulator's events into one platform's records. Each output [`SimEvent`]
/// carries the record as its message text (`json`), its Kafka key and its (platform-clock)
/// time; outputs come in non-decreasing time order.
pub trait PlatformWriter: Send {
    /// Takes the simulator's next event (in time order) and appends the records it makes,
    /// possibly none, to `out`. A writer may hold records back until it knows what follows at
    /// the same instant.
    fn write(&mut self, e: &SimEvent, out: &mut Vec<SimEvent>);

    /// Every event before `until` has been written: appends the records held back for them.
    fn flush(&mut self, until: Millis, out: &mut Vec<SimEvent>);
}
