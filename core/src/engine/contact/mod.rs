//! Contacts: each one's events, and the pure rules that turn them into KPI facts.
//!
//! A contact's facts are a function of the *set* of its events (sorted by time), never of the
//! order they arrived in; a late event re-resolves the contact and the engine applies only the
//! difference. A fact at instant `t` depends only on events at or before `t`, so once the
//! partition's lateness frontier has passed `t` nothing can change it any more. Which leg
//! (queue visit) each event continues is the business of [`super::legs`].

use crate::event::{Channel, ContactStep, RejectReason};
use crate::kpi::{Fact, FactKind, SlOutcome};
use crate::settings::QueueSettings;
use crate::time::Millis;

use super::legs::{continued_by, step_leg, Leg, Phase};
use super::queue::QueueId;
use super::step::{QueueFact, Step, NO_QUEUE};

/// A contact in memory: its events. What the engine has applied for it (facts in queues,
/// waiting registrations) is the resolution of those events, so it is not kept: an event's
/// difference is the resolution with it minus the resolution without it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    /// In the canonical order of [`Contact::insert`].
    pub steps: Vec<Step>,
    /// Unique for the engine's lifetime; stale expiry-queue entries are recognized by it.
    pub serial: u64,
    /// The earliest deadline this contact has in the expiry queue.
    pub queued_deadline: Millis,
    /// Some leg is still in progress (as of the last resolution).
    pub open: bool,
    /// What an earlier, finished and forgotten contact of the same id left behind
    /// (`prior_queue` is `NO_QUEUE` when none): kept as fields so a contact stays 96 bytes.
    pub prior_queue: QueueId,
    pub prior_answered: bool,
    pub prior_queues: QueueSet,
}

impl Default for Contact {
    fn default() -> Self {
        Contact {
            steps: Vec::new(),
            serial: 0,
            queued_deadline: Millis::MAX,
            open: false,
            prior_queue: NO_QUEUE,
            prior_answered: false,
            prior_queues: 0,
        }
    }
}

/// The queues a contact had legs in, one bit per queue id modulo 64 (a survey naming a queue
/// of a forgotten contact is checked against it; two queues 64 ids apart share a bit).
pub type QueueSet = u64;

fn queue_bit(q: QueueId) -> QueueSet {
    1 << (q % 64)
}

/// What a finished contact leaves behind for later events of its id (a survey, a callback):
/// where a survey without queue counts, whether that is the queue of an answered leg, and the
/// queues it had legs in (where a survey naming its queue may count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prior {
    pub survey_queue: QueueId,
    pub answered: bool,
    pub queues: QueueSet,
}

impl Prior {
    fn had_leg_in(&self, q: QueueId) -> bool {
        self.queues & queue_bit(q) != 0
    }
}

impl Contact {
    /// A contact whose id already had a contact that finished and was forgotten.
    pub fn after(&mut self, prior: Prior) {
        self.prior_queue = prior.survey_queue;
        self.prior_answered = prior.answered;
        self.prior_queues = prior.queues;
    }

    fn prior(&self) -> Option<Prior> {
        (self.prior_queue != NO_QUEUE).then_some(Prior {
            survey_queue: self.prior_queue,
            answered: self.prior_answered,
            queues: self.prior_queues,
        })
    }

