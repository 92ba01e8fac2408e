//! The simulator's traffic as Asterisk app_queue `queue_log` file lines
//! (`epoch|callid|queue|agent|VERB|data1|…`), written the way `docs/inputs.md` maps them
//! back onto docs/events.md, so that the `asterisk` input adapter gives the simulated center's KPIs.
//!
//! What is written, per simulator event (times are whole epoch seconds, rounded down):
//! - `contact.offered`: ENTERQUEUE (`|url|caller id|position`); overflowed at its very instant
//!   with reason `full` or `no_agents` it becomes FULL or JOINEMPTY instead.
//! - `contact.answered`: CONNECT by `PJSIP/<agent>` (`|hold seconds`, the wait).
//! - `contact.abandoned`: ABANDON (`|position|original position|wait`).
//! - `contact.overflowed` by reason: `timeout` EXITWITHTIMEOUT, `no_agents` EXITEMPTY, `key`
//!   EXITWITHKEY, anything else WITHDRAW.
//! - `contact.ended`: COMPLETECALLER or COMPLETEAGENT (`|hold|talk|original position`), and with
//!   `wrapup: true` a WRAPUPSTART of that agent in the same second whose data1 is the wrap-up in
//!   seconds ([`SimEvent::wrapup_ms`]), counted so that the adapter's wrap-up end falls in the
//!   second the simulator's `contact.wrapup_ended` does.
//! - `contact.transferred`: BLINDTRANSFER to the target queue, or ATTENDEDTRANSFER to a person.
//! - `agent.state`: ADDMEMBER per queue when the agent logs in (`PAUSED` when it logs in not
//!   ready), REMOVEMEMBER per queue when it logs out, PAUSE (data1 = reason) per queue when it
//!   goes not ready, UNPAUSE when it comes back; `busy`, `wrapup` and the return to `available`
//!   after a call are the adapter's own inference from CONNECT, COMPLETE* and WRAPUPSTART. An
//!   agent that logs out and back in within one second never left, as far as the log tells:
//!   its REMOVEMEMBERs are held until the second is over and dropped by the login (the adapter
//!   orders a second's records logins first, so the pair would leave the agent out).
//! - Dropped, as queue_log has no verb for them: `contact.held` / `contact.resumed` (the talk
//!   time then includes holds), `contact.wrapup_ended` (WRAPUPSTART carries its time),
//!   `contact.responded` and `survey.submitted`. Every call is `voice`.
//!
//! Call ids are Asterisk-style unique ids (`<epoch of the first offer>.<n>`), kept across a
//! contact's queue visits. Every line is keyed by one PBX name ([`PBX_KEY`]): a queue_log is one
//! stream, and the adapter keeps its agent memory per partition.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;

use crate::time::{Millis, SECOND};

use super::{PlatformWriter, SimEvent};

/// The Kafka key of every line: the one simulated PBX.
pub const PBX_KEY: &str = "pbx-1";
/// The channel technology of every member name.
const TECH: &str = "PJSIP/";

/// The fields of the simulator's events the lines need (the rest is ignored).
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
    queues: Option<Vec<String>>,
    wrapup: Option<bool>,
    to_queue: Option<String>,
    to_agent: Option<String>,
}

/// A contact's current queue visit.
#[derive(Clone)]
struct Call {
    callid: String,
    queue: String,
    /// Its place in the queue's arrival order (see `AsteriskWriter::waiting`).
    serial: u64,
    /// Its position when it entered.
    entered_at: usize,
    entered: i64,
    answered: Option<i64>,
}

/// What the lines so far told about an agent.
#[derive(Default)]
struct Member {
    logged_in: bool,
    paused: bool,
    queues: Vec<String>,
    /// Its REMOVEMEMBER lines are held (it logged out in the current second).
    leaving: bool,
}

