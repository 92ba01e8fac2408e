//! The `taskrouter` input end to end: TaskRouter events in all three spellings (Event Streams
//! CloudEvents, also in a webhook sink's array and with `data` as a JSON string; the
//! EventCallbackUrl form fields; the Events REST API) mapped by the adapter and run through the
//! engine give the KPIs of the same tasks written by hand in docs/events.md JSON; an event seen
//! through two routes counts once; tasks' events interleaved in any order give the same queue
//! KPIs; a malformed event is counted, never fatal; a workspace's topic consumed by the service
//! gives what `replay` gives; a late worker activity update gives the agent KPIs of time order.

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
    fixture_lines(&format!("taskrouter/{name}"))
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

/// A record with every instant in it (epoch ms, epoch seconds, RFC 3339, inside `data` given as
/// a JSON string too) moved by `delta_ms` (whole seconds).
fn shifted(record: &str, delta_ms: i64) -> String {
    use callpulse::time::{format_rfc3339, parse_rfc3339};
    const DAY: &str = "2026-11-23T";
    let mut out = String::with_capacity(record.len());
    let mut rest = record;
    let mut after_word = false;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with(DAY) {
            let end = rest.find('Z').expect("an RFC 3339 instant") + 1;
            let ms = parse_rfc3339(&rest[..end]).expect("an instant");
            out.push_str(&format_rfc3339(ms + delta_ms));
            rest = &rest[end..];
            after_word = false;
            continue;
        }
        if c.is_ascii_digit() && !after_word {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let run = &rest[..end];
            match (run.starts_with("17954"), run.len()) {
                (true, 13) => {
                    out.push_str(&(run.parse::<i64>().expect("ms") + delta_ms).to_string())
                }
                (true, 10) => {
                    out.push_str(&(run.parse::<i64>().expect("s") + delta_ms / 1000).to_string())
                }
                _ => out.push_str(run),
            }
            rest = &rest[end..];
            after_word = false;
            continue;
        }
        out.push(c);
        after_word = c.is_ascii_alphanumeric();
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The fixture's events moved so that the last happened `ago_s` seconds ago.
fn fixture_ending_ago(ago_s: i64) -> Vec<String> {
    let last_ms = 1_795_428_263_000_i64;
    let now_s = callpulse::clock::wall_now() / 1000;
    let delta_ms = (now_s - ago_s) * 1000 - last_ms;
    fixture("events.jsonl")
        .iter()
        .map(|r| shifted(r, delta_ms))
        .collect()
}

#[test]
fn moving_the_fixture_in_time_keeps_its_kpis() {
    let records = fixture("events.jsonl");
    let moved: Vec<String> = records.iter().map(|r| shifted(r, 0)).collect();
    assert_eq!(moved, records);
    let delta = 86_400_000;
    let moved: Vec<String> = records.iter().map(|r| shifted(r, delta)).collect();
    assert!(moved.iter().all(|r| !r.contains("2026-11-23T")));
    assert!(moved.iter().all(|r| !r.contains("179542")), "{moved:?}");
    let config = config(LATE);
    let read_at = |messages: &[String], end| {
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
        engine.advance(end);
        engine.snapshot()
    };
    let end = at(T0) + 10 * MINUTE;
    let (before, after) = (read_at(&records, end), read_at(&moved, end + delta));
    for q in ["Support", "Sales"] {
        assert_eq!(
            window(&after, q, "1h").tally,
            window(&before, q, "1h").tally,
            "{q}"
        );
        assert_eq!(queue(&after, q).agents, queue(&before, q).agents, "{q}");
    }
}

/// A workspace's topic consumed by the service gives what `replay --input taskrouter` gives
/// (the array counted as its events, the backfilled duplicate once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taskrouter_topic_equals_replay_of_the_same_events() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::time::Duration;

    let records = fixture_ending_ago(120);
    let cluster = MockCluster::new(1).expect("a mock cluster");
    cluster.create_topic("tr1", 1, 1).expect("a topic");
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("a producer");
    for r in &records {
        producer
            .send(
                BaseRecord::<str, str>::to("tr1")
                    .key("WS00000000000000000000000000000001")
                    .payload(r),
            )
            .map_err(|(e, _)| e)
            .expect("sent");
    }
    producer.flush(Duration::from_secs(10)).expect("flushed");
    let mut c = callpulse::config::Config::parse(LATE).expect("config");
    c.kafka.brokers = brokers;
    c.kafka.group_id = "it-taskrouter".into();
    c.kafka.topics.clear();
    c.kafka.inputs = vec![InputConfig {
        topic: "tr1".into(),
        format: InputFormat::Taskrouter,
        ..InputConfig::default()
    }];
    let cfg = std::sync::Arc::new(c);
    // the webhook sink's array is one message and two records
    let (text, live, replayed) =
        crate::support::live_beside_replay(&cfg, &records, records.len() as f64 + 1.0).await;
    assert_eq!(live, replayed);
    for (family, n) in [
        (
            "callcenter_contacts_offered{queue=\"Support\",window=\"15m\"}",
            5.0,
        ),
        (
            "callcenter_contacts_answered{queue=\"Support\",window=\"15m\"}",
            3.0,
        ),
        (
            "callcenter_contacts_offered{queue=\"Sales\",window=\"15m\"}",
            3.0,
        ),
    ] {
        assert_eq!(sample(&text, family), Some(n), "{family}\n{text}");
    }
    assert!(
        text.contains(
            "callpulse_input_records_total{format=\"taskrouter\",kind=\"task_queue_entered\"} 9"
        ),
        "{text}"
    );
}

/// A webhook (EventCallbackUrl) event of `kind` at `T0 + s` seconds, with the extra fields.
fn webhook(sid: u32, s: i64, kind: &str, extra: serde_json::Value) -> String {
    let ms = at(T0) + s * 1000;
    let mut v = serde_json::json!({
        "EventType": kind,
        "Sid": format!("EV{sid:032x}"),
        "TimestampMs": ms.to_string(),
    });
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v.to_string()
}

#[test]
fn a_late_activity_update_gives_the_agent_kpis_of_time_order() {
    use serde_json::json;
    let activity = |sid, s, name: &str| {
        webhook(
            sid,
            s,
            "worker.activity.update",
            json!({"WorkerName": "worker-a", "WorkerActivityName": name}),
        )
    };
    let task = json!({
        "TaskSid": "WT1",
        "TaskQueueName": "Support",
        "TaskChannelUniqueName": "voice",
        "TaskAttributes": "{\"call_sid\": \"CA1\"}",
    });
    let with_worker = |mut v: serde_json::Value| {
        v["WorkerName"] = "worker-a".into();
        v
    };
    let in_time_order = [
        activity(1, 0, "Available"),
        activity(2, 60, "Lunch"),
        activity(3, 300, "Available"),
        webhook(4, 400, "task-queue.entered", task.clone()),
        webhook(5, 410, "reservation.accepted", with_worker(task.clone())),
        webhook(6, 500, "task.completed", with_worker(task)),
    ];
    // Event Streams are unordered: the Lunch arrives after the Available that ended it
    let mut delivered = in_time_order.to_vec();
    delivered.swap(1, 2);
    let (expected, _) = read(&in_time_order);
    let (got, _) = read(&delivered);
    assert_eq!(
        exposition(&got.snapshot()),
        exposition(&expected.snapshot())
    );
    assert_eq!(queue(&got.snapshot(), "Support").agents, [1, 0, 0, 0]);
}
