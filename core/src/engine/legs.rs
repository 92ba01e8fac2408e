//! Legs: which queue visit of a contact an event continues (docs/events.md, "Legs"), and each
//! leg's state machine from its offer to its completion.
//!
//! The rules look only at the legs as they stand at the event's instant (events earlier in the
//! contact's sorted steps), so the attribution, like everything else about a contact, is a
//! function of the set of its events and never of their arrival order.

use crate::event::{Channel, ContactStep};
use crate::kpi::{Fact, FactKind, SlOutcome};
use crate::settings::QueueSettings;
use crate::time::Millis;

use super::queue::QueueId;
use super::step::{AgentKey, QueueFact, Step, NO_AGENT};

/// The step of a leg that an [`Step`] may move it on from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Waiting,
    Talking,
    Holding(Millis),
    Wrapping,
    Done,
}

/// One visit of a contact to a queue, from its `contact.offered`.
#[derive(Debug)]
pub(super) struct Leg {
    pub queue: QueueId,
    pub t0: Millis,
    pub phase: Phase,
    /// The agent who answered it (`NO_AGENT` while unanswered).
    agent: AgentKey,
    /// The agent whose transfer or end closed the conversation.
    ended_by: AgentKey,
    answered: bool,
    answered_at: Millis,
    hold: Millis,
    ended_at: Millis,
    channel: Channel,
    /// `resolved` of the `contact.ended` that closed the conversation.
    resolved: Option<bool>,
    /// Its first `contact.responded` was seen.
    responded: bool,
}

impl Leg {
    pub fn offered(queue: QueueId, t0: Millis, channel: Channel) -> Self {
        Leg {
            channel,
            resolved: None,
            responded: false,
            queue,
            t0,
            phase: Phase::Waiting,
            agent: NO_AGENT,
            ended_by: NO_AGENT,
            answered: false,
            answered_at: 0,
            hold: 0,
            ended_at: 0,
        }
    }

    pub fn answered(&self) -> bool {
        self.answered
    }

    /// When it was answered (meaningful once [`Leg::answered`]).
    pub fn answered_at(&self) -> Millis {
        self.answered_at
    }

    /// A voice or callback leg responds when it is answered (docs/metrics.md); a chat or e-mail
    /// leg at its first `contact.responded`.
    fn spoken(&self) -> bool {
        matches!(self.channel, Channel::Voice | Channel::Callback)
    }

    fn in_conversation(&self) -> bool {
        matches!(self.phase, Phase::Talking | Phase::Holding(_))
    }
}

