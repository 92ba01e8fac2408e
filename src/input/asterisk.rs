//! The `asterisk` input: Asterisk app_queue `queue_log` records (file lines or realtime/ODBC JSON
//! rows) mapped onto events.md JSON, as `shared/spec/inputs.md` says, with the agent memory
//! (queue list, pause, call, wrap-up) that synthesizes `agent.state` events.
//!
//! Records are held until their instant is complete — until a record with a later time
//! arrives, or [`Asterisk::flush`] says the instant is past — and an instant's records are then
//! mapped in a fixed order (see [`phase`]), so the same records in any order within their second
//! give the same events; each agent gets at most one `agent.state` per instant (its state after
//! the instant), so the engine never has to order one agent's same-millisecond states.

mod agents;
#[cfg(test)]
mod read_tests;
mod record;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use serde::Serialize;

use crate::event::{Limits, Reject};
use crate::time::{Millis, SECOND};

use self::agents::{Agents, Call, Presence};
pub use self::record::agent_name;
use self::record::{Record, Verb};

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

/// Records of one instant held at most; beyond it the instant goes out early (a flood of
/// records at one instant does not grow memory without end).
const MAX_HELD: usize = 10_000;
/// Wrap-up ends waiting for their time at most; beyond it a COMPLETE* goes out `wrapup: false`.
const MAX_WRAPUPS: usize = 100_000;
/// Agents remembered at most; beyond it logged-out agents are forgotten.
const MAX_AGENTS: usize = 100_000;

/// A wrap-up end waiting for its time.
#[derive(Debug)]
struct Wrapup {
    callid: String,
    queue: String,
    agent: String,
    id: String,
}

