//! The `connect` input end to end: Amazon Connect contact events, agent event stream records and
//! contact records (CTR), written after AWS's published data models, mapped by the adapter and
//! run through the engine give the KPIs of the same calls written by hand in docs/events.md JSON —
//! the CTRs the exact history, the contact events the live view without what they cannot carry —
//! in any order, and a contact seen through both counts once.

use std::collections::{BTreeMap, BTreeSet};

use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::input::connect::{Connect, ConnectSettings};
use callpulse::kpi::Tally;
use callpulse::time::MINUTE;

use crate::support::*;

const LATE: &str = "[engine]\nallowed_lateness = \"15m\"\n";
const T0: &str = "2026-11-23T10:00:00Z";

fn fixture(name: &str) -> Vec<String> {
    fixture_lines(&format!("connect/{name}"))
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
    let mut adapter = Connect::new(settings());
    map_all(&mut adapter, records)
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

// ---- real record shapes (tests/fixtures/connect/SOURCES.md) ----

const REAL_RECORDS: &str = "contact-records-real.jsonl";

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Replays history lines in the `connect` format with the default configuration (60 s
/// lateness), evaluated at `at` (default: after the last event).
fn replay_connect(
    text: &[u8],
    names: &[(&str, &str)],
    at: Option<callpulse::time::Millis>,
) -> callpulse::replay::Replayed {
    let input = callpulse::config::InputConfig {
        format: callpulse::config::InputFormat::Connect,
        queue_names: names
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..callpulse::config::InputConfig::default()
    };
    callpulse::replay::replay_input(config(""), &input, text, at).expect("replay")
}

/// The sum of every series of `family` in `window` (one queue's, when one record is replayed).
fn total(text: &str, family: &str, window: &str) -> f64 {
    let tail = format!("window=\"{window}\"}}");
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| series.ends_with(&tail))
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

/// Whether a CTR is one callpulse maps onto a queue contact: a queue of the center, an
/// enqueue, and a contact the customer started (not an outbound call).
fn queue_contact(ctr: &serde_json::Value) -> bool {
    let method = ctr["InitiationMethod"].as_str().unwrap_or_default();
    let outbound = method == "OUTBOUND" || (method == "API" && ctr["Channel"] == "VOICE");
    let queue = &ctr["Queue"];
    !outbound
        && queue["EnqueueTimestamp"].is_string()
        && !queue["ARN"]
            .as_str()
            .unwrap_or("/queue/agent/")
            .contains("/queue/agent/")
}

#[test]
fn every_contact_record_gives_the_durations_it_carries_itself_to_the_second() {
    let (mut answered, mut unanswered, mut none) = (0, 0, 0);
    for line in records(&["contact-records.jsonl", REAL_RECORDS]) {
        let ctr = json(&line);
        let id = ctr["ContactId"].as_str().unwrap().to_owned();
        let r = replay_connect(line.as_bytes(), &[], None);
        assert_eq!(r.stats.rejected_total(), 0, "{id}: {:?}", r.stats);
        let text = exposition(&r.snapshot);
        let got = |family: &str| total(&text, family, "today");
        if !queue_contact(&ctr) {
            assert_eq!(got("callcenter_contacts_offered"), 0.0, "{id}");
            none += 1;
            continue;
        }
        assert_eq!(got("callcenter_contacts_offered"), 1.0, "{id}");
        if ctr["Agent"].is_null() {
            let left = got("callcenter_contacts_abandoned")
                + got("callcenter_contacts_abandoned_short")
                + got("callcenter_contacts_overflowed");
            assert_eq!(left, 1.0, "{id}");
            unanswered += 1;
            continue;
        }
        let agent = &ctr["Agent"];
        let own = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
        for (family, carried) in [
            (
                "callcenter_talk_seconds_sum",
                own(&agent["AgentInteractionDuration"]),
            ),
            (
                "callcenter_hold_seconds_sum",
                own(&agent["CustomerHoldDuration"]),
            ),
            (
                "callcenter_wrapup_seconds_sum",
                own(&agent["AfterContactWorkDuration"]),
            ),
            (
                "callcenter_wait_seconds_sum",
                own(&ctr["Queue"]["Duration"]),
            ),
        ] {
            assert_eq!(got(family), carried, "{id}: {family}");
        }
        answered += 1;
    }
    // every kind of record was there to check
    assert!(
        answered >= 12 && unanswered >= 4 && none >= 3,
        "{answered} answered, {unanswered} unanswered, {none} of no queue"
    );
}

#[test]
fn a_transfer_ends_the_agents_conversation_when_the_agent_leaves_it() {
    // the external transfer: the customer stays with the third party 19 min after the agent left
    let line = records(&[REAL_RECORDS])
        .into_iter()
        .find(|l| json(l)["TransferredToEndpoint"].is_object())
        .expect("an external transfer");
    let text = exposition(&replay_connect(line.as_bytes(), &[], None).snapshot);
    let got = |family: &str| total(&text, family, "today");
    assert_eq!(got("callcenter_contacts_transferred"), 1.0);
    // the record says 239 s talk, 221 s hold, 5 s after-contact work
    assert_eq!(got("callcenter_talk_seconds_sum"), 239.0);
    assert_eq!(got("callcenter_hold_seconds_sum"), 221.0);
    assert_eq!(got("callcenter_wrapup_seconds_sum"), 5.0);
    assert_eq!(got("callcenter_handle_seconds_sum"), 465.0);
}

#[test]
fn an_older_record_without_disconnect_reason_of_a_contact_no_agent_reached_is_an_abandon() {
    let older: Vec<serde_json::Value> = records(&[REAL_RECORDS])
        .iter()
        .map(|l| json(l))
        .filter(|v| v.get("DisconnectReason").is_none() && v["Agent"].is_null())
        .collect();
    assert_eq!(older.len(), 2);
    for ctr in older {
        let text = exposition(&replay_connect(ctr.to_string().as_bytes(), &[], None).snapshot);
        let count = |family: &str| total(&text, family, "today");
        // moved on to a next contact (another queue) by the flow: an overflow, not an abandon
        let moved_on = !ctr["NextContactId"].is_null();
        let id = &ctr["ContactId"];
        assert_eq!(
            count("callcenter_contacts_abandoned"),
            f64::from(!moved_on),
            "{id}"
        );
        assert_eq!(
            count("callcenter_contacts_overflowed"),
            f64::from(moved_on),
            "{id}"
        );
    }
}

/// Two expositions are the same, or the first line that differs is shown.
pub fn same(got: &str, want: &str) {
    if let Some((g, w)) = got.lines().zip(want.lines()).find(|(g, w)| g != w) {
        panic!("got  {g}\nwant {w}");
    }
    assert_eq!(got.lines().count(), want.lines().count());
}

/// The CTR history sorted as Kinesis Data Firehose delivers it: each record when its contact
/// is over.
fn in_delivery_order() -> Vec<String> {
    let mut lines = records(&["contact-records.jsonl", REAL_RECORDS]);
    lines.sort_by_key(|l| json(l)["LastUpdateTimestamp"].as_str().unwrap().to_owned());
    lines
}

#[test]
fn a_ctr_history_in_delivery_order_gives_the_kpis_of_its_events_in_time_order() {
    let delivered = in_delivery_order();
    let at = at("2026-11-23T16:00:00Z");
    // the reference: the same records' events, put in time order here
    let (events, _) = adapt(&delivered);
    let sorted = sorted_by_ts(&events);
    let want = callpulse::replay::replay(config(""), sorted.join("\n").as_bytes(), Some(at))
        .expect("replay");
    assert_eq!(want.stats.rejected_total(), 0, "{:?}", want.stats);
    // what the same events in delivery order lose with the default lateness
    let late = callpulse::replay::replay(config(""), events.join("\n").as_bytes(), Some(at))
        .expect("replay");
    assert!(
        late.stats.rejected(RejectReason::TooLate) > 0,
        "{:?}",
        late.stats
    );

    let names = [
        ("5e2c8f6a-0d1b-4c3a-9e8f-00000000a001", "sales"),
        ("5e2c8f6a-0d1b-4c3a-9e8f-00000000a002", "support"),
    ];
    let got = replay_connect(delivered.join("\n").as_bytes(), &names, Some(at));
    assert_eq!(got.stats.rejected_total(), 0, "{:?}", got.stats);
    same(&exposition(&got.snapshot), &exposition(&want.snapshot));
    // no contact vanished: every queue contact of the history is offered
    let contacts = delivered.iter().filter(|l| queue_contact(&json(l))).count();
    let text = exposition(&got.snapshot);
    assert_eq!(
        total(&text, "callcenter_contacts_offered", "today"),
        contacts as f64
    );
}

#[test]
fn queues_are_labelled_by_the_names_records_give_or_a_mapping_by_id_or_arn() {
    let delivered = in_delivery_order();
    let text = exposition(&replay_connect(delivered.join("\n").as_bytes(), &[], None).snapshot);
    for name in [
        "Advanced Payroll",
        "BasicQueue",
        "Billing",
        "Claims",
        "Chat Support",
        "Back Office",
    ] {
        assert!(
            text.contains(&format!("callcenter_contacts_offered{{queue=\"{name}\"")),
            "{name}: {text}"
        );
    }
    assert!(!text.contains("queue=\"6c1f8e2d"), "{text}");
    // a mapping wins, keyed by the full ARN (what the console shows) or by the id
    let arn = "arn:aws:connect:us-east-1:111122223333:instance/4f1e7c2a-9d3b-4e8f-a1c6-2b7d5e9f0c11/queue/6c1f8e2d-3a4b-4c5d-8e9f-0a1b2c3d4e02";
    for key in [arn, "6c1f8e2d-3a4b-4c5d-8e9f-0a1b2c3d4e02"] {
        let text = exposition(
            &replay_connect(
                delivered.join("\n").as_bytes(),
                &[(key, "front-desk")],
                None,
            )
            .snapshot,
        );
        assert!(text.contains("queue=\"front-desk\""), "{key}");
        assert!(!text.contains("queue=\"BasicQueue\""), "{key}");
    }
}

#[test]
fn contact_events_of_a_history_wait_for_the_name_a_later_record_gives_their_queue() {
    // the contact events come first in the file: their queue is named by the agent records
    let history = records(&["contact-events-real.jsonl", "agent-events-real.jsonl"]);
    let r = replay_connect(history.join("\n").as_bytes(), &[], None);
    assert_eq!(r.stats.rejected_total(), 0, "{:?}", r.stats);
    let text = exposition(&r.snapshot);
    assert_eq!(
        sample(
            &text,
            "callcenter_contacts_offered{queue=\"Billing\",window=\"today\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert!(!text.contains("queue=\"6c1f8e2d"), "{text}");
}

#[test]
fn a_live_stream_never_changes_a_queue_label_once_given() {
    // contact events first: no record has named the queue yet, so it is called by its id ...
    let mut adapter = Connect::new(ConnectSettings::default());
    let mut out = Vec::new();
    for r in records(&["contact-events-real.jsonl", "agent-events-real.jsonl"]) {
        adapter.map(r.as_bytes(), &mut out).expect("mapped");
    }
    let billing = "6c1f8e2d-3a4b-4c5d-8e9f-0a1b2c3d4e04";
    let labels: BTreeSet<String> = out
        .iter()
        .flat_map(|e| {
            let v = json(e);
            let one = v.get("queue").and_then(|q| q.as_str()).map(str::to_owned);
            let listed: Vec<String> = v
                .get("queues")
                .and_then(|q| q.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|q| q.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            one.into_iter().chain(listed)
        })
        .collect();
    // ... and keeps it after the agent records named it; the chat queue was named first
    assert!(labels.contains(billing), "{labels:?}");
    assert!(!labels.contains("Billing"), "{labels:?}");
    assert!(labels.contains("Chat Support"), "{labels:?}");
}

#[test]
fn real_contact_events_map_outbound_to_nothing_completed_to_wrapup_and_placeholders_to_unset() {
    let mut adapter = Connect::new(ConnectSettings::default());
    let mut by_contact: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records(&["contact-events-real.jsonl"]) {
        let mut out = Vec::new();
        adapter.map(r.as_bytes(), &mut out).expect("mapped");
        for e in out {
            let v = json(&e);
            by_contact
                .entry(v["contact_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(v["type"].as_str().unwrap().to_owned());
        }
    }
    let c = |n: u32| format!("7b3e9a10-4c2d-4e6f-8a1b-0000000000{n}");
    assert_eq!(
        by_contact[&c(31)],
        [
            "contact.offered",
            "contact.answered",
            "contact.ended",
            "contact.wrapup_ended"
        ]
    );
    // the outbound call names its queue, and is no queue contact
    assert!(!by_contact.contains_key(&c(32)), "{by_contact:?}");
    // a 1970 placeholder is no answer: the caller gave up waiting
    assert_eq!(by_contact[&c(33)], ["contact.offered", "contact.abandoned"]);
}

#[test]
fn real_agent_records_map_login_break_offline_and_logout() {
    let (events, kinds) = adapt(&records(&["agent-events-real.jsonl"]));
    assert_eq!(
        (kinds["agent_event_login"], kinds["agent_event_logout"]),
        (1, 1)
    );
    let states: Vec<(String, Option<String>)> = events
        .iter()
        .map(|e| {
            let v = json(e);
            assert_eq!(
                v["queues"],
                serde_json::json!(["Billing", "Chat Support"]),
                "{e}"
            );
            (
                v["state"].as_str().unwrap().to_owned(),
                v["reason"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let s = |state: &str, reason: Option<&str>| (state.to_owned(), reason.map(str::to_owned));
    assert_eq!(
        states,
        [
            s("logged_out", None),
            s("available", None),
            s("available", None),
            s("not_ready", Some("Break")),
            s("logged_out", None),
            s("logged_out", None),
        ]
    );
}
