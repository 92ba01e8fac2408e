//! The `asterisk` input: Asterisk app_queue `queue_log` records (file lines or realtime/ODBC JSON
//! rows) mapped onto events.md JSON, as `shared/spec/inputs.md` says, with the agent memory
//! (queue list, pause, call, wrap-up) that synthesizes `agent.state` events.
//!
//! Records are held until their second is complete — until a record of a later second arrives,
//! or [`Asterisk::flush`] says their time is past — and a second's records are then mapped
//! together in time order and, within one instant, in a fixed order (see [`phase`]): the same
//! records in any order within their second give the same events, a WRAPUPSTART finds the
//! conversation its agent ended in that second, and each agent gets at most one `agent.state`
//! per batch (its state after it, at the time of its latest record that moves it), so the
//! engine never has to order one agent's same-millisecond states.

mod agents;
#[cfg(test)]
mod read_tests;
mod record;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;

use crate::event::{Limits, Reject};
use crate::time::{Millis, SECOND};

use self::agents::{Agents, Call, Presence};
pub use self::record::agent_name;
use self::record::{Record, Verb};
use super::write::{event_id, push, Out};

/// Settings of one `asterisk` input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsteriskSettings {
    /// The zone of datetime strings in the realtime spelling (default UTC).
    pub timezone: Tz,
}

impl Default for AsteriskSettings {
    fn default() -> Self {
        AsteriskSettings { timezone: Tz::UTC }
    }
}

/// Every kind [`Asterisk::map`] returns: the verbs of inputs.md's table in lower case, and
/// `unknown` for any other verb.
pub const KINDS: &[&str] = &[
    "enterqueue",
    "connect",
    "abandon",
    "exitwithtimeout",
    "exitempty",
    "exitwithkey",
    "withdraw",
    "full",
    "joinempty",
    "completecaller",
    "completeagent",
    "transfer",
    "blindtransfer",
    "attendedtransfer",
    "wrapupstart",
    "syscompat",
    "addmember",
    "removemember",
    "agentlogin",
    "agentcallbacklogin",
    "agentlogoff",
    "agentcallbacklogoff",
    "pause",
    "pauseall",
    "unpause",
    "unpauseall",
    "ringnoanswer",
    "ringcanceled",
    "agentdump",
    "penalty",
    "ringinuse",
    "queuestart",
    "configreload",
    "did",
    "info",
    "outdial",
    "outanswer",
    "outcancel",
    "outchanunavail",
    "outcongestion",
    "outtransfer",
    record::UNKNOWN,
];

/// The prefix of the ids of the events this input writes.
const PREFIX: &str = "ast";

/// Records of one instant held at most; beyond it the instant goes out early (a flood of
/// records at one instant does not grow memory without end).
const MAX_HELD: usize = 10_000;
/// Wrap-up ends waiting for their time at most; beyond it a COMPLETE* goes out `wrapup: false`.
const MAX_WRAPUPS: usize = 100_000;
/// Agents remembered at most; beyond it logged-out agents are forgotten.
const MAX_AGENTS: usize = 100_000;

/// A wrap-up end waiting for its time.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Wrapup {
    callid: String,
    queue: String,
    agent: String,
    id: String,
}

/// One queue_log stream's adapter: it keeps each agent's queue list, pause and wrap-up state
/// (per partition). A checkpoint holds all of it but the settings.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Asterisk {
    #[serde(skip)]
    settings: AsteriskSettings,
    #[serde(skip)]
    limits: Limits,
    /// Records of the second `held_sec`, not yet mapped.
    held: Vec<Record>,
    held_sec: i64,
    /// The latest time already mapped; a record at or before it is late.
    done: Millis,
    agents: Agents,
    /// Wrap-up ends by (time, serial).
    wrapups: BTreeMap<(Millis, u64), Wrapup>,
    serial: u64,
}

