//! The simulator's traffic as Twilio TaskRouter events (Event Streams CloudEvents), written the
//! way `docs/inputs.md` maps them back onto docs/events.md, so that the `taskrouter` input
//! adapter gives the simulated center's KPIs.
//!
//! What is written, per simulator event (the payload's `timestamp` in ms):
//! - `contact.offered`: `task-queue.entered` of a new task per queue visit, its attributes'
//!   `call_sid` the contact id (so a transfer's new task is the same call) and `from` the
//!   customer; the channel and priority as the simulator's.
//! - `contact.answered`: `reservation.accepted` by the worker.
//! - `contact.abandoned`: `task.canceled` reason `hangup`. `contact.overflowed`: `timeout` as
//!   `task-queue.timeout`, any other reason as `task.canceled` with that reason.
//! - `contact.ended`: `reservation.wrapup` when a wrap-up follows (its `contact.wrapup_ended` is
//!   the `reservation.completed`), else `reservation.completed` at once. `contact.transferred`:
//!   `task.transfer-initiated`, then the same.
//! - `agent.state`: `worker.activity.update` to `Available`, `Offline`, or (not ready) the
//!   reason as the activity name (`Break` without one); `busy` and `wrapup` are the adapter's own
//!   inference from the reservations.
//! - Dropped, as TaskRouter has no event for them: holds, `contact.responded`, surveys.
//!
//! Every event is keyed by the one simulated workspace ([`WORKSPACE_KEY`]).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::time::Millis;

use super::{PlatformWriter, SimEvent};

/// The Kafka key of every event: the one simulated workspace.
pub const WORKSPACE_KEY: &str = "WS5ca1ab1e000040008000000000007a5c";

/// The fields of the simulator's events the records need (the rest is ignored).
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    contact_id: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    channel: Option<String>,
    customer: Option<String>,
    priority: Option<i64>,
    state: Option<String>,
    reason: Option<String>,
    wrapup: Option<bool>,
}

/// A contact's current task.
struct Task {
    sid: String,
    queue: String,
    channel: &'static str,
    customer: Option<String>,
    worker: Option<String>,
}

/// Writes TaskRouter CloudEvents; see the module documentation.
#[derive(Default)]
pub struct TaskrouterWriter {
    /// Each contact's task in a queue or in conversation.
    tasks: HashMap<String, Task>,
    /// Tasks in wrap-up, by contact and worker (the contact may be in a new task already).
    wrapping: HashMap<(String, String), Task>,
    serial: u64,
}

impl TaskrouterWriter {
    pub fn new() -> Self {
        TaskrouterWriter::default()
    }

    fn event(&mut self, kind: &str, at: Millis, mut payload: Value, out: &mut Vec<SimEvent>) {
        self.serial += 1;
        let sid = format!("EV{:032x}", self.serial);
        if let Some(p) = payload.as_object_mut() {
            p.insert("sid".into(), json!(sid));
            p.insert("eventtype".into(), json!(kind));
            p.insert("timestamp".into(), json!(at));
            p.insert("workspace_sid".into(), json!(WORKSPACE_KEY));
        }
        let e = json!({
            "specversion": "1.0",
            "type": format!("com.twilio.taskrouter.{kind}"),
            "source": format!("/v1/Workspaces/{WORKSPACE_KEY}"),
            "id": sid,
            "dataschema": "https://events-schemas.twilio.com/TaskRouter.WDSEvent/4",
            "datacontenttype": "application/json",
            "data": {"sid": sid, "name": kind, "product_name": "TaskRouter", "payload": payload},
        });
        out.push(SimEvent {
            key: WORKSPACE_KEY.into(),
            ts_ms: at,
            json: e.to_string(),
            wrapup_ms: None,
        });
    }

    /// The payload of `contact`'s current task (with its worker when `worker`).
    fn payload(&self, contact: &str, worker: bool) -> Option<Value> {
        Some(payload_of(self.tasks.get(contact)?, contact, worker))
    }
}