    /// Runs the rules over this contact's events into `out.res` (its buffers reused: no
    /// allocation per event once they have grown).
    pub fn resolve_into<'s>(
        &self,
        settings: impl Fn(QueueId) -> &'s QueueSettings,
        out: &mut Scratch,
    ) {
        let steps = Steps::new(&self.steps, usize::MAX);
        resolve_legs_into(
            steps,
            self.prior(),
            settings,
            |_, _| {},
            &mut out.res,
            &mut out.legs,
        );
    }

    /// Runs the rules over this contact's events into `out.res`, and over the same events
    /// but the one at `new` (just inserted) into `out.before`: what was applied until now.
    pub fn resolve_change<'s>(
        &self,
        new: usize,
        settings: impl Fn(QueueId) -> &'s QueueSettings + Copy,
        out: &mut Scratch,
    ) {
        self.resolve_into(settings, out);
        let before = Steps::new(&self.steps, new);
        resolve_legs_into(
            before,
            self.prior(),
            settings,
            |_, _| {},
            &mut out.before,
            &mut out.legs,
        );
    }

    /// Inserts a step in the canonical order: time, then the same-instant order of
    /// [`ContactStep`], then the queue's *name* (queue ids are handed out in arrival order, so
    /// they must not decide anything), the agent and the remaining fields.
    /// Returns where it went.
    pub fn insert<'n>(
        &mut self,
        step: Step,
        queue_name: impl Fn(QueueId) -> Option<&'n str>,
    ) -> usize {
        // Compared field by field, the queue's name looked up only when time and kind tie.
        let after = |s: &Step| {
            s.at.cmp(&step.at)
                .then(s.step.cmp(&step.step))
                .then_with(|| {
                    if s.queue == step.queue {
                        std::cmp::Ordering::Equal
                    } else {
                        queue_name(s.queue).cmp(&queue_name(step.queue))
                    }
                })
                .then_with(|| {
                    (s.agent, s.wrapup, s.resolved, s.channel, s.scores).cmp(&(
                        step.agent,
                        step.wrapup,
                        step.resolved,
                        step.channel,
                        step.scores,
                    ))
                })
                .is_le()
        };
        // Events mostly come in order: after the last step.
        let pos = match self.steps.last() {
            Some(last) if !after(last) => self.steps.partition_point(after),
            _ => self.steps.len(),
        };
        self.steps.insert(pos, step);
        pos
    }

    pub fn last_at(&self) -> Millis {
        self.steps.last().map_or(Millis::MIN, |s| s.at)
    }

    /// How long this contact may go without an event before it is expired (docs/events.md): the
    /// longest `contact_timeout` of the queues its events name, at least [`EMAIL_TIMEOUT`] once
    /// it has an e-mail leg; `fallback` when its events name no queue yet.
    pub fn timeout<'s>(
        &self,
        settings: impl Fn(QueueId) -> &'s QueueSettings,
        fallback: Millis,
    ) -> Millis {
        let mut longest = None;
        for s in self.steps.iter().filter(|s| s.queue != NO_QUEUE) {
            let mut t = settings(s.queue).contact_timeout.millis();
            if s.step == ContactStep::Offered && s.channel == Channel::Email {
                t = t.max(EMAIL_TIMEOUT);
            }
            longest = Some(longest.map_or(t, |l: Millis| l.max(t)));
        }
        longest.unwrap_or(fallback)
    }
}

/// The shortest `contact_timeout` of a contact with an e-mail leg: its customers wait days.
pub const EMAIL_TIMEOUT: Millis = 7 * crate::time::DAY;

/// Buffers a resolution is written into, kept by the engine across events.
#[derive(Debug, Default)]
pub struct Scratch {
    pub res: Resolution,
    /// The resolution before the latest event (see [`Contact::resolve_change`]).
    pub before: Resolution,
    legs: Vec<Leg>,
    /// Customer facts to add or remove (see `Customers::refresh`).
    pub changes: Vec<(QueueId, Fact, i64)>,
}

/// What the rules make of a contact's events.
#[derive(Debug, Default, PartialEq)]
pub struct Resolution {
    pub facts: Vec<QueueFact>,
    /// Legs still waiting for an outcome: (queue, offered at, leg).
    pub waiting: Vec<(QueueId, Millis, u16)>,
    /// Some leg is still in progress (waiting, talking, on hold or in wrap-up).
    pub open: bool,
    /// Events the rules could not use (a second outcome, a hold outside a conversation, ...).
    pub unused: u32,
    pub legs: u16,
    /// Where a later survey without a queue counts: the last answered leg, else the last leg
    /// (an earlier contact of the id counts as legs before these), and the queues of every leg.
    /// Remembered when the contact is forgotten, for its id's later events.
    pub survey: Option<Prior>,
}

impl Resolution {
    fn clear(&mut self) {
        self.facts.clear();
        self.waiting.clear();
        self.open = false;
        self.unused = 0;
        self.legs = 0;
        self.survey = None;
    }

    /// The events of the contact its rules could not use, and under which reason they count:
    /// all of them as `unknown_contact` when no offer ever came, else the unused ones as
    /// `out_of_order`.
    pub fn unused_rejects(&self, steps: usize) -> (RejectReason, u64) {
        if self.legs == 0 && self.survey.is_none() {
            (RejectReason::UnknownContact, steps as u64)
        } else {
            (RejectReason::OutOfOrder, u64::from(self.unused))
        }
    }
}

/// Resolves a contact's events (sorted, without a prior contact).
#[cfg(test)]
pub fn resolve<'s>(steps: &[Step], settings: impl Fn(QueueId) -> &'s QueueSettings) -> Resolution {
    resolve_legs(steps, None, settings, |_, _| {})
}

/// Resolves a contact: one leg per `contact.offered`, each later event attributed to the leg
/// it continues (docs/events.md, "Legs"), each leg run through its state machine; `attributed`
/// learns which leg (by offer order) each step went to.
#[cfg(test)]
pub(super) fn resolve_legs<'s>(
    steps: &[Step],
    prior: Option<Prior>,
    settings: impl Fn(QueueId) -> &'s QueueSettings,
    attributed: impl FnMut(&Step, Option<usize>),
) -> Resolution {
    let mut out = Resolution::default();
    let steps = Steps::new(steps, usize::MAX);
    resolve_legs_into(
        steps,
        prior,
        settings,
        attributed,
        &mut out,
        &mut Vec::new(),
    );
    out
}

/// A contact's steps, but the one at `skip` (`usize::MAX`: none).
#[derive(Clone, Copy)]
struct Steps<'a> {
    steps: &'a [Step],
    skip: usize,
}

