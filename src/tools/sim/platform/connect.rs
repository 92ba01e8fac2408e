//! The simulator's traffic as Amazon Connect records: contact events (whole EventBridge events)
//! and agent event stream records, written the way `docs/inputs.md` maps them back onto
//! docs/events.md, so that the `connect` input adapter gives the simulated center's KPIs.
//!
//! What is written, per simulator event (ISO 8601 times with milliseconds):
//! - `contact.offered`: INITIATED and QUEUED. Each queue visit is a Connect contact
//!   `<contact_id>-<enqueue ms>` of the initial contact `<contact_id>`, as Connect starts a new
//!   contact on a transfer; the writer forgets a visit at its COMPLETED, so it holds only open
//!   contacts. Queue ARNs end with the queue's name, agent ARNs with the agent's, so no
//!   `queue_names` are needed. A callback is initiated `CALLBACK`.
//! - `contact.answered`: CONNECTED_TO_AGENT.
//! - `contact.abandoned`: DISCONNECTED and COMPLETED without an agent. `contact.overflowed`: the
//!   same with `disconnectReason` CONTACT_FLOW_DISCONNECT (which AWS documents for contact records
//!   only; the adapter reads it on contact events too), so it comes back as an overflow.
//! - `contact.ended` and `contact.transferred`: DISCONNECTED with the agent, then COMPLETED —
//!   at once without wrap-up (the adapter then counts a wrap-up of 0 s, as Connect does when the
//!   agent skips after-contact work), else at `contact.wrapup_ended` with the
//!   after-contact-work fields. A transfer comes back as an end (contact events cannot tell).
//! - `agent.state`: a STATE_CHANGE record: `available` → status Available (ROUTABLE),
//!   `not_ready` → a custom status named by the reason, `logged_out` → Offline, `busy` /
//!   `wrapup` → Available with a CONNECTED / ENDED contact; the routing profile lists the
//!   agent's queues.
//! - Dropped, as contact events carry no such thing: `contact.held` / `contact.resumed`,
//!   `contact.responded`, `survey.submitted`, the customer's address.
//!
//! Keys are the simulator's (the queue; an agent's first queue).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::time::Millis;

use super::{PlatformWriter, SimEvent};

/// The simulated Connect instance.
const INSTANCE: &str =
    "arn:aws:connect:eu-west-1:111122223333:instance/5ca1ab1e-0000-4000-8000-00000000c0de";

/// The fields of the simulator's events the records need (the rest is ignored).
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    contact_id: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    channel: Option<String>,
    state: Option<String>,
    reason: Option<String>,
    queues: Option<Vec<String>>,
    wrapup: Option<bool>,
}

/// A contact's current queue visit: one Connect contact.
struct Visit {
    /// The Connect contact id of this visit.
    id: String,
    queue: String,
    channel: &'static str,
    method: &'static str,
    enqueued: Millis,
    agent: Option<(String, Millis)>,
    disconnected: Option<Millis>,
}

/// Writes Connect records; see the module documentation.
#[derive(Default)]
pub struct ConnectWriter {
    contacts: HashMap<String, Visit>,
    /// Each agent's queues, as its latest `agent.state` with a list said.
    queues: HashMap<String, Vec<String>>,
    serial: u64,
}

