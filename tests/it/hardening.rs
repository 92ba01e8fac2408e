//! Edge cases found in review (the hardening issue), each a regression test named after what
//! it guards.

use callpulse::event::RejectReason;
use callpulse::time::{MINUTE, SECOND};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

#[test]
fn a_short_abandon_longer_than_the_sl_threshold_is_refused_so_sl_counters_never_decrease() {
    let err = callpulse::config::Config::parse(
        "[queues.sales]\nsl_threshold = \"10s\"\nshort_abandon = \"15s\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("short_abandon"), "{err}");
    let err = callpulse::config::Config::parse("[defaults]\nshort_abandon = \"30s\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("[defaults]"), "{err}");
    // equal is fine: the abandon is short only below the threshold
    assert!(callpulse::config::Config::parse(
        "[defaults]\nsl_threshold = \"10s\"\nshort_abandon = \"10s\"\n"
    )
    .is_ok());
}

#[test]
fn an_agent_list_naming_a_queue_beyond_the_limit_keeps_the_known_queues() {
    let t0 = at(T0);
    let cfg = config("[engine]\nmax_queues = 1\n");
    let lines = vec![
        ev(
            t0,
            "agent.state",
            json!({"agent": "ann", "state": "available", "queues": ["sales"]}),
        ),
        // the agent logs out, listing a queue the limit refuses: the logout still counts
        ev(
            t0 + SECOND,
            "agent.state",
            json!({"agent": "ann", "state": "logged_out", "queues": ["sales", "new"]}),
        ),
    ];
    let engine = run(&cfg, &lines, t0 + MINUTE);
    let snap = engine.snapshot();
    assert_eq!(queue(&snap, "sales").agents, [0, 0, 0, 0]);
    assert!(snap.queues.iter().all(|q| q.name != "new"));
    assert_eq!(engine.stats().accepted, 2);
}

#[test]
fn a_producer_looping_one_contact_is_cut_off_at_the_events_per_contact_bound() {
    let t0 = at(T0);
    let mut lines = vec![offered(t0, "c", "sales"), answered(t0 + SECOND, "c")];
    for i in 0..1_200 {
        let kind = if i % 2 == 0 {
            "contact.held"
        } else {
            "contact.resumed"
        };
        lines.push(ev(
            t0 + 2 * SECOND + i,
            kind,
            json!({"contact_id": "c", "agent": "a1"}),
        ));
    }
    let engine = run(&config(""), &lines, t0 + MINUTE);
    let max = callpulse::engine::MAX_EVENTS_PER_CONTACT as u64;
    assert_eq!(engine.stats().accepted, max);
    assert_eq!(
        engine.stats().rejected(RejectReason::TooLarge),
        lines.len() as u64 - max
    );
}

#[test]
fn an_integral_float_priority_is_an_integer_and_a_long_customer_is_refused() {
    let t0 = at(T0);
    let ok = ev(
        t0,
        "contact.offered",
        json!({"contact_id": "c", "queue": "sales", "priority": 2.0}),
    );
    let long = ev(
        t0,
        "contact.offered",
        json!({"contact_id": "d", "queue": "sales", "customer": "x".repeat(129)}),
    );
    let engine = run(&config(""), &[ok, long], t0 + MINUTE);
    assert_eq!(engine.stats().accepted, 1);
    assert_eq!(engine.stats().rejected(RejectReason::InvalidValue), 1);
}

#[test]
fn replay_counts_unused_events_of_contacts_still_held_at_the_end_of_the_input() {
    let t0 = at(T0);
    // an answer for a contact never offered, and a second abandon of a contact: both within
    // the lateness of the last event, so no advance ever finished those contacts
    let lines = [
        offered(t0, "a", "sales"),
        abandoned(t0 + 10 * SECOND, "a"),
        abandoned(t0 + 11 * SECOND, "a"),
        answered(t0 + 12 * SECOND, "ghost"),
    ]
    .join("\n");
    let r = callpulse::replay::replay(config(""), lines.as_bytes(), Some(t0 + 20 * SECOND))
        .expect("replay");
    assert_eq!(r.stats.rejected(RejectReason::OutOfOrder), 1);
    assert_eq!(r.stats.rejected(RejectReason::UnknownContact), 1);
}
