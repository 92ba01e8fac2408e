//! The engine of one partition: a synchronous, pure state machine over events in event time.
//!
//! `apply(event)` takes one decoded event, `advance(now)` moves the windows to an instant the
//! caller chooses (the engine never reads a clock), `snapshot()` reads everything out. No
//! locks, no async: the Kafka shell, `replay`, tests and benchmarks all drive this same code.

mod agent;
mod agent_history;
mod contact;
mod customers;
mod held;
mod index;
mod legs;
mod lifecycle;
mod live;
mod memory;
mod queue;
mod retire;
mod saved_state;
mod shards;
mod step;
mod time_guard;
mod workforce;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use crate::event::{
    AgentEvent, AgentState, Body, ContactEvent, ContactStep, Event, Limits, Reject, RejectReason,
};
use crate::settings::Settings;
use crate::snapshot::{QueueSnapshot, Snapshot};
use crate::time::Millis;

use self::agent::Agents;
use self::agent_history::QueueList;
pub use self::contact::EMAIL_TIMEOUT;
use self::contact::{Contact, Prior, Scratch};
use self::customers::Customers;
pub use self::held::Held;
use self::index::{ContactId, ContactIndex};
use self::lifecycle::diff;
use self::memory::{hash_id, Recent};
pub use self::queue::QueueId;
use self::queue::QueueState;
pub use self::saved_state::{fingerprint, Captured, StateError};
use self::step::{agent_key, Step, NO_AGENT, NO_QUEUE};
use self::time_guard::{Jump, TimeGuard, Verdict};

/// Counts the engine keeps about its own work (exported as `callpulse_` self-metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EngineStats {
    pub accepted: u64,
    /// By `RejectReason::index()`. Includes events accepted on arrival and discarded later
    /// (`unknown_contact`: no offer ever came; `out_of_order`: the contact's rules could not use it).
    pub rejected: [u64; 12],
    /// Contacts dropped after `contact_timeout` without finishing.
    pub contacts_expired: u64,
    /// Contacts dropped early because `max_open_contacts` was reached.
    pub contacts_evicted: u64,
    /// Logged-out agents forgotten because `max_agents` was reached.
    pub agents_forgotten: u64,
    /// Customer histories forgotten because `max_customers` was reached.
    pub customers_forgotten: u64,
    /// Idle queues that were not configured, forgotten to make room at `max_queues`.
    pub queues_forgotten: u64,
    /// Customer histories held (one per customer and queue).
    pub customers: u64,
}

