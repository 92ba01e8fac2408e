//! The `freeswitch` input end to end: mod_callcenter events (after the headers its source
//! writes) mapped by the adapter and run through the engine give the KPIs of the same calls
//! written by hand in docs/events.md JSON; contact KPIs do not depend on the order events arrive in;
//! events of tens of KB of channel variables are read; a malformed event is counted, never fatal;
//! a late status change gives the agent KPIs of time order; a host's topic consumed by the
//! service gives what `replay` gives.

use std::collections::BTreeMap;

use callpulse::config::{InputConfig, InputFormat};
use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::input::freeswitch::{Freeswitch, FreeswitchSettings};
use callpulse::input::{Admit, Ingested, Reader};
use callpulse::time::{Millis, MINUTE};

use crate::support::*;

const LATE: &str = "[engine]\nallowed_lateness = \"10m\"\n";
const T0: &str = "2026-11-23T10:00:00Z";
const SUPPORT: &str = "support@cc.example.com";
const SALES: &str = "sales@cc.example.com";

fn fixture(name: &str) -> Vec<String> {
    fixture_lines(&format!("freeswitch/{name}"))
}

/// The fixture's settings: agent 1001 has mod_callcenter's `wrap-up-time` of 30 seconds.
fn settings() -> FreeswitchSettings {
    FreeswitchSettings {
        agent_wrapup_seconds: [("1001@cc.example.com".to_owned(), 30)].into(),
        ..FreeswitchSettings::default()
    }
}

/// Maps records with a fresh adapter (flushing at the end); the events and the records by kind.
fn adapt(records: &[String]) -> (Vec<String>, BTreeMap<&'static str, usize>) {
    let mut adapter = Freeswitch::new(settings());
    let (mut out, kinds) = map_all(&mut adapter, records);
    adapter.flush(Millis::MAX, &mut out);
    (out, kinds)
}

fn evaluate(events: &[String]) -> (String, Engine) {
    let engine = run(&config(LATE), events, at(T0) + 10 * MINUTE);
    (exposition(&engine.snapshot()), engine)
}

#[test]
fn mapped_callcenter_events_give_the_kpis_of_the_same_calls_written_by_hand() {
    let records = fixture("calls.jsonl");
    let (mapped, kinds) = adapt(&records);
    let (by_hand, _) = evaluate(&fixture("calls.events.jsonl"));
    let (from_events, engine) = evaluate(&mapped);
    assert_eq!(from_events, by_hand);
    assert_eq!(engine.stats().rejected_total(), 0, "{:?}", engine.stats());

    let snap = engine.snapshot();
    let t = &window(&snap, SUPPORT, "1h").tally;
    // A answered, B abandoned, B's resumed call answered, F answered and transferred on, G
    // moved out by the dialplan
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
    let t = &window(&snap, SALES, "1h").tally;
    // C timed out, D no agents, E left by key, F answered after its transfer
    assert_eq!((t.offered, t.answered, t.overflowed), (4, 1, 3));
    // available, not_ready, busy, wrapup: 1001 back from its break; 1003 logged out; 1002
    // (on demand) set Waiting after its Idle
    assert_eq!(queue(&snap, SUPPORT).agents, [1, 0, 0, 0]);
    assert_eq!(queue(&snap, SALES).agents, [1, 0, 0, 0]);

    assert_eq!(kinds.values().sum::<usize>(), records.len());
    for (kind, n) in [
        ("member_queue_start", 8),
        ("member_queue_resume", 1),
        ("member_queue_end", 9),
        ("bridge_agent_start", 4),
        ("bridge_agent_fail", 1),
        ("agent_status_change", 6),
        ("agent_state_change", 2),
        ("administrative", 1),
        ("other_event", 1),
    ] {
        assert_eq!(kinds.get(kind), Some(&n), "{kind}");
    }
}

#[test]
fn a_transfer_is_found_whichever_of_its_two_events_arrives_first() {
    let records = fixture("calls.jsonl");
    let (events, _) = adapt(&records);
    let transferred = |events: &[String]| {
        events
            .iter()
            .filter(|e| e.contains("contact.transferred") && e.contains(SALES))
            .count()
    };
    assert_eq!(transferred(&events), 1);
    // the old queue's end before the new queue's entry
    let entry = records
        .iter()
        .position(|r| {
            r.contains("member-queue-start")
                && r.contains(&format!("\"CC-Queue\":\"{SALES}\""))
                && r.contains("5e550007")
        })
        .expect("F's entry into sales");
    let mut swapped = records.clone();
    swapped.swap(entry, entry + 1);
    assert!(swapped[entry].contains("Terminated"));
    let (events, _) = adapt(&swapped);
    assert_eq!(transferred(&events), 1);
}

/// A small deterministic generator for the shuffles.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn shuffled_events_give_the_same_queue_kpis() {
    let records = fixture("calls.jsonl");
    let (events, _) = adapt(&records);
    let (_, engine) = evaluate(&events);
    let expected = engine.snapshot();
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..50 {
        let mut order = records.clone();
        for i in (1..order.len()).rev() {
            order.swap(i, r.below(i + 1));
        }
        let (events, _) = adapt(&order);
        let (_, engine) = evaluate(&events);
        let got = engine.snapshot();
        for q in [SUPPORT, SALES] {
            for label in ["5m", "15m", "1h"] {
                assert_eq!(
                    window(&got, q, label).tally,
                    window(&expected, q, label).tally,
                    "{q} {label}"
                );
            }
        }
    }
}

