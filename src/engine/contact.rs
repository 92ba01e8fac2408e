//! Contacts: each one's events, and the pure rules that turn them into KPI facts.
//!
//! A contact's facts are a function of the *set* of its events (sorted by time), never of the
//! order they arrived in; a late event re-resolves the contact and the engine applies only the
//! difference. A fact at instant `t` depends only on events at or before `t`, so once the
//! partition's lateness frontier has passed `t` nothing can change it any more.

use crate::config::QueueSettings;
use crate::event::{ContactStep, Scores};
use crate::kpi::{Fact, FactKind, SlOutcome, NO_SCORE};
use crate::time::Millis;

use super::queue::QueueId;

/// One accepted event of a contact, without its strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub at: Millis,
    pub step: ContactStep,
    /// The queue the event names, if any (always on `Offered`).
    pub queue: Option<QueueId>,
    pub wrapup: Option<bool>,
    pub csat: Option<u8>,
    pub nps: Option<u8>,
    pub ces: Option<u8>,
}

impl Step {
    pub fn new(
        at: Millis,
        step: ContactStep,
        queue: Option<QueueId>,
        wrapup: Option<bool>,
        scores: Scores,
    ) -> Self {
        Step {
            at,
            step,
            queue,
            wrapup,
            csat: scores.csat,
            nps: scores.nps,
            ces: scores.ces,
        }
    }
}

/// A fact and the queue it counts in.
pub type QueueFact = (QueueId, Fact);

/// A contact in memory: its events and what the engine has applied for it.
#[derive(Debug, Default)]
pub struct Contact {
    /// Sorted by (time, step).
    pub steps: Vec<Step>,
    /// The facts currently applied to queues.
    pub applied: Vec<QueueFact>,
    /// Waiting registrations currently held in queues: (queue, offered at, leg).
    pub waiting: Vec<(QueueId, Millis, u16)>,
    /// Unique for the engine's lifetime; stale expiry-queue entries are recognized by it.
    pub serial: u64,
    /// The earliest deadline this contact has in the expiry queue.
    pub queued_deadline: Millis,
    /// Some leg is still in progress (as of the last resolution).
    pub open: bool,
}

impl Contact {
    pub fn insert(&mut self, step: Step) {
        let pos = self.steps.partition_point(|s| *s <= step);
        self.steps.insert(pos, step);
    }

    pub fn last_at(&self) -> Millis {
        self.steps.last().map_or(Millis::MIN, |s| s.at)
    }
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
    /// The queue of the latest leg (surveys arriving after the contact is gone go there).
    pub last_queue: Option<QueueId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Waiting,
    Talking,
    Holding(Millis),
    Wrapping,
    Done,
}

#[derive(Debug)]
struct Leg {
    queue: QueueId,
    t0: Millis,
    phase: Phase,
    answered_at: Millis,
    hold: Millis,
    ended_at: Millis,
}

