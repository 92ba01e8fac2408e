//! The `freeswitch` input: FreeSWITCH mod_callcenter's `CUSTOM callcenter::info` events (the
//! flat JSON every route to Kafka carries) mapped onto docs/events.md JSON as
//! `docs/inputs.md` says, with the agent memory (status, `Idle`, call, silent wrap-up)
//! that synthesizes `agent.state` events.
//!
//! Identities: contact = `CC-Member-Session-UUID` (the caller's channel, kept across queues);
//! queue = `CC-Queue`, agent = `CC-Agent`, as written; event ids from `Core-UUID` and
//! `Event-Sequence`, so a re-sent event counts once.
//!
//! The contact events of a record depend on the record alone, except the transfer test of a
//! `member-queue-end Terminated`: the caller entered another queue since it was answered here.
//! The adapter remembers each caller's latest queue entry for that, and also reads the caller
//! channel's `variable_cc_queue` on the end (mod_callcenter sets it when the caller enters a
//! queue), so the test holds whatever order the two events arrive in. Agent states follow the
//! order of arrival (one host's events reach its partition in the order they were fired), but
//! for a status record older than the newest one seen: it is put in its place by its own time
//! when no call came in between, and never overwrites the newer status.
//!
//! Wrap-up is silent in mod_callcenter: a wrap-up time configured for the agent makes a call's
//! end `wrapup: true`, and the adapter emits its `contact.wrapup_ended` once a record (or
//! [`Freeswitch::flush`]) passes its time.

mod agents;
pub mod record;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use crate::event::{AgentState, Limits, Reject, RejectReason};
use crate::time::{Millis, SECOND};

use self::agents::{Agents, Call, Status};
use self::record::{epoch_seconds, text, Action, Record};
use super::write::{event_id, push, Out};

/// Settings of one `freeswitch` input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeswitchSettings {
    /// Wrap-up seconds of agents without their own (mod_callcenter's `wrap-up-time`; 0: none).
    pub wrapup_seconds: u32,
    /// Wrap-up seconds by agent.
    pub agent_wrapup_seconds: BTreeMap<String, u32>,
    /// The queues of agents by agent (tiers raise no event); an agent not listed serves the
    /// queues it is seen answering in.
    pub agent_queues: BTreeMap<String, Vec<String>>,
}

impl FreeswitchSettings {
    fn wrapup_of(&self, agent: &str) -> u32 {
        self.agent_wrapup_seconds
            .get(agent)
            .copied()
            .unwrap_or(self.wrapup_seconds)
    }
}

/// Every kind [`Freeswitch::map`] returns.
pub const KINDS: &[&str] = &[
    "member_queue_start",
    "member_queue_resume",
    "member_queue_end",
    "bridge_agent_start",
    "bridge_agent_end",
    "bridge_agent_fail",
    "agent_offering",
    "agent_max_no_answer",
    "members_count",
    "agent_status_change",
    "agent_state_change",
    record::ADMINISTRATIVE,
    record::UNKNOWN,
    record::OTHER_EVENT,
];

/// The prefix of the ids of the events this input writes.
const PREFIX: &str = "fs";
/// Callers whose latest queue entry is remembered at most; past it the oldest are forgotten.
const MAX_CALLERS: usize = 100_000;
/// Wrap-up ends waiting for their time at most; beyond it a call ends `wrapup: false`.
const MAX_WRAPUPS: usize = 100_000;
/// Agents remembered at most; beyond it logged-out agents are forgotten.
const MAX_AGENTS: usize = 100_000;

/// A caller's latest queue entry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Entry {
    queue: String,
    at: Millis,
}

/// A wrap-up end waiting for its time.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Wrapup {
    session: String,
    queue: String,
    agent: String,
    id: String,
}

/// One FreeSWITCH stream's adapter (per partition). A checkpoint holds all of it but the
/// settings.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Freeswitch {
    #[serde(skip)]
    settings: FreeswitchSettings,
    #[serde(skip)]
    limits: Limits,
    agents: Agents,
    entries: HashMap<String, Entry>,
    wrapups: BTreeMap<(Millis, u64), Wrapup>,
    serial: u64,
}

