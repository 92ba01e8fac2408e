//! The `connect` input end to end: Amazon Connect contact events, agent event stream records and
//! contact records (CTR), written after AWS's published data models, mapped by the adapter and
//! run through the engine give the KPIs of the same calls written by hand in events.md JSON —
//! the CTRs the exact history, the contact events the live view without what they cannot carry —
//! in any order, and a contact seen through both counts once.

use std::collections::{BTreeMap, BTreeSet};

use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::input::connect::{Connect, ConnectSettings, KINDS};
use callpulse::kpi::Tally;
use callpulse::time::MINUTE;

use crate::support::*;

const LATE: &str = "[engine]\nallowed_lateness = \"15m\"\n";
const T0: &str = "2026-11-23T10:00:00Z";

fn fixture(name: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/connect/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn settings() -> ConnectSettings {
    ConnectSettings {
        queue_names: [
            ("5e2c8f6a-0d1b-4c3a-9e8f-00000000a001", "sales"),
            ("5e2c8f6a-0d1b-4c3a-9e8f-00000000a002", "support"),
        ]
        .into_iter()
        .map(|(id, name)| (id.to_owned(), name.to_owned()))
        .collect(),
    }
}

/// Maps records with one adapter; returns the events and the count of records by kind.
fn adapt(records: &[String]) -> (Vec<String>, BTreeMap<&'static str, usize>) {
    let adapter = Connect::new(settings());
    let mut out = Vec::new();
    let mut kinds = BTreeMap::new();
    for r in records {
        let kind = adapter
            .map(r.as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{r}: {e}"));
        assert!(KINDS.contains(&kind), "{kind}");
        *kinds.entry(kind).or_default() += 1;
    }
    (out, kinds)
}

fn evaluate(events: &[String]) -> (String, Engine) {
    let engine = run(&config(LATE), events, at(T0) + 15 * MINUTE);
    (exposition(&engine.snapshot()), engine)
}

fn records(names: &[&str]) -> Vec<String> {
    names.iter().flat_map(|n| fixture(n)).collect()
}

fn tallies(engine: &mut Engine) -> Vec<(String, Tally)> {
    let snap = engine.snapshot();
    ["sales", "support"]
        .iter()
        .map(|q| (q.to_string(), window(&snap, q, "1h").tally.clone()))
        .collect()
}

#[test]
fn contact_records_give_the_kpis_of_the_same_calls_written_by_hand() {
    let (mapped, kinds) = adapt(&records(&["agent-events.jsonl", "contact-records.jsonl"]));
    let (by_hand, _) = evaluate(&fixture("calls.events.jsonl"));
    let (from_records, engine) = evaluate(&mapped);
    assert_eq!(from_records, by_hand);
    assert_eq!(kinds["contact_record"], 8);
    assert_eq!(engine.stats().rejected_total(), 0);

    // and those KPIs are the calls of the fixture
    let snap = engine.snapshot();
    let t = &window(&snap, "sales", "1h").tally;
    // C1 answered, C4 answered and transferred to support, C5 sent away by the flow
    assert_eq!(
        (
            t.offered,
            t.answered,
            t.overflowed,
            t.abandoned,
            t.transferred
        ),
        (3, 2, 1, 0, 1)
    );
    let t = &window(&snap, "support", "1h").tally;
    // C2 abandoned, C3 (chat) answered, C4's second leg answered; the outbound call and the
    // transfer into an agent's own queue are no queue contacts
    assert_eq!(
        (t.offered, t.answered, t.overflowed, t.abandoned),
        (3, 2, 0, 1)
    );
    // C1's 20 s of hold, as one span
    let text = exposition(&snap);
    assert_eq!(
        sample(
            &text,
            "callcenter_hold_seconds_sum{queue=\"sales\",window=\"1h\"}"
        ),
        Some(20.0)
    );
    // alice at lunch, bob available after the heartbeat
    let agents = queue(&snap, "support").agents;
    assert_eq!((agents[0], agents[1], agents[2], agents[3]), (1, 1, 0, 0));
}

#[test]
fn contact_events_give_the_live_view_without_what_they_cannot_carry() {
    let (mapped, kinds) = adapt(&records(&["agent-events.jsonl", "contact-events.jsonl"]));
    // no hold, a transfer looks like an end, a flow's disconnect like an abandon, no customer
    let (by_hand, _) = evaluate(&fixture("calls.live.events.jsonl"));
    let (live, engine) = evaluate(&mapped);
    assert_eq!(live, by_hand);
    assert_eq!(engine.stats().rejected_total(), 0);
    assert_eq!(kinds["contact_event_initiated"], 8);
    assert_eq!(kinds["contact_event_queued"], 7);
    assert_eq!(kinds["eventbridge_other"], 1);
    assert_eq!(kinds["agent_event_state_change"], 17);
}

/// A deterministic shuffle (xorshift), so a failure can be replayed.
fn shuffled(mut items: Vec<String>, seed: u64) -> Vec<String> {
    let mut x = seed.max(1);
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
    items
}

#[test]
fn contact_events_in_any_order_give_the_same_kpis() {
    // EventBridge delivers contact events best effort and unordered
    let all = records(&["agent-events.jsonl", "contact-events.jsonl"]);
    let (in_order, _) = evaluate(&adapt(&all).0);
    for seed in 1..=20 {
        let (mixed, engine) = evaluate(&adapt(&shuffled(all.clone(), seed)).0);
        assert_eq!(mixed, in_order, "seed {seed}");
        assert_eq!(engine.stats().rejected_total(), 0, "seed {seed}");
    }
}

#[test]
fn a_contact_seen_in_contact_events_and_in_its_record_counts_once() {
    let (records_only, mut engine) =
        evaluate(&adapt(&records(&["agent-events.jsonl", "contact-records.jsonl"])).0);
    let exact = tallies(&mut engine);
    let (_, mut engine) =
        evaluate(&adapt(&records(&["agent-events.jsonl", "contact-events.jsonl"])).0);
    let live = tallies(&mut engine);

    // the records after the contact events (the usual order: a CTR comes when the contact is
    // over) and before them (a backfill): every contact once; the first word on each step wins
    for (first, then, expected) in [
        ("contact-events.jsonl", "contact-records.jsonl", &live),
        ("contact-records.jsonl", "contact-events.jsonl", &exact),
    ] {
        let (both, mut engine) = evaluate(&adapt(&records(&["agent-events.jsonl", first, then])).0);
        let counted = tallies(&mut engine);
        for ((q, got), (_, want)) in counted.iter().zip(expected.iter()) {
            assert_eq!(
                (got.offered, got.answered, got.abandoned + got.overflowed),
                (
                    want.offered,
                    want.answered,
                    want.abandoned + want.overflowed
                ),
                "{q}: {first} then {then}"
            );
        }
        // the second word on a step is a duplicate, never a second contact
        let stats = engine.stats();
        assert!(stats.rejected(RejectReason::Duplicate) > 0);
        assert_eq!(
            stats.rejected_total(),
            stats.rejected(RejectReason::Duplicate),
            "{first} then {then}"
        );
        if first == "contact-records.jsonl" {
            assert_eq!(both, records_only);
        }
    }
}

#[test]
fn records_of_no_queue_of_the_center_map_to_nothing_and_are_never_rejected() {
    let all = records(&[
        "agent-events.jsonl",
        "contact-events.jsonl",
        "contact-records.jsonl",
    ]);
    let (events, _) = adapt(&all);
    let contacts: BTreeSet<String> = events
        .iter()
        .filter_map(|e| {
            let v: serde_json::Value = serde_json::from_str(e).ok()?;
            Some(v.get("contact_id")?.as_str()?.to_owned())
        })
        .collect();
    // C6 (outbound) and C7 (into an agent's own queue) are not there; C4b is C4's second leg
    assert_eq!(contacts.len(), 5, "{contacts:?}");
    assert!(!contacts.iter().any(|c| c.ends_with("000000000006")));
    assert!(!contacts.iter().any(|c| c.ends_with("000000000007")));
}
