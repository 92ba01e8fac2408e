//! The `taskrouter` input: Twilio TaskRouter events (Flex) — Event Streams CloudEvents, the
//! workspace's EventCallbackUrl webhook fields, Events REST API records — mapped onto
//! docs/events.md JSON as `docs/inputs.md` says, with the worker memory that synthesizes
//! `agent.state` events.
//!
//! Identities: contact = the customer's conversation (`flexInteractionSid`, `call_sid`,
//! `conversationSid` of the task's attributes, else the task: a transfer makes a new task for
//! the same call); queue and agent by name (or sid, configured); event ids from the `EV…` sid,
//! the same on every route, so a backfill over the live stream counts each event once. A task's
//! conversation end and wrap-up end have ids of the task (`tr-<task>-ended`), so the
//! reservation's and the task's spelling of one step count once.
//!
//! The adapter remembers per task its worker, queue, whether a transfer was initiated, a
//! timeout, and which ends went out, and per worker its activity and tasks (bounded, per
//! partition, in the checkpoint). Worker states follow arrival order, but for an activity update
//! older than the newest one seen: it is put in its place by its own time when no task came in
//! between, and never overwrites the newer activity.

mod record;
#[cfg(test)]
mod tests;
mod workers;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::event::{AgentState, Limits, Reject, RejectReason};
use crate::settings::{ActivityState, DefaultChannel, Identities};
use crate::time::Millis;

use self::record::{contact, customer, Record};
use self::workers::{push_state, state_id, Worker};
use super::write::{event_id, push, Out};

/// Settings of one `taskrouter` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskrouterSettings {
    /// `task.canceled` reasons that are the customer abandoning.
    pub abandon_reasons: Vec<String>,
    /// Agent states of activities by name (the Flex defaults for the others).
    pub activities: BTreeMap<String, ActivityState>,
    /// The channel of the `default` task channel.
    pub default_channel: DefaultChannel,
    pub identities: Identities,
    /// The queues of workers (TaskRouter's target expressions raise no event); a worker not
    /// listed serves the queues it is seen accepting in.
    pub agent_queues: BTreeMap<String, Vec<String>>,
}

impl Default for TaskrouterSettings {
    fn default() -> Self {
        TaskrouterSettings {
            abandon_reasons: vec!["hangup".to_owned()],
            activities: BTreeMap::new(),
            default_channel: DefaultChannel::Voice,
            identities: Identities::Names,
            agent_queues: BTreeMap::new(),
        }
    }
}

/// Every kind [`Taskrouter::map`] returns.
pub const KINDS: &[&str] = &[
    "task_queue_entered",
    "reservation_accepted",
    "task_canceled",
    "task_queue_timeout",
    "workflow_timeout",
    "task_queue_moved",
    "workflow_skipped",
    "reservation_wrapup",
    "task_wrapup",
    "reservation_completed",
    "task_completed",
    "task_transfer_initiated",
    "worker_activity_update",
    "other_event",
    "other_product",
];

/// The mapped events by type, with their kind.
const EVENTS: &[(&str, Step, &str)] = &[
    ("task-queue.entered", Step::Entered, "task_queue_entered"),
    (
        "reservation.accepted",
        Step::Accepted,
        "reservation_accepted",
    ),
    ("task.canceled", Step::Canceled, "task_canceled"),
    ("task-queue.timeout", Step::Timeout, "task_queue_timeout"),
    ("workflow.timeout", Step::Timeout, "workflow_timeout"),
    ("task-queue.moved", Step::Moved, "task_queue_moved"),
    ("workflow.skipped", Step::Skipped, "workflow_skipped"),
    ("reservation.wrapup", Step::Wrapup, "reservation_wrapup"),
    ("task.wrapup", Step::Wrapup, "task_wrapup"),
    (
        "reservation.completed",
        Step::Completed,
        "reservation_completed",
    ),
    ("task.completed", Step::Completed, "task_completed"),
    (
        "task.transfer-initiated",
        Step::TransferInitiated,
        "task_transfer_initiated",
    ),
    (
        "worker.activity.update",
        Step::Activity,
        "worker_activity_update",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Entered,
    Accepted,
    Canceled,
    Timeout,
    Moved,
    Skipped,
    Wrapup,
    Completed,
    TransferInitiated,
    Activity,
}

const PREFIX: &str = "tr";
/// Tasks remembered at most; past it the oldest are forgotten.
const MAX_TASKS: usize = 100_000;
/// Workers remembered at most; past it logged-out workers without tasks are forgotten.
const MAX_WORKERS: usize = 100_000;

/// What the adapter remembers of a task.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Task {
    last: Millis,
    contact: String,
    queue: Option<String>,
    worker: Option<String>,
    transfer: bool,
    /// The queue the task last timed out of (its `task-queue.moved` is that timeout's move).
    timed_out: Option<String>,
    ended: bool,
    wrapup: bool,
    completed: bool,
}