impl Freeswitch {
    pub fn new(settings: FreeswitchSettings) -> Self {
        Freeswitch {
            settings,
            limits: Limits::default(),
            agents: Agents::default(),
            entries: HashMap::new(),
            wrapups: BTreeMap::new(),
            serial: 0,
        }
    }

    /// This stream's memory, for a checkpoint.
    pub fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// Takes back the memory [`Freeswitch::save_state`] saved (the settings stay).
    pub fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let saved: Freeswitch = postcard::from_bytes(bytes)?;
        let settings = std::mem::take(&mut self.settings);
        *self = Freeswitch {
            settings,
            limits: self.limits,
            ..saved
        };
        Ok(())
    }

    /// Maps one event onto zero or more docs/events.md events appended to `out`; returns its kind
    /// (one of [`KINDS`]) or the `Reject` of a malformed event.
    pub fn map(&mut self, bytes: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        let rec = record::read(bytes, &self.limits)?;
        if rec.action == Action::OtherEvent {
            return Ok(rec.kind);
        }
        let names = Names::of(&rec, &self.limits)?;
        self.wrapups_due(rec.at, true, out);
        let mut n = itoa::Buffer::new();
        let ts = n.format(rec.at).to_owned();
        let base_id = match (text(&rec.headers.core_uuid), text(&rec.headers.sequence)) {
            (Some(core), Some(seq)) => event_id(PREFIX, &[core, seq]),
            _ => event_id(
                PREFIX,
                &[
                    names.session.unwrap_or("-"),
                    &ts,
                    rec.kind,
                    names.queue.unwrap_or("-"),
                ],
            ),
        };
        let id = |step: &str| event_id(&base_id, &[step]);
        match rec.action {
            Action::QueueStart | Action::QueueResume => {
                let session = need(names.session, "CC-Member-Session-UUID")?;
                let queue = need(names.queue, "CC-Queue")?;
                let customer = text(&rec.headers.cid_number)
                    .filter(|c| c.chars().count() <= self.limits.max_string_chars);
                push(
                    out,
                    Out {
                        id: &id("offered"),
                        kind: "contact.offered",
                        ts: rec.at,
                        contact_id: Some(session),
                        queue: Some(queue),
                        channel: Some("voice"),
                        customer,
                        ..Out::default()
                    },
                );
                self.entries.insert(
                    session.to_owned(),
                    Entry {
                        queue: queue.to_owned(),
                        at: rec.at,
                    },
                );
                self.trim_entries();
            }
            Action::BridgeStart => {
                let session = need(names.session, "CC-Member-Session-UUID")?;
                let queue = need(names.queue, "CC-Queue")?;
                let agent = need(names.agent, "CC-Agent")?;
                push(
                    out,
                    Out {
                        id: &id("answered"),
                        kind: "contact.answered",
                        ts: rec.at,
                        contact_id: Some(session),
                        queue: Some(queue),
                        agent: Some(agent),
                        ..Out::default()
                    },
                );
                let configured = self.settings.agent_queues.get(agent);
                let a = self.agents.get(agent, configured);
                if configured.is_none() {
                    a.add_queue(queue);
                }
                a.idle = false;
                a.call = Call::Busy(session.to_owned());
                self.agent_state(agent, rec.at, &id("state"), out);
            }
            Action::QueueEnd => self.queue_end(&rec, &names, &id, out)?,
            Action::StatusChange => {
                let agent = need(names.agent, "CC-Agent")?;
                let status = need(text(&rec.headers.agent_status), "CC-Agent-Status")?;
                if status.chars().count() > self.limits.max_string_chars {
                    return Err(Reject::new(RejectReason::InvalidValue, "CC-Agent-Status"));
                }
                let a = self
                    .agents
                    .get(agent, self.settings.agent_queues.get(agent));
                // older than the end of a call already seen: whether it came before the call or
                // during it is not known, the agent is in it after the call for sure
                let after_calls = match a.call {
                    Call::None => rec.at.max(a.free_at),
                    _ => rec.at,
                };
                match a.status_record(Status::of(status), rec.at) {
                    None => self.agent_state(agent, after_calls, &id("state"), out),
                    Some(restated) => {
                        for (i, (at, state, reason)) in restated.iter().enumerate() {
                            let suffix = if i == 0 { "state" } else { "restate" };
                            push(
                                out,
                                Out {
                                    id: &id(suffix),
                                    kind: "agent.state",
                                    ts: *at,
                                    agent: Some(agent),
                                    state: Some(state.as_str()),
                                    reason: reason.as_deref(),
                                    ..Out::default()
                                },
                            );
                        }
                    }
                }
            }
            Action::StateChange => {
                let agent = need(names.agent, "CC-Agent")?;
                let state = need(text(&rec.headers.agent_state), "CC-Agent-State")?;
                let idle = match state {
                    "Idle" => true,
                    // the agent is given calls again (an on-demand agent after its `Idle`)
                    "Waiting" => false,
                    _ => return Ok(rec.kind),
                };
                let a = self
                    .agents
                    .get(agent, self.settings.agent_queues.get(agent));
                a.idle = idle;
                self.agent_state(agent, rec.at, &id("state"), out);
            }
            _ => {}
        }
        self.agents.trim(MAX_AGENTS);
        Ok(rec.kind)
    }

    /// `member-queue-end`: the caller left the queue, talked to (`Terminated`) or not
    /// (`Cancel`).
    fn queue_end(
        &mut self,
        rec: &Record<'_>,
        names: &Names<'_>,
        id: &dyn Fn(&str) -> String,
        out: &mut Vec<String>,
    ) -> Result<(), Reject> {
        let missing = |field| Reject::new(RejectReason::MissingField, field);
        let session = names.session.ok_or(missing("CC-Member-Session-UUID"))?;
        let queue = names.queue.ok_or(missing("CC-Queue"))?;
        let cause = text(&rec.headers.cause).ok_or(missing("CC-Cause"))?;
        let base = Out {
            ts: rec.at,
            contact_id: Some(session),
            queue: Some(queue),
            ..Out::default()
        };
        match cause {
            "Terminated" => {
                let agent = names.agent.ok_or(missing("CC-Agent"))?;
                let to_queue = self.moved_to(rec, session, queue);
                let secs = self.settings.wrapup_of(agent);
                let wrapup = secs > 0 && self.wrapups.len() < MAX_WRAPUPS;
                push(
                    out,
                    Out {
                        id: &id("ended"),
                        kind: if to_queue.is_some() {
                            "contact.transferred"
                        } else {
                            "contact.ended"
                        },
                        agent: Some(agent),
                        to_queue: to_queue.as_deref(),
                        wrapup: Some(wrapup),
                        ..base
                    },
                );
                if wrapup {
                    self.serial += 1;
                    let due = rec.at + i64::from(secs) * SECOND;
                    let wrapup = Wrapup {
                        session: session.to_owned(),
                        queue: queue.to_owned(),
                        agent: agent.to_owned(),
                        id: id("wrapupend"),
                    };
                    self.wrapups.insert((due, self.serial), wrapup);
                }
                let a = self
                    .agents
                    .get(agent, self.settings.agent_queues.get(agent));
                if a.conversation_ended(session, wrapup, rec.at) {
                    self.agent_state(agent, rec.at, &id("state"), out);
                }
            }
            "Cancel" => {
                let reason = text(&rec.headers.cancel_reason).unwrap_or("NONE");
                let gone = text(&rec.headers.answer_state) == Some("hangup")
                    || text(&rec.headers.hangup_cause).is_some();
                let overflow = match reason {
                    "BREAK_OUT" if gone => None,
                    "TIMEOUT" => Some("timeout"),
                    "NO_AGENT_TIMEOUT" => Some("no_agents"),
                    "EXIT_WITH_KEY" => Some("key"),
                    _ => Some("other"),
                };
                let (kind, step) = match overflow {
                    None => ("contact.abandoned", "abandoned"),
                    Some(_) => ("contact.overflowed", "overflowed"),
                };
                push(
                    out,
                    Out {
                        id: &id(step),
                        kind,
                        reason: overflow,
                        ..base
                    },
                );
            }
            _ => return Err(Reject::new(RejectReason::InvalidValue, "CC-Cause")),
        }
        if self.entries.get(session).is_some_and(|e| e.queue == queue) {
            self.entries.remove(session);
        }
        Ok(())
    }

    /// The queue a caller answered in `queue` entered since its answer, if any: the adapter's
    /// memory of its entries, else the channel's `cc_queue` on this event.
    fn moved_to(&self, rec: &Record<'_>, session: &str, queue: &str) -> Option<String> {
        let answered = epoch_seconds(&rec.headers.answered_time);
        let since_answer = |at_secs: Option<i64>| match (answered, at_secs) {
            (Some(a), Some(e)) => e >= a,
            _ => true,
        };
        if let Some(e) = self.entries.get(session) {
            if e.queue != queue && since_answer(Some(e.at.div_euclid(SECOND))) {
                return Some(e.queue.clone());
            }
        }
        let current = text(&rec.headers.current_queue)
            .filter(|q| *q != queue && q.chars().count() <= self.limits.max_string_chars)?;
        since_answer(epoch_seconds(&rec.headers.current_joined)).then(|| current.to_owned())
    }

    /// Emits the wrap-up ends due before `until` (at it too when `inclusive`), each with its
    /// agent's state.
    fn wrapups_due(&mut self, until: Millis, inclusive: bool, out: &mut Vec<String>) {
        while let Some(entry) = self.wrapups.first_entry() {
            let at = entry.key().0;
            if at > until || (at == until && !inclusive) {
                break;
            }
            let w = entry.remove();
            push(
                out,
                Out {
                    id: &w.id,
                    kind: "contact.wrapup_ended",
                    ts: at,
                    contact_id: Some(&w.session),
                    queue: Some(&w.queue),
                    agent: Some(&w.agent),
                    ..Out::default()
                },
            );
            if let Some(a) = self.agents.by_name.get_mut(&w.agent) {
                a.wrapup_ended(&w.session, at);
                let id = event_id(&w.id, &["state"]);
                self.agent_state(&w.agent, at, &id, out);
            }
        }
    }

    /// The agent's `agent.state` at `at`, when it changed.
    fn agent_state(&mut self, agent: &str, at: Millis, id: &str, out: &mut Vec<String>) {
        let Some(pending) = self
            .agents
            .by_name
            .get_mut(agent)
            .and_then(|a| a.pending_state())
        else {
            return;
        };
        let (state, reason, queues): (AgentState, _, _) = pending;
        push(
            out,
            Out {
                id,
                kind: "agent.state",
                ts: at,
                agent: Some(agent),
                state: Some(state.as_str()),
                reason: reason.as_deref(),
                queues: queues.as_deref(),
                ..Out::default()
            },
        );
    }

    /// Forgets the oldest tenth of the callers' entries when more than the bound are held.
    fn trim_entries(&mut self) {
        if self.entries.len() <= MAX_CALLERS {
            return;
        }
        let mut times: Vec<Millis> = self.entries.values().map(|e| e.at).collect();
        times.sort_unstable();
        let cut = times[times.len() / 10];
        self.entries.retain(|_, e| e.at > cut);
    }

    /// Wrap-up ends whose time is before `until`: emit them now.
    pub fn flush(&mut self, until: Millis, out: &mut Vec<String>) {
        self.wrapups_due(until, false, out);
    }
}

/// A header the action needs, or its `missing_field` reject.
fn need<'v>(value: Option<&'v str>, field: &'static str) -> Result<&'v str, Reject> {
    value.ok_or(Reject::new(RejectReason::MissingField, field))
}

/// The identities of a record, checked against the string limits.
struct Names<'r> {
    session: Option<&'r str>,
    queue: Option<&'r str>,
    agent: Option<&'r str>,
}

impl<'r> Names<'r> {
    fn of(rec: &'r Record<'_>, limits: &Limits) -> Result<Names<'r>, Reject> {
        let name = |value, field| match text(value) {
            Some(v) if v.chars().count() > limits.max_string_chars => {
                Err(Reject::new(RejectReason::InvalidValue, field))
            }
            v => Ok(v),
        };
        Ok(Names {
            session: name(&rec.headers.session, "CC-Member-Session-UUID")?,
            queue: name(&rec.headers.queue, "CC-Queue")?,
            agent: name(&rec.headers.agent, "CC-Agent")?,
        })
    }
}