/// Writes queue_log lines; see the module documentation.
pub struct AsteriskWriter {
    key: String,
    calls: HashMap<String, Call>,
    /// Per queue, the serials of the calls waiting in it (their positions).
    waiting: HashMap<String, BTreeSet<u64>>,
    members: HashMap<String, Member>,
    next_call: u64,
    serial: u64,
    /// ENTERQUEUE lines of the instant `held_at`, by contact id: an overflow at that very
    /// instant (`full`, `no_agents`) turns one into FULL / JOINEMPTY.
    held: Vec<(String, SimEvent)>,
    held_at: Millis,
    /// REMOVEMEMBER lines of the second `removals_sec`, by agent: a login in that same second
    /// cancels them (see the module documentation).
    removals: Vec<(String, SimEvent)>,
    removals_sec: i64,
}

impl AsteriskWriter {
    /// A writer whose lines are keyed `key` (the PBX).
    pub fn new(key: &str) -> Self {
        AsteriskWriter {
            key: key.to_string(),
            calls: HashMap::new(),
            waiting: HashMap::new(),
            members: HashMap::new(),
            next_call: 0,
            serial: 0,
            held: Vec::new(),
            held_at: Millis::MIN,
            removals: Vec::new(),
            removals_sec: i64::MIN,
        }
    }

    /// One line at second `sec`; data fields joined by `|` (at least an empty data1).
    fn line(
        &self,
        sec: i64,
        callid: &str,
        queue: &str,
        agent: &str,
        verb: &str,
        data: &[&str],
    ) -> SimEvent {
        let mut text = format!(
            "{sec}|{}|{}|{}|{verb}|",
            clean(callid),
            clean(queue),
            clean(agent)
        );
        for (i, d) in data.iter().enumerate() {
            if i > 0 {
                text.push('|');
            }
            text.push_str(&clean(d));
        }
        SimEvent {
            key: self.key.clone(),
            ts_ms: sec * SECOND,
            json: text,
            wrapup_ms: None,
        }
    }

    /// Appends the held lines whose follow-ups can no longer come, every event before `until`
    /// having been written, in time order.
    fn release(&mut self, until: Millis, out: &mut Vec<SimEvent>) {
        let from = out.len();
        if self.held_at < until {
            out.extend(self.held.drain(..).map(|(_, line)| line));
        }
        if (self.removals_sec.saturating_add(1)).saturating_mul(SECOND) <= until {
            for (agent, line) in self.removals.drain(..) {
                if let Some(m) = self.members.get_mut(&agent) {
                    if std::mem::take(&mut m.leaving) {
                        m.logged_in = false;
                        m.paused = false;
                    }
                }
                out.push(line);
            }
        }
        out[from..].sort_by_key(|l| l.ts_ms);
    }

    /// The call leaves its queue's waiting line; returns its position there.
    fn leave_queue(&mut self, id: &str) -> usize {
        let Some(call) = self.calls.get(id) else {
            return 1;
        };
        let Some(waiting) = self.waiting.get_mut(&call.queue) else {
            return 1;
        };
        let position = waiting.range(..call.serial).count() + 1;
        waiting.remove(&call.serial);
        position
    }

    fn offered(&mut self, id: String, sec: i64, ev: Event, key: &str, at: Millis) {
        self.leave_queue(&id);
        let queue = ev.queue.unwrap_or_else(|| key.to_string());
        let callid = match self.calls.get(&id) {
            Some(call) => call.callid.clone(),
            None => {
                self.next_call += 1;
                format!("{sec}.{}", self.next_call)
            }
        };
        self.serial += 1;
        let waiting = self.waiting.entry(queue.clone()).or_default();
        let position = waiting.len() + 1;
        waiting.insert(self.serial);
        let line = self.line(
            sec,
            &callid,
            &queue,
            "NONE",
            "ENTERQUEUE",
            &[
                "",
                ev.customer.as_deref().unwrap_or(""),
                &position.to_string(),
            ],
        );
        self.calls.insert(
            id.clone(),
            Call {
                callid,
                queue,
                serial: self.serial,
                entered_at: position,
                entered: sec,
                answered: None,
            },
        );
        self.held_at = at;
        self.held.push((id, line));
    }