impl EngineStats {
    pub fn rejected(&self, r: RejectReason) -> u64 {
        self.rejected[r.index()]
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// Events one contact may have; beyond, its further holds, resumes, responses and offers are
/// rejected as `too_large` (a real contact has a few dozen at most: offers, answers, holds,
/// transfers across its legs). Outcomes, conversation ends, wrap-up ends and surveys are never
/// refused by it (docs/events.md), up to [`MAX_CLOSING_EVENTS_PER_CONTACT`].
pub const MAX_EVENTS_PER_CONTACT: usize = 1_000;

/// Events one contact may have at all: past [`MAX_EVENTS_PER_CONTACT`] only the events that close
/// a leg (and surveys) come in, and a contact has at most that many offers, each leg closed by
/// at most an outcome, a conversation end and a wrap-up end — so no event a leg could use is
/// refused short of a producer looping them.
pub const MAX_CLOSING_EVENTS_PER_CONTACT: usize = 4 * MAX_EVENTS_PER_CONTACT;

/// A checkpoint holds every field but the config and what derives from it (`saved_state.rs`).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Engine {
    #[serde(skip)]
    config: Arc<Settings>,
    #[serde(skip)]
    limits: Limits,
    #[serde(skip)]
    lateness: Millis,
    queues: Vec<QueueState>,
    queue_ids: HashMap<Box<str>, QueueId>,
    contacts: Vec<Option<(ContactId, Contact)>>,
    free_slots: Vec<u32>,
    /// Rebuilt from `contacts` on restore.
    #[serde(skip)]
    contact_ids: ContactIndex,
    open_contacts: usize,
    /// (deadline, serial, slot): a contact is finished once the frontier reaches its deadline.
    expiry: BinaryHeap<Reverse<(Millis, u64, u32)>>,
    next_serial: u64,
    /// Contacts finished and forgotten, for later events of their id (by id hash).
    finished: Recent<Prior>,
    dedup: Recent<()>,
    agents: Agents,
    /// What the supervisor's live view needs (`live.rs`).
    live: live::Live,
    /// No live view is kept ([`Engine::without_live_view`]).
    #[serde(skip)]
    no_live: bool,
    customers: Customers,
    watermark: Millis,
    /// When idle queues were last looked for (`retire.rs`).
    last_retire_scan: retire::LastScan,
    /// Whether an event's time is believable (a wall clock's, or confirmation of jumps).
    #[serde(skip)]
    time_guard: TimeGuard,
    /// Events of a jump in time not yet confirmed (without a wall clock).
    #[serde(skip)]
    jump: Jump,
    now: Millis,
    input_complete: bool,
    stats: EngineStats,
    /// Buffers every contact resolution is written into (nothing to keep between events).
    #[serde(skip)]
    scratch: Scratch,
}

impl Engine {
    pub fn new(config: Arc<Settings>) -> Self {
        let e = &config.engine;
        let mut engine = Engine {
            limits: Limits {
                max_message_bytes: e.max_message_bytes,
                max_string_chars: 128,
            },
            lateness: e.allowed_lateness.millis(),
            queues: Vec::new(),
            queue_ids: HashMap::new(),
            contacts: Vec::new(),
            free_slots: Vec::new(),
            contact_ids: ContactIndex::default(),
            open_contacts: 0,
            expiry: BinaryHeap::new(),
            next_serial: 0,
            finished: Recent::new(e.max_open_contacts),
            dedup: Recent::new(e.dedup_capacity),
            agents: Agents::default(),
            live: live::Live::default(),
            no_live: false,
            customers: Customers::new(e.max_customers),
            watermark: Millis::MIN,
            last_retire_scan: None,
            time_guard: TimeGuard::default(),
            jump: Jump::default(),
            now: 0,
            input_complete: false,
            stats: EngineStats::default(),
            scratch: Scratch::default(),
            config: config.clone(),
        };
        for name in config.queues.keys() {
            // Validated: configured queues fit within max_queues.
            let _ = engine.queue_id(name, Millis::MIN);
        }
        engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The latest event time accepted, if any.
    pub fn watermark(&self) -> Option<Millis> {
        (self.watermark != Millis::MIN).then_some(self.watermark)
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    pub fn open_contacts(&self) -> usize {
        self.open_contacts
    }

    /// Entries in the expiry queue (bounded by the contacts in memory).
    pub fn expiry_entries(&self) -> usize {
        self.expiry.len()
    }

    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// Facts held in memory across queues (for memory accounting).
    pub fn facts_held(&self) -> usize {
        self.queues.iter().map(|q| q.facts_held()).sum()
    }

    /// Counts a rejection decided outside the engine (e.g. a decode error seen by the caller).
    pub fn count_reject(&mut self, reason: RejectReason) {
        self.stats.rejected[reason.index()] += 1;
    }

    /// Applies one valid event. Rejections (`bad_timestamp`, `too_late`, `duplicate`,
    /// `queue_limit`, `out_of_order`) are counted and change nothing. An event that jumps ahead
    /// of the partition's time without a wall clock to judge it is held until later events
    /// confirm the jump (see `time_guard.rs`).
    pub fn apply(&mut self, event: &Event<'_>) -> Result<(), Reject> {
        match self.judge_time(event) {
            Err(reject) => {
                self.count_reject(reject.reason);
                Err(reject)
            }
            Ok(Verdict::Apply) => self.apply_believed(event),
            Ok(Verdict::Held) => Ok(()),
            // the result is this event's, the last held
            Ok(Verdict::Confirmed(held)) => self.apply_held(&held),
        }
    }

    /// Applies an event whose time is believed.
    fn apply_believed(&mut self, event: &Event<'_>) -> Result<(), Reject> {
        let result = self.try_apply(event);
        match result {
            Ok(()) => {
                self.stats.accepted += 1;
                self.watermark = self.watermark.max(event.ts);
            }
            Err(reject) => self.count_reject(reject.reason),
        }
        result
    }

    fn try_apply(&mut self, event: &Event<'_>) -> Result<(), Reject> {
        if self.watermark != Millis::MIN && event.ts < self.watermark.saturating_sub(self.lateness)
        {
            return Err(Reject::new(RejectReason::TooLate, "ts"));
        }
        let id_hash = event.id.as_deref().map(hash_id);
        if let Some(h) = id_hash {
            if self.dedup.contains(h) {
                return Err(Reject::new(RejectReason::Duplicate, "id"));
            }
        }
        match &event.body {
            Body::Contact(c) => self.apply_contact(c, event.ts)?,
            Body::Agent(a) => self.apply_agent(a, event.ts)?,
        }
        if let Some(h) = id_hash {
            self.dedup.insert(h, event.ts, ());
        }
        Ok(())
    }

    /// An `agent.state` event: the live agent counts, and the agent time of every queue the
    /// agent served or serves from `ts` on.
    fn apply_agent(&mut self, a: &AgentEvent<'_>, ts: Millis) -> Result<(), Reject> {
        let queues = match &a.queues {
            Some(names) => {
                // Beyond `max_queues` the new queues of the list are left out; the agent's
                // change for the queues that exist still counts (the event is accepted).
                let mut known = Vec::with_capacity(names.len());
                let mut ids = Vec::with_capacity(names.len());
                for n in names {
                    if let Ok(id) = self.queue_id(n, ts) {
                        known.push(n);
                        ids.push(id);
                    }
                }
                Some(QueueList::new(&known, ids))
            }
            None => None,
        };
        let frontier = self.frontier();
        let mut deltas = Vec::new();
        let change = self
            .agents
            .update(&a.agent, ts, a.state, queues, frontier, &mut deltas);
        if let Some(change) = change {
            for &q in &change.before.1 {
                self.queues[q as usize].agent_moved(change.before.0, AgentState::LoggedOut);
            }
            for &q in &change.after.1 {
                self.queues[q as usize].agent_moved(AgentState::LoggedOut, change.after.0);
            }
        }
        for d in deltas {
            self.queues[d.queue as usize]
                .workforce
                .apply(d.at, d.state, d.count);
        }
        self.live_agent_event(a, ts);
        Ok(())
    }

    /// The id of the queue `name` named at `ts`; a new queue beyond `max_queues` is
    /// `queue_limit` unless idle queues can be forgotten (`retire.rs`).
    fn queue_id(&mut self, name: &str, ts: Millis) -> Result<QueueId, Reject> {
        if let Some(&id) = self.queue_ids.get(name) {
            let q = &mut self.queues[id as usize];
            q.last_named = q.last_named.max(ts);
            return Ok(id);
        }
        if !self.make_room_for_a_queue() {
            return Err(Reject::new(RejectReason::QueueLimit, "queue"));
        }
        let id = self.queues.len() as QueueId;
        let settings = self.config.queue(name).clone();
        let mut queue = QueueState::new(name, settings, &self.config.engine, self.now);
        queue.last_named = ts;
        self.queues.push(queue);
        self.queue_ids.insert(name.into(), id);
        Ok(id)
    }

    fn apply_contact(&mut self, c: &ContactEvent<'_>, ts: Millis) -> Result<(), Reject> {
        // Any contact event naming a queue brings the queue into being (or is rejected with
        // `queue_limit`, as its offer would be): a follow-up that arrives before the offer of a
        // queue not seen yet must still find that queue's leg once the offer comes.
        let queue = match &c.queue {
            Some(name) => self.queue_id(name, ts)?,
            None => NO_QUEUE,
        };
        let agent = c.agent.as_deref().map_or(NO_AGENT, agent_key);
        let step = Step::of(ts, queue, agent, c);
        let id_hash = hash_id(&c.contact_id);
        let contacts = &self.contacts;
        let id_of = |slot: u32| match &contacts[slot as usize] {
            Some((id, _)) => id.as_bytes(),
            None => &[],
        };
        let slot = match self.contact_ids.get(&c.contact_id, id_hash, id_of) {
            Some(slot) => slot,
            // A contact id seen before and forgotten starts afresh, carrying what the earlier
            // contact left behind: its later events (a callback leg, a survey) are held and
            // judged like any other, so nothing depends on whether it was forgotten yet.
            None => self.new_contact(&c.contact_id, id_hash),
        };
        // Every event re-resolves its contact from all of its events: a producer looping one
        // contact_id must not make that quadratic without end.
        let closes = matches!(
            c.step,
            ContactStep::Answered
                | ContactStep::Abandoned
                | ContactStep::Overflowed
                | ContactStep::Transferred
                | ContactStep::Ended
                | ContactStep::WrapupEnded
                | ContactStep::Survey
        );
        let cap = if closes {
            MAX_CLOSING_EVENTS_PER_CONTACT
        } else {
            MAX_EVENTS_PER_CONTACT
        };
        if self.contacts[slot as usize]
            .as_ref()
            .is_some_and(|(_, contact)| contact.steps.len() >= cap)
        {
            return Err(Reject::new(RejectReason::TooLarge, "contact_id"));
        }
        if let (ContactStep::Offered, Some(customer)) = (c.step, &c.customer) {
            self.customers.named(slot, &c.contact_id, ts, customer);
        }
        let queues = &self.queues;
        if let Some((_, contact)) = &mut self.contacts[slot as usize] {
            let new = contact.insert(step, |q| queues.get(q as usize).map(|q| &*q.name));
            self.refresh(slot, new);
        }
        self.live_contact_event(c, ts, slot);
        Ok(())
    }

    /// Moves the evaluation instant to `now` (never backwards): windows slide, contacts whose
    /// facts are final are forgotten, bounded memories expire.
    pub fn advance(&mut self, now: Millis) {
        // the caller vouches for `now`: a jump to it or before it is confirmed
        self.confirm_jump_before(now);
        self.now = self.now.max(now);
        let frontier = self.frontier();
        while let Some(&Reverse((deadline, serial, slot))) = self.expiry.peek() {
            if deadline > frontier {
                break;
            }
            self.expiry.pop();
            if !self.is_current(deadline, serial, slot) {
                continue;
            }
            let queues = &self.queues;
            let fallback = self.config.defaults.contact_timeout.millis();
            let (last_at, open, timeout) = match &self.contacts[slot as usize] {
                Some((_, c)) => (
                    c.last_at(),
                    c.open,
                    c.timeout(|q| &queues[q as usize].settings, fallback),
                ),
                None => continue,
            };
            let current = if open {
                last_at.saturating_add(timeout)
            } else {
                last_at.saturating_add(1)
            };
            if current <= frontier {
                self.finish_contact(slot, false);
            } else if let Some((_, c)) = &mut self.contacts[slot as usize] {
                c.queued_deadline = current;
                self.expiry.push(Reverse((current, serial, slot)));
            }
        }
        if self.watermark != Millis::MIN {
            self.dedup.forget_before(
                self.watermark
                    .saturating_sub(self.config.engine.dedup_horizon.millis()),
            );
            self.finished.forget_before(
                self.watermark
                    .saturating_sub(self.config.engine.survey_horizon.millis()),
            );
        }
        let final_before = if self.input_complete {
            self.now
        } else {
            frontier
        };
        let forgotten = self
            .agents
            .forget_logged_out(self.config.engine.max_agents, final_before);
        self.stats.agents_forgotten += forgotten as u64;
        self.live.sweep(self.now);
        let finished_horizon = self
            .watermark
            .saturating_sub(self.config.engine.survey_horizon.millis());
        self.customers.advance(final_before, finished_horizon);
        self.stats.customers_forgotten = self.customers.evicted;
        self.stats.customers = self.customers.len() as u64;
        for q in self.queues.iter_mut().filter(|q| !q.retired) {
            q.advance(self.now, final_before, &self.config.engine);
        }
    }

    /// Facts before the frontier can no longer change: any event that could change them
    /// would be older than the watermark minus the allowed lateness.
    fn frontier(&self) -> Millis {
        if self.watermark == Millis::MIN {
            Millis::MIN
        } else {
            self.watermark.saturating_sub(self.lateness)
        }
    }

    /// Declares the input complete (end of a replay): everything before `now` is final.
    pub fn finish_input(&mut self) {
        self.settle_jump();
        self.input_complete = true;
        let now = self.now;
        self.advance(now);
        // Contacts still held (their last event within the lateness of the end) count the
        // events their rules could not use, as a finished contact does: nothing more will come.
        let queues = &self.queues;
        for (_, contact) in self.contacts.iter().flatten() {
            contact.resolve_into(|q| &queues[q as usize].settings, &mut self.scratch);
            let (reason, n) = self.scratch.res.unused_rejects(contact.steps.len());
            self.stats.rejected[reason.index()] += n;
        }
    }

    /// Everything a scrape needs, at the current `now`, in every window.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_of(|_| true)
    }

    /// What the export profile writes: its windows (`[export] windows`) and the forecast's,
    /// at the current `now` (for a center of many queues, a fraction of [`Engine::snapshot`]).
    /// With `[export] agents`, it carries the agents the live view shows, for the per-agent
    /// export.
    pub fn export_snapshot(&self) -> Snapshot {
        let export = &self.config.export;
        let forecast = self.config.engine.forecast_window.as_ref();
        let mut snap = self.snapshot_of(|label| {
            export.window(label) || forecast.is_some_and(|f| f.label == label)
        });
        if export.agents {
            // the agents the live view shows now (a merge of partitions filters again, later)
            snap.agents = (self.live_agents().into_iter())
                .filter(|a| a.shown_at(self.now))
                .collect();
        }
        snap
    }

    /// A snapshot of the windows whose label `keep` accepts.
    fn snapshot_of(&self, keep: impl Fn(&str) -> bool) -> Snapshot {
        let labels = self.config.engine.kept_labels();
        let kept: Vec<bool> = labels.iter().map(|l| keep(l)).collect();
        let window_labels: Vec<String> = (labels.into_iter().zip(&kept))
            .filter(|(_, k)| **k)
            .map(|(l, _)| l)
            .collect();
        // the forecast window's place among the kept windows
        let forecast_window = (self.config.engine.forecast())
            .filter(|(i, _)| kept.get(*i).copied().unwrap_or(false))
            .map(|(i, span)| (kept[..i].iter().filter(|k| **k).count(), span));
        let mut queues: Vec<Arc<QueueSnapshot>> = self
            .queues
            .iter()
            .filter(|q| !q.retired)
            .map(|q| {
                let (waiting, oldest_wait_ms) = q.waiting_at(self.now);
                let mut times = q.workforce.times().into_iter();
                Arc::new(QueueSnapshot {
                    name: q.name.to_string(),
                    settings: q.settings.clone(),
                    windows: (q.windows().zip(&kept))
                        .filter(|(_, k)| **k)
                        .map(|(w, _)| w.clone())
                        .collect(),
                    cumulative: q.cumulative().clone(),
                    waiting,
                    oldest_wait_ms,
                    agents: q.agents,
                    agent_time: kept
                        .iter()
                        .filter_map(|k| times.next().filter(|_| *k))
                        .collect(),
                })
            })
            .collect();
        // queue names are unique: an unstable sort needs no buffer of half the queues
        queues.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Snapshot {
            at: self.now,
            window_labels,
            queues,
            forecast_window,
            agents: Vec::new(),
        }
    }
}