fn iso(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn queue_arn(queue: &str) -> String {
    format!("{INSTANCE}/queue/{queue}")
}

fn agent_arn(agent: &str) -> String {
    format!("{INSTANCE}/agent/{agent}")
}

impl ConnectWriter {
    pub fn new() -> Self {
        ConnectWriter::default()
    }

    fn next_id(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// One contact event of `contact`'s current visit, as EventBridge delivers it.
    fn contact_event(&mut self, kind: &str, contact: &str, at: Millis, key: &str) -> SimEvent {
        let n = self.next_id();
        let Some(v) = self.contacts.get(contact) else {
            return SimEvent::default();
        };
        let mut detail = json!({
            "eventType": kind,
            "contactId": v.id,
            "channel": v.channel,
            "instanceArn": INSTANCE,
            "initiationMethod": v.method,
            "initiationTimestamp": iso(v.enqueued),
        });
        detail["initialContactId"] = json!(contact);
        if kind != "INITIATED" {
            detail["queueInfo"] = json!({
                "queueType": "STANDARD",
                "queueArn": queue_arn(&v.queue),
                "enqueueTimestamp": iso(v.enqueued),
            });
        }
        if let Some((agent, connected)) = &v.agent {
            detail["agentInfo"] = json!({
                "agentArn": agent_arn(agent),
                "connectedToAgentTimestamp": iso(*connected),
            });
        }
        if let Some(d) = v.disconnected {
            detail["disconnectTimestamp"] = json!(iso(d));
        }
        let record = json!({
            "version": "0",
            "id": format!("5ca1ab1e-{n:012x}"),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": "111122223333",
            "time": iso(at),
            "region": "eu-west-1",
            "resources": [format!("{INSTANCE}/contact/{}", v.id)],
            "detail": detail,
        });
        SimEvent {
            key: key.to_string(),
            ts_ms: at,
            json: record.to_string(),
            wrapup_ms: None,
        }
    }

    fn offered(
        &mut self,
        e: &Event,
        contact: &str,
        at: Millis,
        key: &str,
        out: &mut Vec<SimEvent>,
    ) {
        let channel = e.channel.as_deref().unwrap_or("voice");
        let visit = Visit {
            id: format!("{contact}-{at}"),
            queue: e.queue.clone().unwrap_or_default(),
            channel: match channel {
                "chat" => "CHAT",
                "email" => "EMAIL",
                _ => "VOICE",
            },
            method: if channel == "callback" {
                "CALLBACK"
            } else {
                "INBOUND"
            },
            enqueued: at,
            agent: None,
            disconnected: None,
        };
        self.contacts.insert(contact.to_string(), visit);
        out.push(self.contact_event("INITIATED", contact, at, key));
        out.push(self.contact_event("QUEUED", contact, at, key));
    }

    /// DISCONNECTED of the current visit (with `reason` when routing ended it).
    fn disconnected(
        &mut self,
        contact: &str,
        at: Millis,
        key: &str,
        reason: Option<&str>,
    ) -> SimEvent {
        if let Some(v) = self.contacts.get_mut(contact) {
            v.disconnected = Some(at);
        }
        let mut e = self.contact_event("DISCONNECTED", contact, at, key);
        if let Some(reason) = reason {
            if let Ok(mut v) = serde_json::from_str::<Value>(&e.json) {
                v["detail"]["disconnectReason"] = json!(reason);
                e.json = v.to_string();
            }
        }
        e
    }

    /// COMPLETED of the current visit, with its after-contact work when it had some; the visit
    /// is over.
    fn completed(&mut self, contact: &str, at: Millis, key: &str, acw: bool) -> SimEvent {
        let mut e = self.contact_event("COMPLETED", contact, at, key);
        let start = self.contacts.get(contact).and_then(|v| v.disconnected);
        if let (true, Some(start)) = (acw, start) {
            if let Ok(mut v) = serde_json::from_str::<Value>(&e.json) {
                let info = &mut v["detail"]["agentInfo"];
                info["afterContactWorkStartTimestamp"] = json!(iso(start));
                info["afterContactWorkEndTimestamp"] = json!(iso(at));
                info["afterContactWorkDuration"] = json!((at - start) / 1000);
                e.json = v.to_string();
            }
        }
        self.contacts.remove(contact);
        e
    }

    fn agent_state(&mut self, e: &Event, at: Millis, key: &str) -> Option<SimEvent> {
        let agent = e.agent.as_deref()?;
        if let Some(list) = &e.queues {
            self.queues.insert(agent.to_string(), list.clone());
        }
        let queues = self.queues.get(agent).cloned().unwrap_or_default();
        let state = e.state.as_deref().unwrap_or("available");
        let status = match state {
            "not_ready" => {
                json!({"Name": e.reason.as_deref().unwrap_or("Break"), "Type": "CUSTOM"})
            }
            "logged_out" => json!({"Name": "Offline", "Type": "OFFLINE"}),
            _ => json!({"Name": "Available", "Type": "ROUTABLE"}),
        };
        let contacts = match state {
            "busy" => json!([{"State": "CONNECTED", "Channel": "VOICE"}]),
            "wrapup" => json!([{"State": "ENDED", "Channel": "VOICE"}]),
            _ => json!([]),
        };
        let n = self.next_id();
        let record = json!({
            "AWSAccountId": "111122223333",
            "AgentARN": agent_arn(agent),
            "EventId": format!("a9e47000-{n:012x}"),
            "EventTimestamp": iso(at),
            "EventType": "STATE_CHANGE",
            "InstanceARN": INSTANCE,
            "Version": "2019-05-25",
            "CurrentAgentSnapshot": {
                "AgentStatus": status,
                "Configuration": {
                    "Username": agent,
                    "RoutingProfile": {
                        "Name": "simulated",
                        "InboundQueues": queues.iter().map(|q| json!({
                            "ARN": queue_arn(q), "Name": q, "Channels": ["VOICE", "CHAT", "EMAIL"],
                        })).collect::<Vec<_>>(),
                    },
                },
                "Contacts": contacts,
            },
        });
        Some(SimEvent {
            key: key.to_string(),
            ts_ms: at,
            json: record.to_string(),
            wrapup_ms: None,
        })
    }
}

impl PlatformWriter for ConnectWriter {
    fn write(&mut self, sim: &SimEvent, out: &mut Vec<SimEvent>) {
        let Ok(e) = serde_json::from_str::<Event>(&sim.json) else {
            return;
        };
        let (at, key) = (sim.ts_ms, sim.key.as_str());
        if e.kind == "agent.state" {
            out.extend(self.agent_state(&e, at, key));
            return;
        }
        let Some(contact) = e.contact_id.as_deref() else {
            return;
        };
        match e.kind.as_str() {
            "contact.offered" => self.offered(&e, contact, at, key, out),
            "contact.answered" => {
                if let (Some(v), Some(agent)) = (self.contacts.get_mut(contact), &e.agent) {
                    v.agent = Some((agent.clone(), at));
                    out.push(self.contact_event("CONNECTED_TO_AGENT", contact, at, key));
                }
            }
            "contact.abandoned" | "contact.overflowed" => {
                let reason = (e.kind == "contact.overflowed").then_some("CONTACT_FLOW_DISCONNECT");
                out.push(self.disconnected(contact, at, key, reason));
                out.push(self.completed(contact, at, key, false));
            }
            "contact.ended" | "contact.transferred" => {
                out.push(self.disconnected(contact, at, key, None));
                if e.wrapup != Some(true) {
                    out.push(self.completed(contact, at, key, false));
                }
            }
            "contact.wrapup_ended" => out.push(self.completed(contact, at, key, true)),
            _ => {}
        }
    }

    fn flush(&mut self, _until: Millis, _out: &mut Vec<SimEvent>) {
        // nothing is held back: each event's records go out with it
    }
}
