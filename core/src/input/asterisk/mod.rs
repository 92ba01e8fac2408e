//! The `asterisk` input: Asterisk app_queue `queue_log` records (file lines or realtime/ODBC JSON
//! rows) mapped onto docs/events.md JSON, as `docs/inputs.md` says, with the agent memory
//! (queue list, pause, call, wrap-up) that synthesizes `agent.state` events.
//!
//! A record's own contact events (offer, answer, abandon, routing exit) go out as soon as it is
//! read. Everything that depends on other records is held until the reorder allowance (the
//! engine's lateness less a second) has passed the record's second — or [`Asterisk::flush`] says
//! its time is past — and a second's records are then mapped together in time order and, within
//! one instant, in a fixed order (see `phase`): the same records in any order within the
//! allowance give the same events (docs/inputs.md), a WRAPUPSTART finds the conversation its agent
//! ended in that second, and each agent gets at most one `agent.state` per second (its state
//! after it, at the time of its latest record that moves it), so the engine never has to order
//! one agent's same-millisecond states.

mod agents;
mod contact;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod read_tests;
mod record;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;

use crate::event::{Limits, Reject, RejectReason};
use crate::time::{Millis, SECOND};

use self::agents::{Agents, Call, Presence};
use self::contact::Calls;
pub use self::record::agent_name;
use self::record::{Record, Verb};
use super::write::{event_id, push, Out};

/// Settings of one `asterisk` input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsteriskSettings {
    /// The zone of datetime strings in the realtime spelling (default UTC).
    pub timezone: Tz,
    /// How far behind the latest record a record may arrive and still map as in time order:
    /// the engine's lateness less a second (what the allowance holds back goes out while the
    /// engine still takes it).
    pub reorder: Millis,
}

impl AsteriskSettings {
    /// The reorder allowance under an engine lateness of `lateness`.
    pub fn reorder_within(lateness: Millis) -> Millis {
        lateness.saturating_sub(SECOND).max(0)
    }
}

impl Default for AsteriskSettings {
    fn default() -> Self {
        AsteriskSettings {
            timezone: Tz::UTC,
            reorder: AsteriskSettings::reorder_within(60 * SECOND),
        }
    }
}

/// Every kind [`Asterisk::map`] returns: the verbs of docs/inputs.md's table in lower case, and
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

/// Records held at most; beyond it the oldest second goes out early (a flood of records does not
/// grow memory without end).
const MAX_HELD: usize = 100_000;
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
    /// Records not yet mapped in full, by second (their [`contact::at_once`] events went out).
    held: BTreeMap<i64, Vec<Record>>,
    held_count: usize,
    /// Every record at or before it is mapped in full; a record of that time is too late.
    done: Millis,
    /// The latest record time believed: a record more than the reorder allowance ahead of it
    /// moves it only once another record confirms the jump (`ahead`), so one line with a wrong
    /// clock does not make the records after it late.
    latest: Millis,
    /// A record time ahead of `latest` by more than the allowance, and its events, waiting for
    /// the next record to confirm the jump.
    ahead: Option<(Millis, Vec<String>)>,
    agents: Agents,
    calls: Calls,
    /// Wrap-up ends by (time, serial).
    wrapups: BTreeMap<(Millis, u64), Wrapup>,
    serial: u64,
}