#[test]
fn events_with_tens_of_kb_of_channel_variables_are_read_and_bad_ones_counted() {
    let records = fixture("calls.jsonl");
    let input = InputConfig {
        format: InputFormat::Freeswitch,
        ..InputConfig::default()
    };
    let mut engine = Engine::new(config(LATE).center.clone());
    let mut reader = Reader::new(&input);
    // the first caller's entry with 200 KB of channel variables (the engine's limit is 64 KiB)
    let mut big: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&records[3]).expect("JSON");
    assert_eq!(big["CC-Action"], "member-queue-start");
    for i in 0..2_000 {
        big.insert(format!("variable_x_{i}"), "v".repeat(100).into());
    }
    let big = serde_json::Value::Object(big).to_string();
    assert!(big.len() > 200_000);
    let mut outcomes = Vec::new();
    for msg in [
        big.as_str(),
        "{not json",
        r#"{"Event-Name":"CUSTOM","Event-Subclass":"callcenter::info","CC-Action":"member-queue-start","Event-Date-Timestamp":"soon"}"#,
        r#"{"Event-Name":"CUSTOM","Event-Subclass":"callcenter::info","CC-Action":"member-queue-start","Event-Date-Timestamp":"1795428010000000"}"#,
    ] {
        reader.read(&mut engine, msg.as_bytes(), Admit::ALL, |o| {
            outcomes.push(o)
        });
    }
    assert!(
        matches!(outcomes[0], Ingested::Applied { .. }),
        "{outcomes:?}"
    );
    let reasons: Vec<RejectReason> = outcomes[1..]
        .iter()
        .filter_map(|o| match o {
            Ingested::Rejected(r) => Some(r.reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            RejectReason::MalformedJson,
            RejectReason::BadTimestamp,
            RejectReason::MissingField
        ]
    );
    engine.advance(at(T0) + MINUTE);
    assert_eq!(window(&engine.snapshot(), SUPPORT, "1h").tally.offered, 1);
    // past the adapter's limit an event is too large
    let huge = format!(
        r#"{{"Event-Name":"CUSTOM","variable_x":"{}"}}"#,
        "v".repeat(1 << 20)
    );
    let mut last = None;
    reader.read(&mut engine, huge.as_bytes(), Admit::ALL, |o| last = Some(o));
    assert!(
        matches!(&last, Some(Ingested::Rejected(r)) if r.reason == RejectReason::TooLarge),
        "{last:?}"
    );
    assert_eq!(reader.kinds()["member_queue_start"], 1);
}

/// The fixture's events moved so that they happened between about 7 and 2 minutes ago.
fn fixture_ending_ago(ago_s: i64) -> Vec<String> {
    let first_us = 1_795_428_000_000_000_i64;
    let start_us = (callpulse::clock::wall_now() / 1000 - 302 - ago_s) * 1_000_000;
    fixture("calls.jsonl")
        .into_iter()
        .map(|r| {
            let mut v: serde_json::Value = serde_json::from_str(&r).expect("JSON");
            let us: i64 = v["Event-Date-Timestamp"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("a timestamp");
            v["Event-Date-Timestamp"] = (us - first_us + start_us).to_string().into();
            v.to_string()
        })
        .collect()
}

/// A FreeSWITCH host's topic consumed by the service gives what `replay --input freeswitch`
/// gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeswitch_topic_equals_replay_of_the_same_events() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::time::Duration;

    let records = fixture_ending_ago(120);
    let cluster = MockCluster::new(1).expect("a mock cluster");
    cluster.create_topic("fs1", 1, 1).expect("a topic");
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("message.max.bytes", "2000000")
        .create()
        .expect("a producer");
    for r in &records {
        producer
            .send(BaseRecord::<str, str>::to("fs1").key("fs1").payload(r))
            .map_err(|(e, _)| e)
            .expect("sent");
    }
    producer.flush(Duration::from_secs(10)).expect("flushed");
    let mut c =
        callpulse::config::Config::parse("[engine]\nallowed_lateness = \"10m\"\n").expect("config");
    c.kafka.brokers = brokers;
    c.kafka.group_id = "it-freeswitch".into();
    c.kafka.topics.clear();
    c.kafka.inputs = vec![InputConfig {
        topic: "fs1".into(),
        format: InputFormat::Freeswitch,
        agent_wrapup_seconds: [("1001@cc.example.com".to_owned(), 30)].into(),
        ..InputConfig::default()
    }];
    let cfg = std::sync::Arc::new(c);
    let (text, live, replayed) =
        crate::support::live_beside_replay(&cfg, &records, records.len() as f64).await;
    assert_eq!(live, replayed);
    assert!(
        sample(
            &text,
            &format!("callcenter_contacts_answered{{queue=\"{SUPPORT}\",window=\"15m\"}}")
        )
        .is_some_and(|n| n > 0.0),
        "{text}"
    );
    assert!(
        text.contains(
            "callpulse_input_records_total{format=\"freeswitch\",kind=\"member_queue_start\"} 8"
        ),
        "{text}"
    );
}

#[test]
fn a_late_status_change_gives_the_agent_kpis_of_time_order() {
    let records = fixture("calls.jsonl");
    let (in_order, _) = adapt(&records);
    let (expected, _) = evaluate(&in_order);
    // agent 1001's break (after its call's wrap-up) delivered after the Available that ended it,
    // as a producer sending agent events unkeyed can
    let (on_break, back) = (25, 30);
    assert!(records[on_break].contains("\"CC-Agent-Status\":\"On Break\""));
    assert!(records[back].contains("\"CC-Agent-Status\":\"Available\""));
    let mut delivered = records.clone();
    delivered.swap(on_break, back);
    let (late, _) = adapt(&delivered);
    let (got, engine) = evaluate(&late);
    assert_eq!(got, expected);
    assert_eq!(engine.stats().rejected_total(), 0, "{:?}", engine.stats());
}