impl Asterisk {
    pub fn new(settings: AsteriskSettings) -> Self {
        Asterisk {
            settings,
            limits: Limits::default(),
            held: Vec::new(),
            held_sec: i64::MIN,
            done: Millis::MIN,
            agents: Agents::default(),
            wrapups: BTreeMap::new(),
            serial: 0,
        }
    }

    /// This stream's memory, for a checkpoint.
    pub fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// Takes back the memory [`Asterisk::save_state`] saved (the settings stay).
    pub fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let saved: Asterisk = postcard::from_bytes(bytes)?;
        *self = Asterisk {
            settings: self.settings,
            limits: self.limits,
            ..saved
        };
        Ok(())
    }

    /// Maps one record (a file line or a realtime JSON row) onto zero or more events.md events,
    /// appended to `out` as JSON objects (one `String` each, valid for `input::callpulse::decode`);
    /// returns the record's kind for `callpulse_input_records_total{format="asterisk",kind}` — the
    /// verb in lower case for the verbs of inputs.md's table, "unknown" for any other verb — or
    /// the `Reject` of a malformed record.
    pub fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        let read = record::read(record, self.settings.timezone, &self.limits)?;
        let sec = second(read.at);
        self.release_seconds_before(sec, out);
        if let Some(rec) = read.record {
            if rec.at <= self.done {
                // late: its time already went out; the agent memory is past it
                self.late(rec, out);
            } else if !self.held.is_empty() && sec < self.held_sec {
                // older than the held second, newer than anything mapped: mapped at once
                self.batch(sec, vec![rec], (sec + 1) * SECOND, out);
            } else {
                if self.held.is_empty() {
                    self.held_sec = sec;
                }
                self.held.push(rec);
                if self.held.len() >= MAX_HELD {
                    self.release_held((sec + 1) * SECOND, out);
                }
            }
        }
        Ok(read.kind)
    }

    /// Events held back for a follow-up that never came (e.g. a COMPLETE* waiting to see whether
    /// a WRAPUPSTART of that agent follows in the same second), whose time is before `until`:
    /// emit them now. (Call it with an `until` no record will come before; a second's records
    /// pair up only when they go out together, so an `until` on a whole second is best.)
    pub fn flush(&mut self, until: Millis, out: &mut Vec<String>) {
        let sec = second(until);
        self.release_seconds_before(sec, out);
        let held_before = self.held.iter().all(|r| r.at < until);
        if !self.held.is_empty() && self.held_sec == sec && held_before {
            self.release_held(until, out);
        }
        // wrap-up ends of a second whose records are still held go out with them
        let held_here = !self.held.is_empty() && self.held_sec == sec;
        if !held_here && self.wrapups.keys().next().is_some_and(|&(w, _)| w < until) {
            self.batch(sec, Vec::new(), until, out);
        }
    }

    /// Maps every second before `sec` that holds records or wrap-up ends, in time order.
    fn release_seconds_before(&mut self, sec: i64, out: &mut Vec<String>) {
        loop {
            let held = (!self.held.is_empty()).then_some(self.held_sec);
            let wrapup = self.wrapups.keys().next().map(|&(w, _)| second(w));
            let next = match (held, wrapup) {
                (Some(h), Some(w)) => h.min(w),
                (Some(h), None) => h,
                (None, Some(w)) => w,
                (None, None) => break,
            };
            if next >= sec {
                break;
            }
            if held == Some(next) {
                self.release_held((next + 1) * SECOND, out);
            } else {
                self.batch(next, Vec::new(), (next + 1) * SECOND, out);
            }
        }
    }

    fn release_held(&mut self, limit: Millis, out: &mut Vec<String>) {
        let records = std::mem::take(&mut self.held);
        self.batch(self.held_sec, records, limit, out);
    }

    /// Maps one second's records (all after `done`) with the wrap-up ends due in that second
    /// before `limit`: wrap-up ends first, then the records in time order and, within one
    /// instant, in the fixed order of [`phase`]; then each touched agent's one `agent.state`,
    /// at the latest time of its records in the batch (a WRAPUPSTART moves no agent itself).
    fn batch(&mut self, sec: i64, records: Vec<Record>, limit: Millis, out: &mut Vec<String>) {
        let mut touched: Vec<(String, Millis)> = Vec::new();
        self.wrapups_in(sec, limit, &mut touched, out);

        let mut keyed: Vec<(Millis, u8, Record)> = records
            .into_iter()
            .map(|r| (r.at, phase(&r, &self.agents), r))
            .collect();
        keyed.sort_unstable();
        // a record delivered twice is mapped once
        keyed.dedup();
        let wrapup = pair_wrapups(&keyed);
        for ((_, _, rec), ends) in keyed.iter().zip(wrapup) {
            self.apply(rec, ends, &mut touched, out);
        }
        // a wrap-up of no time ends at once
        self.wrapups_in(sec, limit, &mut touched, out);

        touched.sort_unstable();
        let mut last = Millis::MIN;
        for (i, (name, at)) in touched.iter().enumerate() {
            last = last.max(*at);
            if touched.get(i + 1).is_some_and(|(next, _)| next == name) {
                continue; // the same agent's latest time comes last
            }
            let pending = self.agents.get(name).and_then(|a| a.pending_state());
            if let Some((state, reason, queues)) = pending {
                let id = event_id(
                    PREFIX,
                    &[
                        "agent",
                        name,
                        itoa::Buffer::new().format(*at),
                        state.as_str(),
                    ],
                );
                push(
                    out,
                    Out {
                        id: &id,
                        kind: "agent.state",
                        ts: *at,
                        agent: Some(name),
                        state: Some(state.as_str()),
                        reason: reason.as_deref(),
                        queues: queues.as_deref(),
                        ..Out::default()
                    },
                );
            }
        }
        if let Some((at, _, _)) = keyed.last() {
            last = last.max(*at);
        }
        self.done = self.done.max(last);
        self.agents.trim(MAX_AGENTS);
    }

    /// The wrap-up ends due in second `sec`, before `limit`.
    fn wrapups_in(
        &mut self,
        sec: i64,
        limit: Millis,
        touched: &mut Vec<(String, Millis)>,
        out: &mut Vec<String>,
    ) {
        while let Some(entry) = self.wrapups.first_entry() {
            let at = entry.key().0;
            if second(at) != sec || at >= limit {
                break;
            }
            let w = entry.remove();
            push(
                out,
                Out {
                    id: &w.id,
                    kind: "contact.wrapup_ended",
                    ts: at,
                    contact_id: Some(&w.callid),
                    queue: Some(&w.queue),
                    agent: Some(&w.agent),
                    ..Out::default()
                },
            );
            if let Some(agent) = self.agents.get(&w.agent) {
                agent.wrapup_ended(&w.callid);
            }
            touched.push((w.agent, at));
        }
    }

    /// A record no later than what already went out: its contact events only (the agent memory is
    /// already past it, so it changes no agent state; a COMPLETE* goes out `wrapup: false`).
    fn late(&mut self, rec: Record, out: &mut Vec<String>) {
        self.contact_events(&rec, None, out);
    }

    /// Maps one record: its contact events, and its change to the agent memory.
    fn apply(
        &mut self,
        rec: &Record,
        wrapup_end: Option<Millis>,
        touched: &mut Vec<(String, Millis)>,
        out: &mut Vec<String>,
    ) {
        let wrapup = wrapup_end.filter(|_| self.wrapups.len() < MAX_WRAPUPS);
        self.contact_events(rec, wrapup, out);
        if rec.agent.is_empty() {
            return;
        }
        let Some(agent) = self.agents.get(&rec.agent) else {
            return;
        };
        match rec.verb {
            Verb::Connect => {
                agent.presence = Presence::In;
                agent.add_queue(&rec.queue);
                agent.call = Call::Busy(rec.callid.clone());
            }
            Verb::CompleteCaller
            | Verb::CompleteAgent
            | Verb::Transfer
            | Verb::BlindTransfer
            | Verb::AttendedTransfer => {
                agent.conversation_ended(&rec.callid, wrapup.is_some());
                if let Some(end) = wrapup {
                    self.serial += 1;
                    let id = event_id(
                        PREFIX,
                        &[
                            &rec.callid,
                            itoa::Buffer::new().format(rec.at),
                            "wrapupend",
                            &rec.queue,
                            "0",
                        ],
                    );
                    self.wrapups.insert(
                        (end.max(rec.at), self.serial),
                        Wrapup {
                            callid: rec.callid.clone(),
                            queue: rec.queue.clone(),
                            agent: rec.agent.clone(),
                            id,
                        },
                    );
                }
            }
            Verb::AddMember => {
                agent.presence = Presence::In;
                agent.add_queue(&rec.queue);
                let paused = rec.data[0].trim().eq_ignore_ascii_case("PAUSED");
                agent.pause(paused, None);
            }
            Verb::RemoveMember => agent.remove_queue(&rec.queue),
            Verb::AgentLogin | Verb::AgentCallbackLogin => {
                agent.presence = Presence::In;
                agent.pause(false, None);
            }
            Verb::AgentLogoff | Verb::AgentCallbackLogoff => agent.log_out(),
            Verb::Pause | Verb::PauseAll => {
                let reason = rec.data[0].trim();
                let fits =
                    !reason.is_empty() && reason.chars().count() <= self.limits.max_string_chars;
                agent.presence = Presence::In;
                agent.pause(true, fits.then(|| reason.to_owned()));
            }
            Verb::Unpause | Verb::UnpauseAll => {
                agent.presence = Presence::In;
                agent.pause(false, None);
            }
            _ => return,
        }
        touched.push((rec.agent.clone(), rec.at));
    }

    /// The contact events of one record (none for agent verbs and WRAPUPSTART).
    fn contact_events(&self, rec: &Record, wrapup: Option<Millis>, out: &mut Vec<String>) {
        let mut at = itoa::Buffer::new();
        let at = at.format(rec.at);
        let id = |n: &str| event_id(PREFIX, &[&rec.callid, at, rec.kind, &rec.queue, n]);
        let base = Out {
            ts: rec.at,
            contact_id: Some(&rec.callid),
            queue: Some(&rec.queue),
            ..Out::default()
        };
        let overflow = |reason: &'static str, n: &str, out: &mut Vec<String>| {
            let id = id(n);
            push(
                out,
                Out {
                    id: &id,
                    kind: "contact.overflowed",
                    reason: Some(reason),
                    ..base
                },
            )
        };
        let offer = |out: &mut Vec<String>| {
            // only ENTERQUEUE carries the caller id (data2); FULL / JOINEMPTY write other
            // fields there
            let customer = rec.data[1].trim();
            let customer = (rec.verb == Verb::EnterQueue
                && !customer.is_empty()
                && customer.chars().count() <= self.limits.max_string_chars)
                .then_some(customer);
            let id = id("0");
            push(
                out,
                Out {
                    id: &id,
                    kind: "contact.offered",
                    channel: Some("voice"),
                    customer,
                    ..base
                },
            )
        };
        let with_agent = |kind: &'static str, wrapup: Option<bool>, out: &mut Vec<String>| {
            let id = id("0");
            push(
                out,
                Out {
                    id: &id,
                    kind,
                    agent: Some(&rec.agent),
                    wrapup,
                    ..base
                },
            )
        };
        match rec.verb {
            Verb::EnterQueue => offer(out),
            Verb::Connect => with_agent("contact.answered", None, out),
            Verb::Abandon => {
                let id = id("0");
                push(
                    out,
                    Out {
                        id: &id,
                        kind: "contact.abandoned",
                        ..base
                    },
                )
            }
            Verb::ExitWithTimeout => overflow("timeout", "0", out),
            Verb::ExitEmpty => overflow("no_agents", "0", out),
            Verb::ExitWithKey => overflow("key", "0", out),
            Verb::Withdraw | Verb::SysCompat => overflow("other", "0", out),
            Verb::Full => {
                offer(out);
                overflow("full", "1", out);
            }
            Verb::JoinEmpty => {
                offer(out);
                overflow("no_agents", "1", out);
            }
            Verb::CompleteCaller | Verb::CompleteAgent => {
                with_agent("contact.ended", Some(wrapup.is_some()), out)
            }
            Verb::Transfer | Verb::BlindTransfer | Verb::AttendedTransfer => {
                with_agent("contact.transferred", Some(wrapup.is_some()), out)
            }
            _ => {}
        }
    }
}