/// One queue_log stream's adapter: it keeps each agent's queue list, pause and wrap-up state
/// (per partition).
#[derive(Debug)]
pub struct Asterisk {
    settings: AsteriskSettings,
    limits: Limits,
    /// Records of the instant `held_at`, not yet mapped.
    held: Vec<Record>,
    held_at: Millis,
    /// The latest instant already mapped; a record at or before it is late.
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
            held_at: Millis::MIN,
            done: Millis::MIN,
            agents: Agents::default(),
            wrapups: BTreeMap::new(),
            serial: 0,
        }
    }

    /// Maps one record (a file line or a realtime JSON row) onto zero or more events.md events,
    /// appended to `out` as JSON objects (one `String` each, valid for `input::callpulse::decode`);
    /// returns the record's kind for `callpulse_input_records_total{format="asterisk",kind}` — the
    /// verb in lower case for the verbs of inputs.md's table, "unknown" for any other verb — or
    /// the `Reject` of a malformed record.
    pub fn map(&mut self, record: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        let read = record::read(record, self.settings.timezone, &self.limits)?;
        self.release_before(read.at, out);
        if let Some(rec) = read.record {
            if rec.at <= self.done {
                // late: its instant already went out; the agent memory is past it
                self.late(rec, out);
            } else if !self.held.is_empty() && rec.at < self.held_at {
                // older than the held instant, newer than anything mapped: its own instant
                self.instant(rec.at, vec![rec], out);
            } else {
                if self.held.is_empty() {
                    self.held_at = rec.at;
                }
                self.held.push(rec);
                if self.held.len() >= MAX_HELD {
                    self.release_held(out);
                }
            }
        }
        Ok(read.kind)
    }

    /// Events held back for a follow-up that never came (e.g. a COMPLETE* waiting to see whether
    /// a WRAPUPSTART of that agent follows at the same instant), whose time is before `until`:
    /// emit them now.
    pub fn flush(&mut self, until: Millis, out: &mut Vec<String>) {
        self.release_before(until, out);
    }

    /// Maps the held instant when it is before `t`, then the wrap-up ends before `t`.
    fn release_before(&mut self, t: Millis, out: &mut Vec<String>) {
        if !self.held.is_empty() && self.held_at < t {
            self.release_held(out);
        }
        self.wrapups_before(t, out);
    }

    fn release_held(&mut self, out: &mut Vec<String>) {
        let records = std::mem::take(&mut self.held);
        let at = self.held_at;
        self.instant(at, records, out);
    }

    /// Wrap-up ends before `t`, each instant on its own.
    fn wrapups_before(&mut self, t: Millis, out: &mut Vec<String>) {
        while let Some((&(at, _), _)) = self.wrapups.first_key_value() {
            if at >= t {
                break;
            }
            self.instant(at, Vec::new(), out);
        }
    }

    /// Maps the records of one instant (with the wrap-up ends due then), in the fixed order.
    fn instant(&mut self, at: Millis, records: Vec<Record>, out: &mut Vec<String>) {
        self.wrapups_before(at, out);
        self.done = self.done.max(at);
        let mut touched: Vec<String> = Vec::new();
        self.wrapups_at(at, &mut touched, out);

        let mut keyed: Vec<(u8, Record)> = records
            .into_iter()
            .map(|r| (phase(&r, &self.agents), r))
            .collect();
        keyed.sort_unstable();
        // a record delivered twice is mapped once
        keyed.dedup();
        let wrapup = pair_wrapups(&keyed);
        for ((_, rec), secs) in keyed.iter().zip(wrapup) {
            self.apply(rec, secs, &mut touched, out);
        }
        // a wrap-up of no time ends at once
        self.wrapups_at(at, &mut touched, out);

        touched.sort_unstable();
        touched.dedup();
        for name in touched {
            let pending = self.agents.get(&name).and_then(|a| a.pending_state());
            if let Some((state, reason, queues)) = pending {
                let id = event_id(&[
                    "agent",
                    &name,
                    itoa::Buffer::new().format(at),
                    state.as_str(),
                ]);
                push(
                    out,
                    Out {
                        id: &id,
                        kind: "agent.state",
                        ts: at,
                        agent: Some(&name),
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

    /// The wrap-up ends due exactly at `at`.
    fn wrapups_at(&mut self, at: Millis, touched: &mut Vec<String>, out: &mut Vec<String>) {
        while let Some(entry) = self.wrapups.first_entry() {
            if entry.key().0 != at {
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
            touched.push(w.agent);
        }
    }

    /// A record whose instant already went out: its contact events only (the agent memory is
    /// already past it, so it changes no agent state; a COMPLETE* goes out `wrapup: false`).
    fn late(&mut self, rec: Record, out: &mut Vec<String>) {
        self.contact_events(&rec, None, out);
    }

    /// Maps one record: its contact events, and its change to the agent memory.
    fn apply(
        &mut self,
        rec: &Record,
        wrapup_secs: Option<i64>,
        touched: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        let wrapup = wrapup_secs.filter(|_| self.wrapups.len() < MAX_WRAPUPS);
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
                if let Some(secs) = wrapup {
                    self.serial += 1;
                    let id = event_id(&[
                        &rec.callid,
                        itoa::Buffer::new().format(rec.at),
                        "wrapupend",
                        &rec.queue,
                        "0",
                    ]);
                    self.wrapups.insert(
                        (rec.at + secs * SECOND, self.serial),
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
        touched.push(rec.agent.clone());
    }

    /// The contact events of one record (none for agent verbs and WRAPUPSTART).
    fn contact_events(&self, rec: &Record, wrapup: Option<i64>, out: &mut Vec<String>) {
        let mut at = itoa::Buffer::new();
        let at = at.format(rec.at);
        let id = |n: &str| event_id(&[&rec.callid, at, rec.kind, &rec.queue, n]);
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
            let customer = rec.data[1].trim();
            let customer = (!customer.is_empty()
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

/// For each record (in mapping order), the wrap-up seconds of the WRAPUPSTART that follows it:
/// a WRAPUPSTART of an agent belongs to that agent's conversation ending at the same instant —
/// the one with its callid when it names one, else the agent's last one.
fn pair_wrapups(records: &[(u8, Record)]) -> Vec<Option<i64>> {
    let mut paired = vec![None; records.len()];
    if !records.iter().any(|(_, r)| r.verb == Verb::WrapupStart) {
        return paired;
    }
    // each agent's conversation ends, in mapping order
    let mut ends: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, r)) in records.iter().enumerate() {
        if ends_conversation(r.verb) {
            ends.entry(r.agent.as_str()).or_default().push(i);
        }
    }
    for (_, w) in records.iter().filter(|(_, r)| r.verb == Verb::WrapupStart) {
        let Ok(secs) = record::wrapup_seconds(&w.data[0]) else {
            continue;
        };
        let Some(own) = ends.get(w.agent.as_str()) else {
            continue;
        };
        let free = || own.iter().copied().filter(|&i| paired[i].is_none());
        let by_call = free().rfind(|&i| records[i].1.callid == w.callid);
        if let Some(i) = by_call.or_else(|| free().next_back()) {
            paired[i] = Some(secs);
        }
    }
    paired
}

/// A deterministic event id from a record's identity: `ast-<parts joined by ->`, or a hash of
/// them when that would pass the 128-character limit.
fn event_id(parts: &[&str]) -> String {
    let mut id = String::with_capacity(4 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    id.push_str("ast");
    for p in parts {
        id.push('-');
        id.push_str(p);
    }
    if id.chars().count() <= 128 {
        return id;
    }
    // FNV-1a, twice with different offsets, for a stable 128-bit digest
    let mut digest = [0xcbf2_9ce4_8422_2325_u64, 0x6c62_272e_07bb_0142_u64];
    for h in &mut digest {
        for b in id.bytes() {
            *h ^= u64::from(b);
            *h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("ast-h{:016x}{:016x}", digest[0], digest[1])
}

/// One events.md event as written.
#[derive(Serialize, Default, Clone, Copy)]
struct Out<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    ts: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrapup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queues: Option<&'a [String]>,
}

fn push(out: &mut Vec<String>, event: Out<'_>) {
    if let Ok(json) = serde_json::to_string(&event) {
        out.push(json);
    }
}