impl<'a> Steps<'a> {
    fn new(steps: &'a [Step], skip: usize) -> Self {
        Steps { steps, skip }
    }

    fn iter(self) -> impl Iterator<Item = &'a Step> {
        self.steps
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != self.skip)
            .map(|(_, s)| s)
    }
}

/// [`resolve_legs`] into `out` and `legs` (cleared first).
fn resolve_legs_into<'s>(
    steps: Steps<'_>,
    prior: Option<Prior>,
    settings: impl Fn(QueueId) -> &'s QueueSettings,
    mut attributed: impl FnMut(&Step, Option<usize>),
    out: &mut Resolution,
    legs: &mut Vec<Leg>,
) {
    out.clear();
    legs.clear();
    for s in steps.iter() {
        match s.step {
            ContactStep::Offered => {
                legs.push(Leg::offered(s.queue, s.at, s.channel));
                attributed(s, Some(legs.len() - 1));
                out.facts.push((
                    s.queue,
                    Fact {
                        at: s.at,
                        kind: FactKind::Offered,
                    },
                ));
                continue;
            }
            ContactStep::Survey => {
                // Placed by the legs as they stand at its instant (steps are in time order, a
                // survey last within one): later events never move it (docs/events.md).
                let (queue, leg) = survey_place(legs, prior, s);
                attributed(s, leg);
                match queue {
                    Some(q) => out.facts.push((q, survey_fact(s))),
                    None => out.unused += 1,
                }
                continue;
            }
            _ => {}
        }
        let found = continued_by(legs, s);
        attributed(s, found);
        let Some(leg) = found.and_then(|i| legs.get_mut(i)) else {
            out.unused += 1;
            continue;
        };
        let cfg = settings(leg.queue);
        if !step_leg(leg, s, cfg, &mut out.facts) {
            out.unused += 1;
        }
    }
    for (i, leg) in legs.iter().enumerate() {
        let cfg = settings(leg.queue);
        match leg.phase {
            Phase::Waiting => {
                out.open = true;
                out.waiting.push((leg.queue, leg.t0, i as u16));
                // Missed the moment it passes the threshold, unless an outcome comes first.
                let d = leg.t0.saturating_add(cfg.sl_threshold.millis());
                out.facts.push((
                    leg.queue,
                    Fact {
                        at: d,
                        kind: FactKind::Sl(SlOutcome::Missed),
                    },
                ));
            }
            Phase::Done => {}
            _ => out.open = true,
        }
    }
    // what a survey after every event of this contact would find, for when it is forgotten
    let queues = legs.iter().fold(prior.map_or(0, |p| p.queues), |set, l| {
        set | queue_bit(l.queue)
    });
    out.survey = survey_queue(legs, prior).map(|(survey_queue, answered, _)| Prior {
        survey_queue,
        answered,
        queues,
    });
    out.legs = legs.len() as u16;
}

/// Where a survey without a queue counts, given the legs offered so far: the last leg answered
/// (by answer time), else an answered leg of an earlier contact of the id, else the last leg
/// offered, else the earlier contact's queue; with whether that leg was answered and its index.
fn survey_queue(legs: &[Leg], prior: Option<Prior>) -> Option<(QueueId, bool, Option<usize>)> {
    let answered = legs
        .iter()
        .enumerate()
        .filter(|(_, l)| l.answered())
        .max_by_key(|(i, l)| (l.answered_at(), *i))
        .map(|(i, _)| i);
    let leg = |i: usize| (legs[i].queue, legs[i].answered(), Some(i));
    match (answered, prior) {
        (Some(i), _) => Some(leg(i)),
        (None, Some(p)) if p.answered => Some((p.survey_queue, true, None)),
        _ => match legs.len().checked_sub(1) {
            Some(i) => Some(leg(i)),
            None => prior.map(|p| (p.survey_queue, p.answered, None)),
        },
    }
}

/// The queue a survey counts in (docs/events.md, "Legs"), from the legs offered at or before
/// it: the queue it names when the contact has a leg there (else none: `out_of_order`),
/// otherwise [`survey_queue`]; and the leg it went to, when one of these.
fn survey_place(legs: &[Leg], prior: Option<Prior>, s: &Step) -> (Option<QueueId>, Option<usize>) {
    if s.queue == NO_QUEUE {
        return survey_queue(legs, prior).map_or((None, None), |(q, _, leg)| (Some(q), leg));
    }
    match legs.iter().rposition(|l| l.queue == s.queue) {
        Some(i) => (Some(s.queue), Some(i)),
        None if prior.is_some_and(|p| p.had_leg_in(s.queue)) => (Some(s.queue), None),
        None => (None, None),
    }
}

fn survey_fact(s: &Step) -> Fact {
    let [csat, nps, ces] = s.scores;
    Fact {
        at: s.at,
        kind: FactKind::Survey { csat, nps, ces },
    }
}

#[cfg(test)]
mod tests;