    /// An abandon or an overflow: the call leaves the queue unanswered.
    fn left(&mut self, id: &str, sec: i64, ev: &Event, out: &mut Vec<SimEvent>) {
        let reason = ev.reason.as_deref();
        let held = self.held.iter().position(|(h, _)| h == id);
        let position = self.leave_queue(id);
        // a callback keeps the call id for its offer into the same queue
        let call = if reason == Some("key") {
            self.calls.get(id).cloned()
        } else {
            self.calls.remove(id)
        };
        let Some(Call {
            callid,
            queue,
            entered,
            entered_at,
            ..
        }) = call
        else {
            return;
        };
        let (pos, orig, wait) = (
            position.to_string(),
            entered_at.to_string(),
            (sec - entered).to_string(),
        );
        let (verb, data): (&str, Vec<&str>) = match (ev.kind.as_str(), reason) {
            ("contact.abandoned", _) => ("ABANDON", vec![&pos, &orig, &wait]),
            (_, Some(r @ ("full" | "no_agents"))) if held.is_some() => {
                // refused at the door: no ENTERQUEUE before it
                if let Some(i) = held {
                    self.held.remove(i);
                }
                (if r == "full" { "FULL" } else { "JOINEMPTY" }, vec![])
            }
            (_, Some("timeout")) => ("EXITWITHTIMEOUT", vec![&pos, &orig, &wait]),
            (_, Some("no_agents")) => ("EXITEMPTY", vec![&pos, &orig, &wait]),
            (_, Some("key")) => ("EXITWITHKEY", vec!["1", &pos, &orig, &wait]),
            _ => ("WITHDRAW", vec!["", &pos, &orig, &wait]),
        };
        out.push(self.line(sec, &callid, &queue, "NONE", verb, &data));
    }

    fn answered(&mut self, id: &str, sec: i64, agent: &str, out: &mut Vec<SimEvent>) {
        self.leave_queue(id);
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.answered = Some(sec);
        let (callid, queue) = (call.callid.clone(), call.queue.clone());
        let wait = (sec - call.entered).to_string();
        out.push(self.line(sec, &callid, &queue, &member(agent), "CONNECT", &[&wait]));
    }

    /// `contact.ended` or `contact.transferred`: the conversation ends, with its wrap-up.
    fn conversation_ended(
        &mut self,
        id: &str,
        sec: i64,
        ev: &Event,
        e: &SimEvent,
        out: &mut Vec<SimEvent>,
    ) {
        let transfer_on = ev.kind == "contact.transferred" && ev.to_queue.is_some();
        // transferred to a queue: the call id goes on there
        let call = if transfer_on {
            self.calls.get(id).cloned()
        } else {
            self.calls.remove(id)
        };
        let (Some(call), Some(agent)) = (call, ev.agent.as_deref()) else {
            return;
        };
        let Call {
            callid,
            queue,
            serial,
            entered_at,
            entered,
            answered,
        } = call;
        let answered = answered.unwrap_or(sec);
        let (hold, talk, orig) = (
            (answered - entered).to_string(),
            (sec - answered).to_string(),
            entered_at.to_string(),
        );
        let who = member(agent);
        let (verb, data): (&str, Vec<&str>) = match (ev.kind.as_str(), &ev.to_queue) {
            ("contact.ended", _) if serial % 2 == 0 => {
                ("COMPLETECALLER", vec![&hold, &talk, &orig])
            }
            ("contact.ended", _) => ("COMPLETEAGENT", vec![&hold, &talk, &orig]),
            (_, Some(to)) => ("BLINDTRANSFER", vec![to, "from-queue", &hold, &talk, &orig]),
            (_, None) => {
                let to = ev.to_agent.as_deref().unwrap_or("");
                ("ATTENDEDTRANSFER", vec!["BRIDGE", to, &hold, &talk, &orig])
            }
        };
        out.push(self.line(sec, &callid, &queue, &who, verb, &data));
        if let (Some(true), Some(acw)) = (ev.wrapup, e.wrapup_ms) {
            // ends in the second the simulator's wrap-up does
            let secs = (e.ts_ms.saturating_add(acw)).div_euclid(SECOND) - sec;
            let line = self.line(
                sec,
                &callid,
                &queue,
                &who,
                "WRAPUPSTART",
                &[&secs.to_string()],
            );
            out.push(line);
        }
    }