impl Asterisk {
    pub fn new(settings: AsteriskSettings) -> Self {
        Asterisk {
            settings,
            limits: Limits::default(),
            held: BTreeMap::new(),
            held_count: 0,
            done: Millis::MIN,
            latest: Millis::MIN,
            ahead: None,
            agents: Agents::default(),
            calls: Calls::default(),
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

    /// Maps one record (a file line or a realtime JSON row) onto zero or more docs/events.md events,
    /// appended to `out` as JSON objects (one `String` each, valid for `input::callpulse::decode`);
    /// returns the record's kind for `callpulse_input_records_total{format="asterisk",kind}` — the
    /// verb in lower case for the verbs of docs/inputs.md's table, "unknown" for any other verb — or
    /// the `Reject` of a malformed record, or `too_late` for a record more than the reorder
    /// allowance behind the stream (its time is mapped in full already).
    ///
    /// A record's own contact events go out at once; what depends on other records (agent
    /// states, conversation ends and their wrap-up, FULL / JOINEMPTY) once the reorder allowance
    /// has passed its second, so that records out of order within it map as in time order.
    pub fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        let read = record::read(record, self.settings.timezone, &self.limits)?;
        let ahead = read.at > self.done && self.observe(read.at, out);
        let Some(rec) = read.record else {
            return Ok(read.kind);
        };
        if rec.at <= self.done {
            return Err(Reject::new(RejectReason::TooLate, "time"));
        }
        let sec = second(rec.at);
        let held = self.held.entry(sec).or_default();
        // a record delivered twice is mapped once
        if !held.contains(&rec) {
            match &mut self.ahead {
                // a jump not confirmed yet: its events wait for the record that confirms it
                Some((_, pending)) if ahead => {
                    contact::at_once(&rec, &self.limits, &mut self.calls, pending)
                }
                _ => contact::at_once(&rec, &self.limits, &mut self.calls, out),
            }
            held.push(rec);
            self.held_count += 1;
        }
        while self.held_count > MAX_HELD {
            let Some(&oldest) = self.held.keys().next() else {
                break;
            };
            self.release_before(oldest + 1, out);
        }
        Ok(read.kind)
    }

    /// Moves the stream's time on to a record's and maps in full what the allowance no longer
    /// holds back. A record that jumps ahead by more than the allowance moves it only once the
    /// next record confirms the jump (comes no earlier than the allowance before it: a quiet
    /// night followed by the morning's traffic does); until then its events wait (true is
    /// returned), so a lone line with a wrong clock makes no later record late.
    fn observe(&mut self, at: Millis, out: &mut Vec<String>) -> bool {
        let allowance = self.settings.reorder.max(SECOND);
        if let Some((a, pending)) = self.ahead.take() {
            if at >= a.saturating_sub(allowance) {
                self.move_to(a, out);
            }
            out.extend(pending);
        }
        if self.latest == Millis::MIN || at <= self.latest.saturating_add(allowance) {
            self.move_to(at, out);
            false
        } else {
            self.ahead = Some((at, Vec::new()));
            true
        }
    }

    fn move_to(&mut self, at: Millis, out: &mut Vec<String>) {
        self.latest = self.latest.max(at);
        let line = self.latest.saturating_sub(self.settings.reorder);
        self.release_before(second(line), out);
    }

    /// What is held back stamped before `until - reorder` (no record will come before that):
    /// map it now. With an `until` on a whole second a second's records pair up as they should;
    /// `Millis::MAX` maps everything (the end of an input).
    pub fn flush(&mut self, until: Millis, out: &mut Vec<String>) {
        if let Some((a, pending)) = self.ahead.take() {
            if a <= until {
                self.move_to(a, out);
                out.extend(pending);
            } else {
                self.ahead = Some((a, pending));
            }
        }
        let line = if until == Millis::MAX {
            Millis::MAX
        } else {
            until.saturating_sub(self.settings.reorder)
        };
        self.release_before(second(line), out);
        let sec = second(line);
        let held_before = self
            .held
            .get(&sec)
            .is_some_and(|rs| rs.iter().all(|r| r.at < line));
        if held_before || (!self.held.contains_key(&sec) && line != Millis::MAX) {
            let records = self.held.remove(&sec).unwrap_or_default();
            self.held_count -= records.len();
            if !records.is_empty() || self.wrapups.keys().next().is_some_and(|&(w, _)| w < line) {
                self.batch(sec, records, line, out);
            }
            self.mapped_to(line.saturating_sub(1));
        }
    }

    /// Maps in full every second before `sec` that holds records or wrap-up ends, in time order.
    fn release_before(&mut self, sec: i64, out: &mut Vec<String>) {
        loop {
            let held = self.held.keys().next().copied();
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
            let records = if held == Some(next) {
                self.held.remove(&next).unwrap_or_default()
            } else {
                Vec::new()
            };
            self.held_count -= records.len();
            self.batch(next, records, (next + 1) * SECOND, out);
        }
        self.mapped_to(sec.saturating_mul(SECOND).saturating_sub(1));
    }

    /// Everything up to `at` is mapped in full.
    fn mapped_to(&mut self, at: Millis) {
        if at > self.done {
            let minute = |t: Millis| t.div_euclid(60 * SECOND);
            let new_minute = minute(at) != minute(self.done);
            self.done = at;
            if new_minute {
                self.calls.forget(at);
            }
        }
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
        let wrapup = pair_wrapups(&keyed);
        for ((_, _, rec), ends) in keyed.iter().zip(wrapup) {
            self.apply(rec, ends, &mut touched, out);
        }
        // a wrap-up of no time ends at once
        self.wrapups_in(sec, limit, &mut touched, out);

        touched.sort_unstable();
        for (i, (name, at)) in touched.iter().enumerate() {
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

    /// Maps one record: its contact events, and its change to the agent memory.
    fn apply(
        &mut self,
        rec: &Record,
        wrapup_end: Option<Millis>,
        touched: &mut Vec<(String, Millis)>,
        out: &mut Vec<String>,
    ) {
        let wrapup = wrapup_end.filter(|_| self.wrapups.len() < MAX_WRAPUPS);
        if contact::waits(rec.verb) {
            contact::in_order(rec, wrapup.is_some(), &mut self.calls, &self.limits, out);
        }
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