/// One workspace's adapter (per partition). A checkpoint holds all of it but the settings.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Taskrouter {
    #[serde(skip)]
    settings: TaskrouterSettings,
    #[serde(skip)]
    limits: Limits,
    tasks: HashMap<String, Task>,
    workers: HashMap<String, Worker>,
}

impl Taskrouter {
    pub fn new(settings: TaskrouterSettings) -> Self {
        Taskrouter {
            settings,
            limits: Limits::default(),
            tasks: HashMap::new(),
            workers: HashMap::new(),
        }
    }

    pub fn save_state(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(&(&self.tasks, &self.workers))
    }

    pub fn restore_state(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let (tasks, workers) = postcard::from_bytes(bytes)?;
        self.tasks = tasks;
        self.workers = workers;
        Ok(())
    }

    /// The records of a message: a webhook sink's JSON array of CloudEvents is several.
    pub fn records(message: &[u8]) -> Option<Vec<Vec<u8>>> {
        if message.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
            return None;
        }
        let items: Vec<Value> = serde_json::from_slice(message).ok()?;
        Some(items.iter().map(|v| v.to_string().into_bytes()).collect())
    }

    /// Maps one event onto zero or more docs/events.md events appended to `out`; returns its kind
    /// (one of [`KINDS`]) or the `Reject` of a malformed event.
    pub fn map(&mut self, bytes: &[u8], out: &mut Vec<String>) -> Result<&'static str, Reject> {
        if bytes.len() > self.limits.max_message_bytes {
            return Err(Reject::new(RejectReason::TooLarge, "message"));
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| Reject::new(RejectReason::MalformedJson, "message"))?;
        let Value::Object(obj) = value else {
            return Err(Reject::new(RejectReason::MalformedJson, "message"));
        };
        let rec = record::read(&obj)?;
        if rec.at == 0 && rec.sid.is_none() && rec.task.is_none() {
            // a CloudEvent of another product
            return Ok("other_product");
        }
        let Some((_, step, kind)) = EVENTS.iter().find(|(t, _, _)| *t == rec.event_type) else {
            return Ok("other_event");
        };
        self.check(&rec)?;
        self.step(*step, &rec, out)?;
        self.trim();
        Ok(kind)
    }

    /// Every name the mapping writes stays within the string limit.
    fn check(&self, rec: &Record) -> Result<(), Reject> {
        let max = self.limits.max_string_chars;
        let long = |v: Option<&str>| v.is_some_and(|s| s.chars().count() > max);
        for (value, field) in [
            (contact(rec), "task_sid"),
            (rec.queue_name.as_deref(), "task_queue_name"),
            (rec.worker_name.as_deref(), "worker_name"),
            (rec.activity.as_deref(), "worker_activity_name"),
            (rec.sid.as_deref(), "sid"),
        ] {
            if long(value) {
                return Err(Reject::new(RejectReason::InvalidValue, field));
            }
        }
        Ok(())
    }

    fn queue_of(&self, rec: &Record) -> Option<String> {
        match self.settings.identities {
            Identities::Names => rec.queue_name.clone().or_else(|| rec.queue_sid.clone()),
            Identities::Sids => rec.queue_sid.clone().or_else(|| rec.queue_name.clone()),
        }
    }

    fn worker_of(&self, rec: &Record) -> Option<String> {
        match self.settings.identities {
            Identities::Names => rec.worker_name.clone().or_else(|| rec.worker_sid.clone()),
            Identities::Sids => rec.worker_sid.clone().or_else(|| rec.worker_name.clone()),
        }
    }

    fn channel(&self, rec: &Record) -> &'static str {
        match rec.channel.as_deref() {
            Some("voice") => "voice",
            Some("chat" | "sms" | "messaging" | "whatsapp") => "chat",
            Some("email") => "email",
            _ => match self.settings.default_channel {
                DefaultChannel::Voice => "voice",
                DefaultChannel::Chat => "chat",
                DefaultChannel::Email => "email",
            },
        }
    }

    fn step(&mut self, step: Step, rec: &Record, out: &mut Vec<String>) -> Result<(), Reject> {
        let missing = |f| Reject::new(RejectReason::MissingField, f);
        if step == Step::Activity {
            let worker = self.worker_of(rec).ok_or(missing("worker_name"))?;
            let activity = rec
                .activity
                .clone()
                .ok_or(missing("worker_activity_name"))?;
            let state = self.activity_state(&activity);
            let w = self.worker(&worker);
            if rec.at >= w.activity_at {
                w.activity = state;
                w.activity_at = rec.at;
                // older than the end of a task already seen: whether it came before the task
                // or during it is not known, the worker is in it after the task for sure
                let at = match w.tasks.is_empty() {
                    true => rec.at.max(w.free_at),
                    false => rec.at,
                };
                self.agent_state_at(&worker, rec, at, out);
            } else if w.tasks.is_empty() && rec.at >= w.free_at {
                // an update older than the newest one seen (delivered late), with no task in
                // between: its state at its instant, then the newer activity's again at that
                // one's (its event may have been left out as no change); the memory keeps the
                // newer one. During or before a task, which came first is not known: nothing.
                let newer = (w.activity.clone(), w.activity_at);
                push_state(out, &worker, rec, "state", rec.at, &state);
                if newer.0 != state {
                    push_state(out, &worker, rec, "restate", newer.1, &newer.0);
                }
            }
            return Ok(());
        }
        let task_sid = rec.task.clone().ok_or(missing("task_sid"))?;
        let contact = contact(rec).unwrap_or(&task_sid).to_owned();
        let queue = self.queue_of(rec);
        let worker = self.worker_of(rec);
        let task = self.tasks.entry(task_sid.clone()).or_default();
        task.last = task.last.max(rec.at);
        task.contact.clone_from(&contact);
        if queue.is_some() && step != Step::Moved {
            task.queue.clone_from(&queue);
        }
        if worker.is_some() && step == Step::Accepted {
            task.worker.clone_from(&worker);
        }
        let task = task.clone();
        let sid_id = |suffix: &str| match &rec.sid {
            Some(sid) => event_id(PREFIX, &[sid, suffix]),
            None => event_id(
                PREFIX,
                &[
                    &task_sid,
                    &rec.event_type,
                    itoa::Buffer::new().format(rec.at),
                ],
            ),
        };
        let base = Out {
            ts: rec.at,
            contact_id: Some(&contact),
            queue: queue.as_deref().or(task.queue.as_deref()),
            ..Out::default()
        };
        let overflow = |reason, out: &mut Vec<String>| {
            push(
                out,
                Out {
                    id: &sid_id("overflowed"),
                    kind: "contact.overflowed",
                    reason: Some(reason),
                    ..base
                },
            )
        };
        match step {
            Step::Entered => {
                let queue = queue.as_deref().ok_or(missing("task_queue_name"))?;
                push(
                    out,
                    Out {
                        id: &sid_id("offered"),
                        kind: "contact.offered",
                        queue: Some(queue),
                        channel: Some(self.channel(rec)),
                        customer: customer(rec)
                            .filter(|c| c.chars().count() <= self.limits.max_string_chars),
                        priority: rec.priority,
                        ..base
                    },
                );
            }
            Step::Accepted => {
                let worker = worker.ok_or(missing("worker_name"))?;
                push(
                    out,
                    Out {
                        id: &sid_id("answered"),
                        kind: "contact.answered",
                        agent: Some(&worker),
                        ..base
                    },
                );
                let configured = self.settings.agent_queues.get(&worker).cloned();
                let w = self.worker(&worker);
                match configured {
                    Some(q) if w.queues != q => {
                        w.queues = q;
                        w.queues_changed = true;
                    }
                    None => {
                        if let Some(q) = base.queue.filter(|q| !w.queues.iter().any(|x| x == q)) {
                            w.queues.push(q.to_owned());
                            w.queues.sort_unstable();
                            w.queues_changed = true;
                        }
                    }
                    _ => {}
                }
                w.tasks.insert(task_sid.clone(), false);
                self.agent_state(&worker, rec, out);
            }
            Step::Canceled => {
                let reason = rec.canceled_reason.as_deref().unwrap_or("");
                if self.settings.abandon_reasons.iter().any(|r| r == reason) {
                    push(
                        out,
                        Out {
                            id: &sid_id("abandoned"),
                            kind: "contact.abandoned",
                            ..base
                        },
                    );
                } else {
                    overflow("other", out);
                }
            }
            Step::Timeout => {
                overflow("timeout", out);
                if let Some(t) = self.tasks.get_mut(&task_sid) {
                    t.timed_out = base.queue.map(str::to_owned);
                }
            }
            Step::Moved => {
                let after_timeout =
                    task.timed_out.is_some() && task.timed_out.as_deref() == base.queue;
                if !after_timeout {
                    overflow("other", out);
                }
            }
            Step::Skipped => overflow("other", out),
            Step::TransferInitiated => {
                if let Some(t) = self.tasks.get_mut(&task_sid) {
                    t.transfer = true;
                }
            }
            Step::Wrapup | Step::Completed => {
                let worker = worker
                    .or(task.worker.clone())
                    .ok_or(missing("worker_name"))?;
                let wrapup = step == Step::Wrapup;
                if !task.ended {
                    let kind = if task.transfer {
                        "contact.transferred"
                    } else {
                        "contact.ended"
                    };
                    push(
                        out,
                        Out {
                            id: &event_id(PREFIX, &[&task_sid, "ended"]),
                            kind,
                            agent: Some(&worker),
                            wrapup: Some(wrapup),
                            ..base
                        },
                    );
                }
                if !wrapup && (task.ended && task.wrapup) && !task.completed {
                    push(
                        out,
                        Out {
                            id: &event_id(PREFIX, &[&task_sid, "wrapupend"]),
                            kind: "contact.wrapup_ended",
                            agent: Some(&worker),
                            ..base
                        },
                    );
                }
                if let Some(t) = self.tasks.get_mut(&task_sid) {
                    if !t.ended {
                        t.wrapup = wrapup;
                    }
                    t.ended = true;
                    t.completed |= !wrapup;
                }
                let w = self.worker(&worker);
                if wrapup {
                    w.tasks.insert(task_sid.clone(), true);
                } else {
                    w.tasks.remove(&task_sid);
                    if w.tasks.is_empty() {
                        w.free_at = w.free_at.max(rec.at);
                    }
                }
                self.agent_state(&worker, rec, out);
            }
            Step::Activity => {}
        }
        Ok(())
    }

    /// The agent state of an activity: configured, else Flex's defaults.
    fn activity_state(&self, activity: &str) -> (AgentState, Option<String>) {
        let state = self.settings.activities.get(activity).copied();
        match (state, activity) {
            (Some(ActivityState::LoggedOut), _) | (None, "Offline") => {
                (AgentState::LoggedOut, None)
            }
            (Some(ActivityState::Available), _) | (None, "Available" | "Reserved") => {
                (AgentState::Available, None)
            }
            _ => (AgentState::NotReady, Some(activity.to_owned())),
        }
    }

    /// The worker's memory, created on first sight with its configured queues (they go out
    /// with its first state).
    fn worker(&mut self, name: &str) -> &mut Worker {
        let configured = &self.settings.agent_queues;
        self.workers
            .entry(name.to_owned())
            .or_insert_with(|| Worker {
                activity: (AgentState::Available, None),
                activity_at: Millis::MIN,
                free_at: Millis::MIN,
                tasks: BTreeMap::new(),
                queues: configured.get(name).cloned().unwrap_or_default(),
                queues_changed: configured.contains_key(name),
                last: None,
            })
    }

    /// The worker's `agent.state` at the record's time, when it changed.
    fn agent_state(&mut self, name: &str, rec: &Record, out: &mut Vec<String>) {
        self.agent_state_at(name, rec, rec.at, out);
    }

    /// The worker's `agent.state` at `at`, when it changed.
    fn agent_state_at(&mut self, name: &str, rec: &Record, at: Millis, out: &mut Vec<String>) {
        let Some(w) = self.workers.get_mut(name) else {
            return;
        };
        let now = w.state();
        if Some(&now) == w.last.as_ref() && !w.queues_changed {
            return;
        }
        let queues = w.queues_changed.then(|| w.queues.clone());
        w.queues_changed = false;
        w.last = Some(now.clone());
        push(
            out,
            Out {
                id: &state_id(name, rec, "state"),
                kind: "agent.state",
                ts: at,
                agent: Some(name),
                state: Some(now.0.as_str()),
                reason: now.1.as_deref(),
                queues: queues.as_deref(),
                ..Out::default()
            },
        );
    }

    /// Forgets the oldest tenth of the tasks, and logged-out workers without tasks, past the
    /// bounds.
    fn trim(&mut self) {
        if self.tasks.len() > MAX_TASKS {
            let mut times: Vec<Millis> = self.tasks.values().map(|t| t.last).collect();
            times.sort_unstable();
            let cut = times[times.len() / 10];
            self.tasks.retain(|_, t| t.last > cut);
        }
        if self.workers.len() > MAX_WORKERS {
            self.workers
                .retain(|_, w| w.activity.0 != AgentState::LoggedOut || !w.tasks.is_empty());
        }
    }
}