/// The payload fields of a task (with its worker when `worker`).
fn payload_of(t: &Task, contact: &str, worker: bool) -> Value {
    let attributes = json!({"call_sid": contact, "from": t.customer}).to_string();
    let mut p = json!({
        "task_sid": t.sid,
        "task_queue_name": t.queue,
        "task_channel_unique_name": t.channel,
        "task_attributes": attributes,
    });
    if let (true, Some(w)) = (worker, &t.worker) {
        p["worker_name"] = json!(w);
    }
    p
}

impl PlatformWriter for TaskrouterWriter {
    fn write(&mut self, e: &SimEvent, out: &mut Vec<SimEvent>) {
        let Ok(ev) = serde_json::from_str::<Event>(&e.json) else {
            return;
        };
        let at = e.ts_ms;
        let contact = ev.contact_id.clone().unwrap_or_default();
        match ev.kind.as_str() {
            "contact.offered" => {
                let Some(queue) = ev.queue.clone() else {
                    return;
                };
                self.serial += 1;
                let channel = match ev.channel.as_deref() {
                    Some("chat") => "chat",
                    Some("email") => "email",
                    _ => "voice",
                };
                self.tasks.insert(
                    contact.clone(),
                    Task {
                        sid: format!("WT{:032x}", self.serial),
                        queue,
                        channel,
                        customer: ev.customer.clone(),
                        worker: None,
                    },
                );
                if let Some(mut p) = self.payload(&contact, false) {
                    p["task_priority"] = json!(ev.priority.unwrap_or(0));
                    self.event("task-queue.entered", at, p, out);
                }
            }
            "contact.answered" => {
                if let Some(t) = self.tasks.get_mut(&contact) {
                    t.worker.clone_from(&ev.agent);
                }
                if let Some(p) = self.payload(&contact, true) {
                    self.event("reservation.accepted", at, p, out);
                }
            }
            "contact.abandoned" | "contact.overflowed" => {
                let Some(mut p) = self.payload(&contact, false) else {
                    return;
                };
                let reason = match ev.kind.as_str() {
                    "contact.abandoned" => "hangup",
                    _ => ev.reason.as_deref().unwrap_or("other"),
                };
                if reason == "timeout" {
                    self.event("task-queue.timeout", at, p, out);
                } else {
                    p["task_canceled_reason"] = json!(reason);
                    self.event("task.canceled", at, p, out);
                }
                self.tasks.remove(&contact);
            }
            "contact.ended" | "contact.transferred" => {
                let Some(p) = self.payload(&contact, true) else {
                    return;
                };
                if ev.kind == "contact.transferred" {
                    self.event("task.transfer-initiated", at, p.clone(), out);
                }
                let wrapup = ev.wrapup == Some(true);
                let kind = if wrapup {
                    "reservation.wrapup"
                } else {
                    "reservation.completed"
                };
                self.event(kind, at, p, out);
                if let (true, Some(t)) = (wrapup, self.tasks.remove(&contact)) {
                    let worker = t.worker.clone().unwrap_or_default();
                    self.wrapping.insert((contact, worker), t);
                }
            }
            "contact.wrapup_ended" => {
                let key = (contact, ev.agent.clone().unwrap_or_default());
                if let Some(t) = self.wrapping.remove(&key) {
                    let p = payload_of(&t, &key.0, true);
                    self.event("reservation.completed", at, p, out);
                }
            }
            "agent.state" => {
                let activity = match ev.state.as_deref() {
                    Some("available") => "Available".to_owned(),
                    Some("logged_out") => "Offline".to_owned(),
                    Some("not_ready") => ev.reason.clone().unwrap_or_else(|| "Break".into()),
                    _ => return,
                };
                let p = json!({
                    "worker_name": ev.agent.clone().unwrap_or_default(),
                    "worker_activity_name": activity,
                });
                self.event("worker.activity.update", at, p, out);
            }
            _ => {}
        }
    }

    fn flush(&mut self, _until: Millis, _out: &mut Vec<SimEvent>) {}
}
