//! The `asterisk` input end to end: queue_log fixtures (file lines and realtime rows) mapped by
//! the adapter and run through the engine give the KPIs of the same calls written by hand in
//! docs/events.md JSON, in either spelling and in any order within a second.

use std::collections::BTreeMap;

use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::input::asterisk::{Asterisk, AsteriskSettings};
use callpulse::time::{Millis, HOUR, MINUTE};
use chrono_tz::Tz;

use crate::support::*;

const LATE: &str = "[engine]\nallowed_lateness = \"10m\"\n";
const T0: &str = "2026-11-23T10:00:00Z";

fn fixture(name: &str) -> Vec<String> {
    fixture_lines(&format!("asterisk/{name}"))
}

/// Maps records with a fresh adapter (flushing at the end); returns the events and the count
/// of records by kind.
fn adapt(records: &[String], tz: Tz) -> (Vec<String>, BTreeMap<&'static str, usize>) {
    let mut adapter = Asterisk::new(AsteriskSettings {
        timezone: tz,
        ..AsteriskSettings::default()
    });
    let (mut out, kinds) = map_all(&mut adapter, records);
    adapter.flush(Millis::MAX, &mut out);
    (out, kinds)
}

fn evaluate(events: &[String]) -> (String, Engine) {
    let engine = run(&config(LATE), events, at(T0) + 10 * MINUTE);
    (exposition(&engine.snapshot()), engine)
}

#[test]
fn mapped_queue_log_gives_the_kpis_of_the_same_calls_written_by_hand() {
    let (mapped, kinds) = adapt(&fixture("calls.log"), Tz::UTC);
    let (by_hand, _) = evaluate(&fixture("calls.events.jsonl"));
    let (from_log, mut engine) = evaluate(&mapped);
    assert_eq!(from_log, by_hand);

    // and those KPIs are the calls of the fixture
    let snap = engine.snapshot();
    let w = window(&snap, "sales", "1h");
    let t = &w.tally;
    // answered A, D (transferred on), E full, C timed out
    assert_eq!(
        (
            t.offered,
            t.answered,
            t.overflowed,
            t.abandoned,
            t.transferred
        ),
        (4, 2, 2, 0, 1)
    );
    let t = &window(&snap, "support", "1h").tally;
    // B abandoned, F joined empty, C and D answered; the abandon without ENTERQUEUE is not counted
    assert_eq!(
        (t.offered, t.answered, t.overflowed, t.abandoned),
        (4, 2, 1, 1)
    );
    // available, not_ready, busy, wrapup: 1127 and 2001 available, 3001 paused for lunch
    assert_eq!(queue(&snap, "sales").agents, [1, 1, 0, 0]);
    assert_eq!(queue(&snap, "support").agents, [2, 0, 0, 0]);
    assert_eq!(queue(&snap, "sales").waiting, 0);
    // once the contact times out (a later event moves the watermark past its timeout), the
    // abandon without an offer is discarded as unknown
    let later = at(T0) + 9 * HOUR;
    engine
        .ingest(offered(later, "tick", "other").as_bytes())
        .expect("a later offer");
    engine.advance(later);
    assert_eq!(engine.stats().rejected(RejectReason::UnknownContact), 1);
    assert_eq!(engine.stats().rejected_total(), 1);

    // every record was counted by its verb, ignored and unknown ones included
    assert_eq!(kinds.values().sum::<usize>(), fixture("calls.log").len());
    for (kind, n) in [
        ("queuestart", 1),
        ("ringnoanswer", 1),
        ("configreload", 1),
        ("outdial", 1),
        ("unknown", 1),
        ("enterqueue", 6),
        ("wrapupstart", 1),
    ] {
        assert_eq!(kinds.get(kind), Some(&n), "{kind}");
    }
}