/// Where a record goes in its instant's fixed order, so that one agent's records of one second
/// leave it in the state a real sequence would: logins and queue additions first, then the end
/// of the call the agent was on, unpause, a new call, the end of a call that began this same
/// instant (or of one the memory does not know), pause, and logoffs and removals last.
fn phase(rec: &Record, agents: &Agents) -> u8 {
    match rec.verb {
        Verb::AddMember | Verb::AgentLogin | Verb::AgentCallbackLogin => 0,
        Verb::CompleteCaller
        | Verb::CompleteAgent
        | Verb::Transfer
        | Verb::BlindTransfer
        | Verb::AttendedTransfer => {
            let on_it = agents
                .by_name
                .get(&rec.agent)
                .is_some_and(|a| matches!(&a.call, Call::Busy(c) if *c == rec.callid));
            if on_it {
                2
            } else {
                5
            }
        }
        Verb::Unpause | Verb::UnpauseAll => 3,
        Verb::Connect => 4,
        Verb::WrapupStart => 6,
        Verb::Pause | Verb::PauseAll => 7,
        Verb::RemoveMember | Verb::AgentLogoff | Verb::AgentCallbackLogoff => 8,
        _ => 1,
    }
}

fn ends_conversation(verb: Verb) -> bool {
    matches!(
        verb,
        Verb::CompleteCaller
            | Verb::CompleteAgent
            | Verb::Transfer
            | Verb::BlindTransfer
            | Verb::AttendedTransfer
    )
}

