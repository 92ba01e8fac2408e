//! The contact events of queue_log records, and the calls' queue visits the reader remembers so
//! that a FULL or JOINEMPTY ends a visit still waiting instead of starting a second one.
//!
//! A record's contact events come in two kinds: those no other record changes (an offer, an
//! answer, an abandon, a routing exit), written as soon as the record is read; and those that
//! depend on other records of the same stream (a conversation end pairs with its WRAPUPSTART, a
//! FULL looks for a waiting visit), written once the reorder allowance has passed their time.

use std::collections::HashMap;

use crate::event::Limits;
use crate::time::Millis;

use super::record::{Record, Verb};
use super::PREFIX;
use crate::input::write::{event_id, push, Out};

/// Calls remembered at most for FULL / JOINEMPTY; beyond it the oldest visits are forgotten.
const MAX_CALLS: usize = 100_000;

/// Whether a record's contact events wait for the reorder allowance (they depend on other
/// records); the others go out as soon as the record is read.
pub fn waits(verb: Verb) -> bool {
    matches!(
        verb,
        Verb::Full
            | Verb::JoinEmpty
            | Verb::CompleteCaller
            | Verb::CompleteAgent
            | Verb::Transfer
            | Verb::BlindTransfer
            | Verb::AttendedTransfer
    )
}

/// A call entering a queue, or leaving it (answered, abandoned, routed out), at an instant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Mark {
    at: Millis,
    queue: String,
    entered: bool,
}

/// Each call's queue visits, by callid, in the order read.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Calls {
    marks: HashMap<String, Vec<Mark>>,
}

impl Calls {
    fn mark(&mut self, rec: &Record, entered: bool) {
        let marks = self.marks.entry(rec.callid.clone()).or_default();
        let mark = Mark {
            at: rec.at,
            queue: rec.queue.clone(),
            entered,
        };
        if !marks.contains(&mark) {
            marks.push(mark);
        }
    }

    /// Whether the call has a visit of `queue` waiting at `at`: entered at or before it and not
    /// left since, up to `at` included.
    fn waiting(&self, callid: &str, queue: &str, at: Millis) -> bool {
        let Some(marks) = self.marks.get(callid) else {
            return false;
        };
        let in_queue = || marks.iter().filter(|m| m.queue == queue && m.at <= at);
        let Some(t0) = in_queue().filter(|m| m.entered).map(|m| m.at).max() else {
            return false;
        };
        !in_queue().any(|m| !m.entered && m.at >= t0)
    }

    /// Forgets the calls with nothing waiting after `done` (every record up to it is mapped);
    /// past [`MAX_CALLS`], also visits entered more than a day before it.
    pub fn forget(&mut self, done: Millis) {
        let day = crate::time::DAY;
        let crowded = self.marks.len() > MAX_CALLS;
        self.marks.retain(|_, marks| {
            if crowded {
                marks.retain(|m| m.at >= done.saturating_sub(day));
            }
            let recent = marks.iter().any(|m| m.at > done);
            let open = marks.iter().any(|m| {
                m.entered
                    && !marks
                        .iter()
                        .any(|l| !l.entered && l.queue == m.queue && l.at >= m.at)
            });
            recent || open
        });
    }
}

/// The event id of a record's `n`th event.
fn id(rec: &Record, n: &str) -> String {
    let mut at = itoa::Buffer::new();
    event_id(
        PREFIX,
        &[&rec.callid, at.format(rec.at), rec.kind, &rec.queue, n],
    )
}

fn base(rec: &Record) -> Out<'_> {
    Out {
        ts: rec.at,
        contact_id: Some(&rec.callid),
        queue: Some(&rec.queue),
        ..Out::default()
    }
}

fn overflow(rec: &Record, reason: &'static str, n: &str, out: &mut Vec<String>) {
    let id = id(rec, n);
    push(
        out,
        Out {
            id: &id,
            kind: "contact.overflowed",
            reason: Some(reason),
            ..base(rec)
        },
    )
}

fn offer(rec: &Record, limits: &Limits, out: &mut Vec<String>) {
    // only ENTERQUEUE carries the caller id (data2); FULL / JOINEMPTY write other fields there
    let customer = rec.data[1].trim();
    let customer = (rec.verb == Verb::EnterQueue
        && !customer.is_empty()
        && customer.chars().count() <= limits.max_string_chars)
        .then_some(customer);
    let id = id(rec, "0");
    push(
        out,
        Out {
            id: &id,
            kind: "contact.offered",
            channel: Some("voice"),
            customer,
            ..base(rec)
        },
    )
}

fn with_agent(rec: &Record, kind: &'static str, wrapup: Option<bool>, out: &mut Vec<String>) {
    let id = id(rec, "0");
    push(
        out,
        Out {
            id: &id,
            kind,
            agent: Some(&rec.agent),
            wrapup,
            ..base(rec)
        },
    )
}

/// The contact events of a record that no other record changes, written when it is read; the
/// call's visits are remembered for FULL / JOINEMPTY.
pub fn at_once(rec: &Record, limits: &Limits, calls: &mut Calls, out: &mut Vec<String>) {
    match rec.verb {
        Verb::EnterQueue => {
            calls.mark(rec, true);
            offer(rec, limits, out)
        }
        Verb::Connect => {
            calls.mark(rec, false);
            with_agent(rec, "contact.answered", None, out)
        }
        Verb::Abandon => {
            calls.mark(rec, false);
            let id = id(rec, "0");
            push(
                out,
                Out {
                    id: &id,
                    kind: "contact.abandoned",
                    ..base(rec)
                },
            )
        }
        Verb::ExitWithTimeout
        | Verb::ExitEmpty
        | Verb::ExitWithKey
        | Verb::Withdraw
        | Verb::SysCompat => {
            calls.mark(rec, false);
            let reason = match rec.verb {
                Verb::ExitWithTimeout => "timeout",
                Verb::ExitEmpty => "no_agents",
                Verb::ExitWithKey => "key",
                _ => "other",
            };
            overflow(rec, reason, "0", out)
        }
        _ => {}
    }
}

/// The contact events of a record that depend on the others (see [`waits`]), written in time
/// order once no record before it can still come: a conversation end with `wrapup` when a
/// WRAPUPSTART pairs with it; a FULL / JOINEMPTY ends the visit of its call and queue still
/// waiting (docs/inputs.md), else it offers and overflows at once.
pub fn in_order(
    rec: &Record,
    wrapup: bool,
    calls: &mut Calls,
    limits: &Limits,
    out: &mut Vec<String>,
) {
    match rec.verb {
        Verb::Full | Verb::JoinEmpty => {
            let reason = if rec.verb == Verb::Full {
                "full"
            } else {
                "no_agents"
            };
            if !calls.waiting(&rec.callid, &rec.queue, rec.at) {
                offer(rec, limits, out);
                calls.mark(rec, true);
            }
            calls.mark(rec, false);
            overflow(rec, reason, "1", out);
        }
        Verb::CompleteCaller | Verb::CompleteAgent => {
            with_agent(rec, "contact.ended", Some(wrapup), out)
        }
        Verb::Transfer | Verb::BlindTransfer | Verb::AttendedTransfer => {
            with_agent(rec, "contact.transferred", Some(wrapup), out)
        }
        _ => {}
    }
}