    fn agent_state(&mut self, sec: i64, ev: Event, out: &mut Vec<SimEvent>) {
        let (Some(agent), Some(state)) = (ev.agent, ev.state) else {
            return;
        };
        let who = member(&agent);
        let m = self.members.entry(agent.clone()).or_default();
        let queues = ev.queues.unwrap_or_else(|| m.queues.clone());
        let mut lines: Vec<(String, &'static str, String)> = Vec::new();
        if state == "logged_out" {
            if m.logged_in && !m.leaving {
                m.leaving = true;
                let joined = m.queues.clone();
                self.removals_sec = sec;
                for q in &joined {
                    let line = self.line(sec, "NONE", q, &who, "REMOVEMEMBER", &[]);
                    self.removals.push((agent.clone(), line));
                }
            }
            return;
        }
        // back in the second it left: it never left, as far as a second can tell
        let back = std::mem::take(&mut m.leaving);
        let not_ready = state == "not_ready";
        let joined = if m.logged_in { &m.queues[..] } else { &[][..] };
        let mark = if not_ready { "PAUSED" } else { "" };
        // queues joined first: removing the last one would log the agent out
        for q in queues.iter().filter(|q| !joined.contains(q)) {
            lines.push((q.clone(), "ADDMEMBER", mark.to_string()));
        }
        for q in joined.iter().filter(|q| !queues.contains(q)) {
            lines.push((q.clone(), "REMOVEMEMBER", String::new()));
        }
        if not_ready {
            let reason = ev.reason.unwrap_or_default();
            lines.extend(queues.iter().map(|q| (q.clone(), "PAUSE", reason.clone())));
        } else if m.paused {
            lines.extend(queues.iter().map(|q| (q.clone(), "UNPAUSE", String::new())));
        }
        m.logged_in = true;
        m.paused = not_ready;
        m.queues = queues;
        if back {
            self.removals.retain(|(a, _)| *a != agent);
        }
        for (queue, verb, data) in lines {
            out.push(self.line(sec, "NONE", &queue, &who, verb, &[&data]));
        }
    }
}

impl PlatformWriter for AsteriskWriter {
    fn write(&mut self, e: &SimEvent, out: &mut Vec<SimEvent>) {
        self.release(e.ts_ms, out);
        let Ok(ev) = serde_json::from_str::<Event>(&e.json) else {
            return;
        };
        let sec = e.ts_ms.div_euclid(SECOND);
        if ev.kind == "agent.state" {
            self.agent_state(sec, ev, out);
            return;
        }
        let Some(id) = ev.contact_id.clone() else {
            return;
        };
        match ev.kind.as_str() {
            "contact.offered" => self.offered(id, sec, ev, &e.key, e.ts_ms),
            "contact.answered" => {
                if let Some(agent) = &ev.agent {
                    self.answered(&id, sec, agent, out);
                }
            }
            "contact.abandoned" | "contact.overflowed" => self.left(&id, sec, &ev, out),
            "contact.ended" | "contact.transferred" => {
                self.conversation_ended(&id, sec, &ev, e, out)
            }
            // held / resumed / wrapup_ended / responded / survey.submitted: no queue_log verb
            _ => {}
        }
    }

    fn flush(&mut self, until: Millis, out: &mut Vec<SimEvent>) {
        self.release(until, out);
    }
}

/// A member name: the agent with its channel technology.
fn member(agent: &str) -> String {
    format!("{TECH}{agent}")
}

/// A field without the separator or line breaks (they would split the record).
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['|', '\n', '\r']) {
        s.replace(['|', '\n', '\r'], "_").into()
    } else {
        s.into()
    }
}