/// The leg a follow-up event (anything but an offer or a survey) continues, by the Legs rules;
/// `None` when it continues none. `legs` are in offer order and hold every event before this one.
pub(super) fn continued_by(legs: &[Leg], s: &Step) -> Option<usize> {
    let named = s.queue != super::step::NO_QUEUE;
    let in_queue = |l: &Leg| !named || l.queue == s.queue;
    let last = |pred: &dyn Fn(&Leg) -> bool| legs.iter().rposition(pred);
    match s.step {
        ContactStep::Answered | ContactStep::Abandoned | ContactStep::Overflowed => {
            // The leg waiting at the event's instant. Legs are in offer order, so the earliest
            // one comes first: a leg offered earlier takes the outcome before one offered at
            // this very instant (an overflow here and an offer there with one timestamp).
            legs.iter()
                .position(|l| l.phase == Phase::Waiting && in_queue(l))
        }
        ContactStep::Held
        | ContactStep::Resumed
        | ContactStep::Responded
        | ContactStep::Transferred
        | ContactStep::Ended => {
            let with_agent = |l: &Leg| l.in_conversation() && l.agent == s.agent;
            last(&|l| with_agent(l) && in_queue(l))
                .or_else(|| last(&with_agent))
                .or_else(|| {
                    if named {
                        last(&|l| l.queue == s.queue && l.answered)
                            .or_else(|| last(&|l| l.queue == s.queue))
                    } else {
                        legs.iter()
                            .enumerate()
                            .filter(|(_, l)| l.answered)
                            .max_by_key(|(i, l)| (l.answered_at, *i))
                            .map(|(i, _)| i)
                    }
                })
        }
        ContactStep::WrapupEnded => {
            let wrapping = |l: &Leg| l.phase == Phase::Wrapping && in_queue(l);
            // another agent's wrap-up end only when it cannot be anyone else's (docs/events.md)
            let only = || {
                let mut awaiting = legs.iter().enumerate().filter(|(_, l)| wrapping(l));
                match (awaiting.next(), awaiting.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            };
            last(&|l| wrapping(l) && (l.agent == s.agent || l.ended_by == s.agent)).or_else(only)
        }
        ContactStep::Offered | ContactStep::Survey => None,
    }
}

fn ms(d: Millis) -> u32 {
    d.clamp(0, u32::MAX as Millis) as u32
}

/// Runs one event through a leg's state machine; false when the event does not fit.
pub(super) fn step_leg(
    leg: &mut Leg,
    s: &Step,
    cfg: &QueueSettings,
    facts: &mut Vec<QueueFact>,
) -> bool {
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
                    leg.answered = true;
                    leg.answered_at = s.at;
                    leg.agent = s.agent;
                    push(s.at, FactKind::Answered { wait: ms(wait) });
                    if leg.spoken() {
                        // A `contact.responded` can only come at or after the answer (it
                        // continues a conversation), so the answer is the first response.
                        leg.responded = true;
                        push(s.at, FactKind::FirstResponse { ms: ms(wait) });
                    }
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
        // The first response of an answered leg; later ones are ignored.
        (_, ContactStep::Responded) => {
            if leg.answered && !leg.responded {
                leg.responded = true;
                push(
                    s.at,
                    FactKind::FirstResponse {
                        ms: ms(s.at - leg.t0),
                    },
                );
            }
            leg.answered
        }
        (Phase::Talking | Phase::Holding(_), ContactStep::Ended | ContactStep::Transferred) => {
            if let Phase::Holding(since) = leg.phase {
                // A hold still open when the conversation ends, ends with it.
                leg.hold += s.at - since;
            }
            leg.ended_at = s.at;
            leg.ended_by = s.agent;
            leg.resolved = s.resolved.filter(|_| s.step == ContactStep::Ended);
            if s.step == ContactStep::Transferred {
                push(s.at, FactKind::Transferred);
            }
            // `wrapup` of the event (ended or transferred), else the queue's setting.
            if s.wrapup.unwrap_or(cfg.wrapup) {
                leg.phase = Phase::Wrapping;
            } else {
                leg.phase = Phase::Done;
                push(s.at, completed(leg, 0));
                if let Some(resolved) = leg.resolved {
                    push(s.at, FactKind::Resolution { resolved });
                }
            }
            true
        }
        (Phase::Wrapping, ContactStep::WrapupEnded) => {
            leg.phase = Phase::Done;
            push(s.at, completed(leg, s.at - leg.ended_at));
            if let Some(resolved) = leg.resolved {
                push(s.at, FactKind::Resolution { resolved });
            }
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
    use crate::engine::contact::{resolve_legs, Contact};
    use crate::engine::step::NO_QUEUE;
    use crate::time::SECOND;
    use ContactStep::*;

    const SALES: QueueId = 0;
    const CARE: QueueId = 1;

    /// An event at `at_s` seconds, naming `queue` (or `NO_QUEUE`) and agent `agent` (0: none).
    fn ev(at_s: i64, step: ContactStep, queue: QueueId, agent: AgentKey) -> Step {
        Step::new(at_s * SECOND, step, queue, agent)
    }

    /// The leg (by offer order) each event goes to, in the contact's canonical order, and the
    /// number of events the rules could not use.
    fn legs_of(steps: &[Step]) -> (Vec<(i64, ContactStep, Option<usize>)>, u32) {
        let cfg = QueueSettings::default();
        let mut contact = Contact::default();
        for &s in steps {
            contact.insert(s, |q| ["sales", "care"].get(q as usize).copied());
        }
        let mut seen = Vec::new();
        let r = resolve_legs(
            &contact.steps,
            None,
            |_| &cfg,
            |s, leg| seen.push((s.at / SECOND, s.step, leg)),
        );
        (seen, r.unused)
    }

    #[test]
    fn steps_and_contacts_stay_as_small_as_before_agents_and_priors() {
        assert!(std::mem::size_of::<Step>() <= 24);
        assert!(std::mem::size_of::<Contact>() <= 96);
    }

    #[test]
    fn an_outcome_at_the_instant_of_a_new_offer_goes_to_the_leg_offered_earlier() {
        // an overflow written without its queue, at the millisecond of the offer there
        let (seen, unused) = legs_of(&[
            ev(0, Offered, SALES, 0),
            ev(30, Overflowed, NO_QUEUE, 0),
            ev(30, Offered, CARE, 0),
            ev(31, Answered, NO_QUEUE, 7),
        ]);
        assert_eq!(unused, 0);
        assert!(seen.contains(&(30, Overflowed, Some(0))), "{seen:?}");
        assert!(seen.contains(&(31, Answered, Some(1))), "{seen:?}");
        // a callback into the same queue, named, at the instant the first leg overflows
        let (seen, _) = legs_of(&[
            ev(0, Offered, SALES, 0),
            ev(30, Overflowed, SALES, 0),
            ev(30, Offered, SALES, 0),
        ]);
        assert!(seen.contains(&(30, Overflowed, Some(0))), "{seen:?}");
        // with no earlier leg waiting, an answer at its own offer's instant is that leg's
        let (seen, _) = legs_of(&[
            ev(0, Offered, SALES, 0),
            ev(5, Abandoned, NO_QUEUE, 0),
            ev(30, Offered, CARE, 0),
            ev(30, Answered, NO_QUEUE, 7),
        ]);
        assert!(seen.contains(&(30, Answered, Some(1))), "{seen:?}");
    }

    #[test]
    fn conversation_events_follow_their_agent_then_the_named_queue_then_the_latest_answer() {
        let (ann, bob, cy) = (11, 22, 33);
        let (seen, unused) = legs_of(&[
            ev(0, Offered, SALES, 0),
            ev(2, Answered, SALES, ann),
            ev(3, Offered, CARE, 0),
            ev(4, Answered, CARE, bob),
            ev(5, Held, NO_QUEUE, ann),
            ev(6, Responded, NO_QUEUE, bob),
            ev(7, Resumed, NO_QUEUE, ann),
            // no leg talks with cy: the named queue decides
            ev(8, Held, SALES, cy),
            ev(9, Resumed, SALES, cy),
            // neither agent nor queue: the latest answered leg
            ev(10, Ended, NO_QUEUE, cy),
            ev(11, Ended, NO_QUEUE, ann),
        ]);
        assert_eq!(unused, 0, "{seen:?}");
        let expect = [
            (5, Held, Some(0)),
            (6, Responded, Some(1)),
            (7, Resumed, Some(0)),
            (8, Held, Some(0)),
            (9, Resumed, Some(0)),
            (10, Ended, Some(1)),
            (11, Ended, Some(0)),
        ];
        for e in expect {
            assert!(seen.contains(&e), "{e:?} in {seen:?}");
        }
    }

    #[test]
    fn wrapup_end_goes_to_the_leg_its_agent_left_in_wrap_up() {
        let (ann, bob) = (11, 22);
        let mut transfer = ev(10, Transferred, NO_QUEUE, ann);
        transfer.wrapup = Some(true);
        let mut end = ev(20, Ended, NO_QUEUE, bob);
        end.wrapup = Some(true);
        let (seen, unused) = legs_of(&[
            ev(0, Offered, SALES, 0),
            ev(1, Answered, SALES, ann),
            transfer,
            ev(10, Offered, CARE, 0),
            ev(12, Answered, CARE, bob),
            end,
            ev(25, WrapupEnded, NO_QUEUE, bob),
            ev(30, WrapupEnded, NO_QUEUE, ann),
        ]);
        assert_eq!(unused, 0, "{seen:?}");
        assert!(seen.contains(&(25, WrapupEnded, Some(1))), "{seen:?}");
        assert!(seen.contains(&(30, WrapupEnded, Some(0))), "{seen:?}");
    }

    #[test]
    fn another_agents_wrapup_end_goes_to_the_one_leg_awaiting_one_and_to_none_of_two() {
        let (ann, bob, cy) = (11, 22, 33);
        let ending = |at_s, agent| {
            let mut e = ev(at_s, Ended, NO_QUEUE, agent);
            e.wrapup = Some(true);
            e
        };
        let one = [
            ev(0, Offered, SALES, 0),
            ev(1, Answered, SALES, ann),
            ending(10, ann),
            ev(20, WrapupEnded, NO_QUEUE, cy),
        ];
        let (seen, unused) = legs_of(&one);
        assert_eq!(unused, 0, "{seen:?}");
        assert!(seen.contains(&(20, WrapupEnded, Some(0))), "{seen:?}");
        let two = [
            ev(0, Offered, SALES, 0),
            ev(1, Answered, SALES, ann),
            ev(2, Offered, CARE, 0),
            ev(3, Answered, CARE, bob),
            ending(10, ann),
            ending(11, bob),
            ev(20, WrapupEnded, NO_QUEUE, cy),
        ];
        let (seen, unused) = legs_of(&two);
        assert_eq!(unused, 1, "{seen:?}");
        assert!(seen.contains(&(20, WrapupEnded, None)), "{seen:?}");
    }

    #[test]
    fn events_that_continue_no_leg_are_unused() {
        // a response before any answer, a wrap-up end with nothing in wrap-up
        let (seen, unused) = legs_of(&[
            ev(0, Offered, SALES, 0),
            ev(1, Responded, NO_QUEUE, 5),
            ev(2, WrapupEnded, NO_QUEUE, 5),
            ev(3, Answered, CARE, 5),
        ]);
        assert_eq!(unused, 3, "{seen:?}");
        assert!(seen.contains(&(2, WrapupEnded, None)), "{seen:?}");
        assert!(
            seen.contains(&(3, Answered, None)),
            "care has no leg: {seen:?}"
        );
    }
}
