//! The simulator's traffic as FreeSWITCH mod_callcenter `callcenter::info` events (the flat JSON
//! mod_event_kafka and Event Socket clients carry), written the way `docs/inputs.md` maps
//! them back onto docs/events.md, so that the `freeswitch` input adapter gives the simulated center's
//! KPIs.
//!
//! What is written, per simulator event (`Event-Date-Timestamp` in µs, the simulator's ms):
//! - `contact.offered`: `member-queue-start` (the contact id is the caller's session UUID, so it
//!   survives a transfer; the customer is the caller id number).
//! - `contact.answered`: `bridge-agent-start`.
//! - `contact.abandoned`: `member-queue-end` `Cancel` `BREAK_OUT` with the caller's channel hung
//!   up. `contact.overflowed` by reason: `TIMEOUT`, `NO_AGENT_TIMEOUT` (`no_agents`, `full`),
//!   `EXIT_WITH_KEY`, else `NONE`, the caller still connected.
//! - `contact.ended`: `member-queue-end` `Terminated` with the agent. `contact.transferred` to a
//!   queue: the same with the caller channel's `variable_cc_queue` naming the new queue (as
//!   mod_callcenter sets it); to a person: an end.
//! - `agent.state`: `agent-status-change` `Available`, `On Break` (not ready, whatever the
//!   reason) or `Logged Out`; `busy` and `wrapup` are the adapter's own inference from the calls.
//! - Dropped, as mod_callcenter has no event for them: holds, `contact.wrapup_ended` (wrap-up is
//!   silent; the input's `wrapup_seconds` stands for it), `contact.responded`, surveys. Every
//!   call is `voice`.
//!
//! Every event is keyed by one host ([`HOST_KEY`]): the adapter keeps its agent memory per
//! partition.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::time::Millis;

use super::{PlatformWriter, SimEvent};

/// The Kafka key of every event: the one simulated FreeSWITCH host.
pub const HOST_KEY: &str = "fs1";
const CORE_UUID: &str = "5ca1ab1e-0000-4000-8000-00000000f5f5";

/// The fields of the simulator's events the records need (the rest is ignored).
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    contact_id: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    customer: Option<String>,
    state: Option<String>,
    reason: Option<String>,
    to_queue: Option<String>,
}

/// Writes mod_callcenter events; see the module documentation.
#[derive(Default)]
pub struct FreeswitchWriter {
    /// Each waiting or talking caller's current queue.
    queues: HashMap<String, String>,
    sequence: u64,
}

impl FreeswitchWriter {
    pub fn new() -> Self {
        FreeswitchWriter::default()
    }

    fn event(&mut self, at: Millis, headers: Value, out: &mut Vec<SimEvent>) {
        self.sequence += 1;
        let mut e = json!({
            "Event-Name": "CUSTOM",
            "Core-UUID": CORE_UUID,
            "FreeSWITCH-Hostname": HOST_KEY,
            "Event-Date-Timestamp": (at * 1000).to_string(),
            "Event-Sequence": self.sequence.to_string(),
            "Event-Subclass": "callcenter::info",
        });
        if let (Some(e), Value::Object(h)) = (e.as_object_mut(), headers) {
            e.extend(h);
        }
        out.push(SimEvent {
            key: HOST_KEY.into(),
            ts_ms: at,
            json: e.to_string(),
            wrapup_ms: None,
        });
    }

    /// The caller headers of a contact in its current queue.
    fn member(&self, contact: &str, queue: Option<&str>) -> Map<String, Value> {
        let queue = queue
            .or_else(|| self.queues.get(contact).map(String::as_str))
            .unwrap_or_default();
        let mut m = Map::new();
        m.insert("CC-Queue".into(), queue.into());
        m.insert("CC-Member-Session-UUID".into(), contact.into());
        m.insert("CC-Member-UUID".into(), format!("{contact}-{queue}").into());
        m
    }

    fn end(
        &mut self,
        at: Millis,
        contact: &str,
        mut m: Map<String, Value>,
        out: &mut Vec<SimEvent>,
    ) {
        m.insert("CC-Action".into(), "member-queue-end".into());
        self.queues.remove(contact);
        self.event(at, Value::Object(m), out);
    }
}

impl PlatformWriter for FreeswitchWriter {
    fn write(&mut self, e: &SimEvent, out: &mut Vec<SimEvent>) {
        let Ok(ev) = serde_json::from_str::<Event>(&e.json) else {
            return;
        };
        let at = e.ts_ms;
        let contact = ev.contact_id.as_deref().unwrap_or_default();
        match ev.kind.as_str() {
            "contact.offered" => {
                let Some(queue) = ev.queue.as_deref() else {
                    return;
                };
                let mut m = self.member(contact, Some(queue));
                m.insert("CC-Action".into(), "member-queue-start".into());
                m.insert(
                    "CC-Member-CID-Number".into(),
                    ev.customer.clone().unwrap_or_default().into(),
                );
                self.queues.insert(contact.to_owned(), queue.to_owned());
                self.event(at, Value::Object(m), out);
            }
            "contact.answered" => {
                let mut m = self.member(contact, ev.queue.as_deref());
                m.insert("CC-Action".into(), "bridge-agent-start".into());
                m.insert(
                    "CC-Agent".into(),
                    ev.agent.clone().unwrap_or_default().into(),
                );
                self.event(at, Value::Object(m), out);
            }
            "contact.abandoned" | "contact.overflowed" => {
                let mut m = self.member(contact, ev.queue.as_deref());
                let reason = match (ev.kind.as_str(), ev.reason.as_deref()) {
                    ("contact.abandoned", _) => "BREAK_OUT",
                    (_, Some("timeout")) => "TIMEOUT",
                    (_, Some("no_agents" | "full")) => "NO_AGENT_TIMEOUT",
                    (_, Some("key")) => "EXIT_WITH_KEY",
                    _ => "NONE",
                };
                m.insert("CC-Cause".into(), "Cancel".into());
                m.insert("CC-Cancel-Reason".into(), reason.into());
                let gone = ev.kind == "contact.abandoned";
                m.insert(
                    "Answer-State".into(),
                    if gone { "hangup" } else { "answered" }.into(),
                );
                self.end(at, contact, m, out);
            }
            "contact.ended" | "contact.transferred" => {
                let mut m = self.member(contact, ev.queue.as_deref());
                m.insert("CC-Cause".into(), "Terminated".into());
                m.insert(
                    "CC-Agent".into(),
                    ev.agent.clone().unwrap_or_default().into(),
                );
                if let Some(to) = ev.to_queue.as_deref() {
                    m.insert("variable_cc_queue".into(), to.into());
                    m.insert(
                        "variable_cc_queue_joined_epoch".into(),
                        (at.div_euclid(1000)).to_string().into(),
                    );
                }
                self.end(at, contact, m, out);
            }
            "agent.state" => {
                let status = match ev.state.as_deref() {
                    Some("available") => "Available",
                    Some("not_ready") => "On Break",
                    Some("logged_out") => "Logged Out",
                    _ => return,
                };
                let _ = ev.reason;
                self.event(
                    at,
                    json!({
                        "CC-Action": "agent-status-change",
                        "CC-Agent": ev.agent.clone().unwrap_or_default(),
                        "CC-Agent-Status": status,
                    }),
                    out,
                );
            }
            _ => {}
        }
    }

    fn flush(&mut self, _until: Millis, _out: &mut Vec<SimEvent>) {}
}