#[test]
fn the_file_and_realtime_spellings_give_identical_events() {
    let (from_file, _) = adapt(&fixture("calls.log"), Tz::UTC);
    // one agent.state per agent and millisecond at most: the engine never orders them
    let mut seen = std::collections::HashSet::new();
    for e in &from_file {
        let v: serde_json::Value = serde_json::from_str(e).expect("JSON");
        if v["type"] == "agent.state" {
            assert!(
                seen.insert((v["agent"].to_string(), v["ts"].to_string())),
                "{e}"
            );
        }
    }
    assert!(seen.len() >= 10);
    // the rows carry local datetimes of Berlin (UTC+1 in November)
    let (from_rows, _) = adapt(&fixture("calls.realtime.jsonl"), Tz::Europe__Berlin);
    assert_eq!(from_rows, from_file);
    // the zone setting only concerns datetime strings: file lines are epoch seconds
    let (in_tokyo, _) = adapt(&fixture("calls.log"), Tz::Asia__Tokyo);
    assert_eq!(in_tokyo, from_file);
    // read in the wrong zone, the rows are an hour off
    let (wrong, _) = adapt(&fixture("calls.realtime.jsonl"), Tz::UTC);
    assert_ne!(wrong, from_file);
}

/// Every permutation of `items`.
fn permutations(items: &[String]) -> Vec<Vec<String>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first.clone());
            all.push(p);
        }
    }
    all
}

#[test]
fn same_second_records_in_any_order_give_the_same_kpis() {
    let records = fixture("calls.log");
    let (events, _) = adapt(&records, Tz::UTC);
    let (expected, _) = evaluate(&events);

    // the records grouped by second, in file order
    let mut groups: Vec<Vec<String>> = Vec::new();
    for r in records {
        let second = r.split('|').next().map(str::to_owned);
        match groups.last_mut() {
            Some(g) if g[0].split('|').next().map(str::to_owned) == second => g.push(r),
            _ => groups.push(vec![r]),
        }
    }
    assert!(groups.iter().filter(|g| g.len() > 1).count() >= 4);
    // every combination of every group's orders
    let mut orders: Vec<Vec<String>> = vec![Vec::new()];
    for g in &groups {
        let perms = permutations(g);
        orders = orders
            .iter()
            .flat_map(|prefix| {
                perms.iter().map(move |p| {
                    let mut o = prefix.clone();
                    o.extend(p.iter().cloned());
                    o
                })
            })
            .collect();
    }
    assert_eq!(orders.len(), 6 * 2 * 2 * 2);
    for order in orders {
        let (events, _) = adapt(&order, Tz::UTC);
        let (got, _) = evaluate(&events);
        assert_eq!(got, expected, "{order:#?}");
    }
}

#[test]
fn a_call_leaving_a_queue_without_enterqueue_changes_no_kpi() {
    let records = fixture("calls.log");
    let orphan = "1795427990.9";
    let without: Vec<String> = records
        .iter()
        .filter(|r| !r.contains(orphan))
        .cloned()
        .collect();
    assert_eq!(without.len() + 1, records.len());
    let (with_events, _) = adapt(&records, Tz::UTC);
    let (without_events, _) = adapt(&without, Tz::UTC);
    assert_eq!(evaluate(&with_events).0, evaluate(&without_events).0);
}

#[test]
fn a_transfer_with_wrapup_is_wrapped_up_on_its_own_leg() {
    let records: Vec<String> = [
        "1795428000|NONE|sales|PJSIP/3001|ADDMEMBER|",
        "1795428010|c1|sales|NONE|ENTERQUEUE||5551001|1",
        "1795428012|c1|sales|PJSIP/3001|CONNECT|2|c1b|1",
        "1795428070|c1|sales|PJSIP/3001|ATTENDEDTRANSFER|BRIDGE|b1|2|58|1",
        "1795428070|NONE|sales|PJSIP/3001|WRAPUPSTART|30",
        "1795428070|c1|support|NONE|ENTERQUEUE||5551001|1",
        "1795428080|c1|support|NONE|ABANDON|1|1|10",
    ]
    .map(str::to_owned)
    .to_vec();
    let (events, _) = adapt(&records, Tz::UTC);
    assert!(events.iter().any(|e| e.contains(r#""wrapup":true"#)));
    assert!(events.iter().any(|e| e.contains("contact.wrapup_ended")));
    let (_, mut engine) = evaluate(&events);
    let later = at(T0) + 9 * HOUR;
    engine
        .ingest(offered(later, "tick", "other").as_bytes())
        .expect("a later offer");
    engine.advance(later);
    assert_eq!(engine.stats().rejected_total(), 0, "{:?}", engine.stats());
    let snap = engine.snapshot();
    let sales = &window(&snap, "sales", "today").tally;
    assert_eq!(
        (sales.offered, sales.answered, sales.transferred),
        (1, 1, 1)
    );
    let support = &window(&snap, "support", "today").tally;
    assert_eq!((support.offered, support.abandoned), (1, 1));
}