/// Resolves a contact: one leg per `contact.offered` (a transfer to another queue is an
/// overflow there plus a new offer here), events attributed to the latest leg at their time
/// (or the latest leg in the queue they name), each leg run through its state machine.
pub fn resolve<'s>(steps: &[Step], settings: impl Fn(QueueId) -> &'s QueueSettings) -> Resolution {
    let mut out = Resolution::default();
    let mut legs: Vec<Leg> = Vec::new();
    for s in steps.iter().filter(|s| s.step != ContactStep::Survey) {
        if s.step == ContactStep::Offered {
            let queue = s.queue.unwrap_or_default();
            legs.push(Leg {
                queue,
                t0: s.at,
                phase: Phase::Waiting,
                answered_at: 0,
                hold: 0,
                ended_at: 0,
            });
            out.facts.push((
                queue,
                Fact {
                    at: s.at,
                    kind: FactKind::Offered,
                },
            ));
            continue;
        }
        let leg = match s.queue {
            Some(q) => legs.iter_mut().rev().find(|l| l.queue == q),
            None => legs.last_mut(),
        };
        let Some(leg) = leg else {
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
    for s in steps.iter().filter(|s| s.step == ContactStep::Survey) {
        let leg = legs.iter().rev().find(|l| l.t0 <= s.at).or(legs.first());
        match leg {
            Some(leg) => out.facts.push((leg.queue, survey_fact(s))),
            None => out.unused += 1,
        }
    }
    out.legs = legs.len() as u16;
    out.last_queue = legs.last().map(|l| l.queue);
    out
}

pub fn survey_fact(s: &Step) -> Fact {
    let plus = |v: Option<u8>| v.map_or(NO_SCORE, |v| v + 1);
    Fact {
        at: s.at,
        kind: FactKind::Survey {
            csat: plus(s.csat),
            nps: plus(s.nps),
            ces: plus(s.ces),
        },
    }
}

fn ms(d: Millis) -> u32 {
    d.clamp(0, u32::MAX as Millis) as u32
}

/// Runs one event through a leg's state machine; false when the event does not fit.
fn step_leg(leg: &mut Leg, s: &Step, cfg: &QueueSettings, facts: &mut Vec<QueueFact>) -> bool {
    let q = leg.queue;
    let mut push = |at: Millis, kind: FactKind| facts.push((q, Fact { at, kind }));
    match (leg.phase, s.step) {
        (
            Phase::Waiting,
            ContactStep::Answered | ContactStep::Abandoned | ContactStep::Overflowed,
        ) => {
            let wait = s.at - leg.t0;
            let within = wait <= cfg.sl_threshold.millis();
            let missed_at = leg.t0.saturating_add(cfg.sl_threshold.millis());
            match s.step {
                ContactStep::Answered => {
                    leg.phase = Phase::Talking;
                    leg.answered_at = s.at;
                    push(s.at, FactKind::Answered { wait: ms(wait) });
                    if within {
                        push(s.at, FactKind::Sl(SlOutcome::Answered));
                    } else {
                        push(missed_at, FactKind::Sl(SlOutcome::Missed));
                    }
                }
                ContactStep::Abandoned => {
                    leg.phase = Phase::Done;
                    if wait < cfg.short_abandon.millis() {
                        // Short abandons count in their own family and in no other KPI.
                        push(s.at, FactKind::AbandonedShort);
                    } else {
                        push(s.at, FactKind::Abandoned);
                        if within {
                            push(s.at, FactKind::Sl(SlOutcome::Abandoned));
                        } else {
                            push(missed_at, FactKind::Sl(SlOutcome::Missed));
                        }
                    }
                }
                _ => {
                    leg.phase = Phase::Done;
                    push(s.at, FactKind::Overflowed);
                    push(s.at.min(missed_at), FactKind::Sl(SlOutcome::Missed));
                }
            }
            true
        }
        (Phase::Talking, ContactStep::Held) => {
            leg.phase = Phase::Holding(s.at);
            true
        }
        (Phase::Holding(since), ContactStep::Resumed) => {
            leg.hold += s.at - since;
            leg.phase = Phase::Talking;
            true
        }
        (Phase::Talking | Phase::Holding(_), ContactStep::Ended | ContactStep::Transferred) => {
            if let Phase::Holding(since) = leg.phase {
                // A hold still open when the conversation ends, ends with it.
                leg.hold += s.at - since;
            }
            leg.ended_at = s.at;
            if s.step == ContactStep::Transferred {
                push(s.at, FactKind::Transferred);
            }
            let wrapup_expected = s.wrapup.unwrap_or(cfg.wrapup);
            if wrapup_expected {
                leg.phase = Phase::Wrapping;
            } else {
                leg.phase = Phase::Done;
                push(s.at, completed(leg, 0));
            }
            true
        }
        (Phase::Wrapping, ContactStep::WrapupEnded) => {
            leg.phase = Phase::Done;
            push(s.at, completed(leg, s.at - leg.ended_at));
            true
        }
        _ => false,
    }
}

fn completed(leg: &Leg, wrapup: Millis) -> FactKind {
    let conversation = leg.ended_at - leg.answered_at;
    FactKind::Completed {
        talk: ms(conversation - leg.hold),
        hold: ms(leg.hold),
        wrapup: ms(wrapup),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SECOND;

    fn st(at_s: i64, step: ContactStep) -> Step {
        let queue = (step == ContactStep::Offered).then_some(0);
        Step::new(at_s * SECOND, step, queue, None, Scores::default())
    }

    fn facts(steps: &[Step], cfg: &QueueSettings) -> Vec<(Millis, FactKind)> {
        let mut sorted = steps.to_vec();
        sorted.sort();
        let mut f: Vec<_> = resolve(&sorted, |_| cfg)
            .facts
            .into_iter()
            .map(|(_, f)| (f.at / SECOND, f.kind))
            .collect();
        f.sort();
        f
    }

    use ContactStep::*;

    #[test]
    fn wait_exactly_at_the_threshold_is_within_service_level() {
        let cfg = QueueSettings::default(); // 20 s
        let f = facts(&[st(0, Offered), st(20, Answered)], &cfg);
        assert!(
            f.contains(&(20, FactKind::Sl(SlOutcome::Answered))),
            "{f:?}"
        );
        let f = facts(&[st(0, Offered), st(21, Answered)], &cfg);
        assert!(
            f.contains(&(20, FactKind::Sl(SlOutcome::Missed))),
            "decided at t0 + threshold: {f:?}"
        );
        assert!(f.contains(&(21, FactKind::Answered { wait: 21_000 })));
    }

    #[test]
    fn short_abandon_boundary_counts_only_as_short() {
        let cfg = QueueSettings::default(); // 5 s
        let f = facts(&[st(0, Offered), st(4, Abandoned)], &cfg);
        assert_eq!(
            f,
            vec![(0, FactKind::Offered), (4, FactKind::AbandonedShort)]
        );
        let f = facts(&[st(0, Offered), st(5, Abandoned)], &cfg);
        assert_eq!(
            f,
            vec![
                (0, FactKind::Offered),
                (5, FactKind::Abandoned),
                (5, FactKind::Sl(SlOutcome::Abandoned))
            ]
        );
    }

    #[test]
    fn still_waiting_is_missed_at_the_threshold_and_overflow_is_missed() {
        let cfg = QueueSettings::default();
        let r = resolve(&[st(0, Offered)], |_| &cfg);
        assert!(r.open);
        assert_eq!(r.waiting, vec![(0, 0, 0)]);
        assert!(r.facts.contains(&(
            0,
            Fact {
                at: 20 * SECOND,
                kind: FactKind::Sl(SlOutcome::Missed)
            }
        )));
        let f = facts(&[st(0, Offered), st(8, Overflowed)], &cfg);
        assert!(f.contains(&(8, FactKind::Sl(SlOutcome::Missed))), "{f:?}");
    }

    #[test]
    fn hold_still_open_at_the_end_ends_with_the_conversation() {
        let cfg = QueueSettings::default();
        let f = facts(
            &[
                st(0, Offered),
                st(10, Answered),
                st(40, Held),
                st(70, Resumed),
                st(100, Held),
                st(130, Ended),
            ],
            &cfg,
        );
        assert!(
            f.contains(&(
                130,
                FactKind::Completed {
                    talk: 60_000,
                    hold: 60_000,
                    wrapup: 0
                }
            )),
            "{f:?}"
        );
    }

    #[test]
    fn wrapup_expected_by_event_or_by_queue_config() {
        let mut cfg = QueueSettings::default();
        let mut ended = st(100, Ended);
        ended.wrapup = Some(true);
        let f = facts(
            &[
                st(0, Offered),
                st(10, Answered),
                ended,
                st(130, WrapupEnded),
            ],
            &cfg,
        );
        assert!(
            f.contains(&(
                130,
                FactKind::Completed {
                    talk: 90_000,
                    hold: 0,
                    wrapup: 30_000
                }
            )),
            "{f:?}"
        );
        // no wrap-up expected: complete at the end; a wrapup_ended is not used
        let r = resolve(
            &[
                st(0, Offered),
                st(10, Answered),
                st(100, Ended),
                st(130, WrapupEnded),
            ],
            |_| &cfg,
        );
        assert_eq!(r.unused, 1);
        assert!(r.facts.iter().any(|f| f.1
            == Fact {
                at: 100 * SECOND,
                kind: FactKind::Completed {
                    talk: 90_000,
                    hold: 0,
                    wrapup: 0
                }
            }));
        // queue config says wrap-up: not complete until it ends
        cfg.wrapup = true;
        let r = resolve(&[st(0, Offered), st(10, Answered), st(100, Ended)], |_| {
            &cfg
        });
        assert!(r.open);
        assert!(!r
            .facts
            .iter()
            .any(|f| matches!(f.1.kind, FactKind::Completed { .. })));
        // ... and an event may say otherwise
        let mut no = st(100, Ended);
        no.wrapup = Some(false);
        let r = resolve(&[st(0, Offered), st(10, Answered), no], |_| &cfg);
        assert!(!r.open);
    }

    #[test]
    fn transfer_ends_the_conversation_and_counts() {
        let cfg = QueueSettings::default();
        let f = facts(
            &[st(0, Offered), st(3, Answered), st(63, Transferred)],
            &cfg,
        );
        assert!(f.contains(&(63, FactKind::Transferred)));
        assert!(f.contains(&(
            63,
            FactKind::Completed {
                talk: 60_000,
                hold: 0,
                wrapup: 0
            }
        )));
    }

    #[test]
    fn survey_without_queue_goes_to_the_contacts_queue() {
        let cfg = QueueSettings::default();
        let mut survey = st(200, Survey);
        survey.csat = Some(4);
        let mut offered_b = st(50, Offered);
        offered_b.queue = Some(7);
        let r = resolve(
            &[st(0, Offered), st(50, Overflowed), offered_b, survey],
            |_| &cfg,
        );
        let s = r
            .facts
            .iter()
            .find(|f| matches!(f.1.kind, FactKind::Survey { .. }))
            .unwrap();
        assert_eq!(s.0, 7, "the latest leg's queue");
        assert_eq!(r.last_queue, Some(7));
    }

    #[test]
    fn second_outcomes_and_events_without_an_offer_are_unused() {
        let cfg = QueueSettings::default();
        let r = resolve(&[st(0, Offered), st(5, Answered), st(9, Abandoned)], |_| {
            &cfg
        });
        assert_eq!(r.unused, 1);
        let r = resolve(&[st(5, Answered)], |_| &cfg);
        assert_eq!((r.unused, r.legs), (1, 0));
        assert!(r.facts.is_empty());
    }
}
