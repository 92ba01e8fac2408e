//! The `taskrouter` input end to end: TaskRouter events in all three spellings (Event Streams
//! CloudEvents, also in a webhook sink's array and with `data` as a JSON string; the
//! EventCallbackUrl form fields; the Events REST API) mapped by the adapter and run through the
//! engine give the KPIs of the same tasks written by hand in events.md JSON; an event seen
//! through two routes counts once; tasks' events interleaved in any order give the same queue
//! KPIs; a malformed event is counted, never fatal.

use std::collections::BTreeMap;

use callpulse::config::{InputConfig, InputFormat};
use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::input::taskrouter::{Taskrouter, TaskrouterSettings, KINDS};
use callpulse::input::{Admit, Ingested, Reader};
use callpulse::time::MINUTE;

use crate::support::*;

const LATE: &str = "[engine]\nallowed_lateness = \"10m\"\n";
const T0: &str = "2026-11-23T10:00:00Z";

fn fixture(name: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/taskrouter/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Reads messages with a fresh reader of the `taskrouter` format into a fresh engine; the
/// engine and the records counted by kind.
fn read(messages: &[String]) -> (Engine, BTreeMap<&'static str, u64>) {
    let config = config(LATE);
    let mut engine = Engine::new(config.center.clone());
    let mut reader = Reader::history(
        &InputConfig {
            format: InputFormat::Taskrouter,
            ..InputConfig::default()
        },
        config.center.engine.allowed_lateness.millis(),
    );
    for m in messages {
        reader.read(&mut engine, m.as_bytes(), Admit::ALL, |_| {});
    }
    engine.advance(at(T0) + 10 * MINUTE);
    (engine, reader.kinds().clone())
}

#[test]
fn mapped_taskrouter_events_give_the_kpis_of_the_same_tasks_written_by_hand() {
    let records = fixture("events.jsonl");
    let (engine, kinds) = read(&records);
    let by_hand = run(
        &config(LATE),
        &fixture("events.events.jsonl"),
        at(T0) + 10 * MINUTE,
    );
    assert_eq!(
        exposition(&engine.snapshot()),
        exposition(&by_hand.snapshot())
    );
    // the entry seen live and again from the REST backfill is one offer: the second is a
    // duplicate of the same EV sid; nothing else is rejected
    assert_eq!(engine.stats().rejected(RejectReason::Duplicate), 1);
    assert_eq!(engine.stats().rejected_total(), 1, "{:?}", engine.stats());

    let snap = engine.snapshot();
    let t = &window(&snap, "Support", "1h").tally;
    // T1 answered, T2 abandoned (hangup), T3 after its Sales timeout answered, T5 answered and
    // transferred, T7 skipped by the workflow
    assert_eq!(
        (
            t.offered,
            t.answered,
            t.abandoned,
            t.overflowed,
            t.transferred
        ),
        (5, 3, 1, 1, 1)
    );
    let t = &window(&snap, "Sales", "1h").tally;
    // T3 timed out, T4 canceled for another reason than hangup, T5's transfer answered
    assert_eq!((t.offered, t.answered, t.overflowed), (3, 1, 2));
    // worker-a available in both; worker-b available; worker-c logged out
    assert_eq!(queue(&snap, "Support").agents, [2, 0, 0, 0]);
    assert_eq!(queue(&snap, "Sales").agents, [1, 0, 0, 0]);

    // the array counts as its two events
    assert_eq!(kinds.values().sum::<u64>(), records.len() as u64 + 1);
    for (kind, n) in [
        ("task_queue_entered", 9),
        ("reservation_accepted", 4),
        ("reservation_wrapup", 4),
        ("task_wrapup", 1),
        ("task_completed", 2),
        ("worker_activity_update", 6),
        ("workflow_skipped", 1),
        ("other_event", 1),
    ] {
        assert_eq!(kinds.get(kind), Some(&n), "{kind}");
    }
    assert!(kinds.keys().all(|k| KINDS.contains(k)));
}

#[test]
fn the_same_event_through_two_routes_counts_once_and_the_rest_backfill_alone_gives_it() {
    let records = fixture("events.jsonl");
    let backfilled = records.last().expect("the backfilled entry").clone();
    assert!(backfilled.contains("\"event_type\":\"task-queue.entered\""));
    let live = records
        .iter()
        .find(|r| r.contains("com.twilio.taskrouter.task-queue.entered"))
        .expect("the live entry")
        .clone();
    let mut adapter = Taskrouter::new(TaskrouterSettings::default());
    let (mut from_live, mut from_rest) = (Vec::new(), Vec::new());
    adapter.map(live.as_bytes(), &mut from_live).expect("live");
    adapter
        .map(backfilled.as_bytes(), &mut from_rest)
        .expect("backfill");
    assert_eq!(from_live, from_rest);
    assert_eq!(from_live.len(), 1);
}

/// A small deterministic generator for the interleavings.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The task (or else the worker) a record is about: the stream of events one order matters in.
fn stream_of(record: &str) -> String {
    for key in ["WT", "worker-"] {
        if let Some(i) = record.find(key) {
            return record[i..].chars().take(34).collect();
        }
    }
    String::new()
}

#[test]
fn tasks_interleaved_in_any_order_give_the_same_queue_kpis() {
    let records = fixture("events.jsonl");
    let (engine, _) = read(&records);
    let expected = engine.snapshot();
    let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &records {
        streams.entry(stream_of(r)).or_default().push(r.clone());
    }
    assert!(streams.len() >= 8);
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..50 {
        let mut queues: Vec<std::collections::VecDeque<String>> = streams
            .values()
            .map(|s| s.iter().cloned().collect())
            .collect();
        let mut order = Vec::new();
        while !queues.is_empty() {
            let i = r.below(queues.len());
            if let Some(next) = queues[i].pop_front() {
                order.push(next);
            }
            if queues[i].is_empty() {
                queues.swap_remove(i);
            }
        }
        let (engine, _) = read(&order);
        let got = engine.snapshot();
        for q in ["Support", "Sales"] {
            assert_eq!(
                window(&got, q, "1h").tally,
                window(&expected, q, "1h").tally,
                "{q}"
            );
        }
    }
}

#[test]
fn malformed_events_are_rejected_with_their_reason() {
    let mut engine = Engine::new(config(LATE).center.clone());
    let mut reader = Reader::new(&InputConfig {
        format: InputFormat::Taskrouter,
        ..InputConfig::default()
    });
    let mut reasons = Vec::new();
    for msg in [
        "{oops",
        r#"{"specversion":"1.0"}"#,
        r#"{"type":"com.twilio.taskrouter.task-queue.entered","data":"{not json"}"#,
        r#"{"EventType":"task-queue.entered","TaskSid":"WT1","TaskQueueName":"Support","Timestamp":"later"}"#,
        r#"{"EventType":"task-queue.entered","TaskSid":"WT1","TimestampMs":"1795428010000"}"#,
        r#"{"type":"com.twilio.voice.status-callback.call.ringing","data":{}}"#,
    ] {
        reader.read(&mut engine, msg.as_bytes(), Admit::ALL, |o| {
            if let Ingested::Rejected(r) = o {
                reasons.push(r.reason)
            }
        });
    }
    assert_eq!(
        reasons,
        [
            RejectReason::MalformedJson,
            RejectReason::MissingField,
            RejectReason::InvalidValue,
            RejectReason::BadTimestamp,
            RejectReason::MissingField,
        ]
    );
    assert_eq!(reader.kinds()["other_product"], 1);
}
