//! Unit tests of the contact rules: service level, short abandons, holds, wrap-up, transfers
//! and surveys.

use super::*;
use crate::time::SECOND;

fn st(at_s: i64, step: ContactStep) -> Step {
    let queue = if step == ContactStep::Offered {
        0
    } else {
        NO_QUEUE
    };
    Step::new(at_s * SECOND, step, queue, 1)
}

fn facts(steps: &[Step], cfg: &QueueSettings) -> Vec<(Millis, FactKind)> {
    let mut contact = Contact::default();
    for &s in steps {
        contact.insert(s, |_| None);
    }
    let mut f: Vec<_> = resolve(&contact.steps, |_| cfg)
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
    survey.scores[0] = 5;
    let mut offered_b = st(50, Offered);
    offered_b.queue = 7;
    let r = resolve(
        &[st(0, Offered), st(50, Overflowed), offered_b, survey],
        |_| &cfg,
    );
    let s = r
        .facts
        .iter()
        .find(|f| matches!(f.1.kind, FactKind::Survey { .. }))
        .unwrap();
    assert_eq!(s.0, 7, "no leg answered: the last leg's queue");
    assert_eq!(r.survey.map(|p| p.survey_queue), Some(7));
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