/// For each record (in mapping order), when the wrap-up that follows it ends: a WRAPUPSTART of
/// an agent belongs to that agent's conversation ending in the same second — the one with its
/// callid when it names one, else the agent's last one — and the wrap-up ends at the
/// WRAPUPSTART's time + data1 seconds.
fn pair_wrapups(records: &[(Millis, u8, Record)]) -> Vec<Option<Millis>> {
    let mut paired = vec![None; records.len()];
    if !records.iter().any(|(_, _, r)| r.verb == Verb::WrapupStart) {
        return paired;
    }
    // each agent's conversation ends, in mapping order
    let mut ends: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, _, r)) in records.iter().enumerate() {
        if ends_conversation(r.verb) {
            ends.entry(r.agent.as_str()).or_default().push(i);
        }
    }
    for (_, _, w) in records
        .iter()
        .filter(|(_, _, r)| r.verb == Verb::WrapupStart)
    {
        let Ok(secs) = record::wrapup_seconds(&w.data[0]) else {
            continue;
        };
        let Some(own) = ends.get(w.agent.as_str()) else {
            continue;
        };
        let free = || own.iter().copied().filter(|&i| paired[i].is_none());
        let by_call = free().rfind(|&i| records[i].2.callid == w.callid);
        if let Some(i) = by_call.or_else(|| free().next_back()) {
            paired[i] = Some(w.at + secs * SECOND);
        }
    }
    paired
}

/// The whole second of an instant.
fn second(at: Millis) -> i64 {
    at.div_euclid(SECOND)
}
