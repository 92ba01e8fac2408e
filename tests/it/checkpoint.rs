//! Checkpoints: a partition restored from its checkpoint goes on exactly as one that never
//! stopped (engine and adapter memory alike); a checkpoint of another configuration, format
//! version or damaged is refused, never half-used; through Kafka, a restart resumes from the
//! checkpoint, so what is older than the rebuild horizon (a contact a late survey needs, the
//! cumulative counters) survives it, and a damaged checkpoint falls back to the rebuild.

use std::sync::Arc;

use callpulse::clock::wall_now;
use callpulse::config::{Config, InputConfig, InputFormat};
use callpulse::engine::Engine;
use callpulse::input::{Admit, Reader};
use callpulse::service::checkpoint::{decode, encode, fingerprint, save, LoadOutcome};
use callpulse::time::{Millis, HOUR};
use callpulse::tools::sim::platform::SimFormat;
use callpulse::tools::sim::SimConfig;

use crate::support::{exposition, simulated};

/// 2026-11-23T00:00:00Z, a Monday.
const MONDAY: Millis = 1_795_392_000_000;

fn input(format: InputFormat) -> InputConfig {
    InputConfig {
        topic: "t".into(),
        format,
        ..InputConfig::default()
    }
}

fn config() -> Arc<Config> {
    crate::support::config("[queues.sales]\nwrapup = true\nfirst_response_target = \"1m\"\n")
}

/// Reads `lines[from..]` into a partition's engine and reader the way a worker does: one
/// message at a time, the windows moved to the watermark every 50 messages.
fn feed(engine: &mut Engine, reader: &mut Reader, lines: &[String], from: usize) {
    for (i, line) in lines.iter().enumerate().skip(from) {
        reader.read(engine, line.as_bytes(), Admit::ALL, |_| {});
        if i % 50 == 49 {
            if let Some(wm) = engine.watermark() {
                engine.advance(wm);
            }
        }
    }
}

/// Everything a scrape and the self-metrics show of a partition at `end`.
fn outcome(mut engine: Engine, mut reader: Reader, end: Millis) -> String {
    reader.flush(&mut engine, end, Admit::ALL, |_| {});
    engine.advance(end);
    format!(
        "{}\n{:?}\n{:?}\nopen {} facts {}",
        exposition(&engine.snapshot()),
        engine.stats(),
        reader.kinds(),
        engine.open_contacts(),
        engine.facts_held()
    )
}

fn a_partition_restored_mid_stream_goes_on_like_one_that_never_stopped(format: SimFormat) {
    let sim = SimConfig {
        queues: 3,
        agents: 40,
        rate: 1.5,
        start_ms: MONDAY + 8 * HOUR,
        flat: true,
        ..SimConfig::default()
    };
    let end = MONDAY + 11 * HOUR;
    let lines = simulated(&sim, end, format);
    assert!(lines.len() > 3000, "{} lines", lines.len());
    let cfg = config();
    let input = input(format.input());
    let fp = fingerprint(&cfg, &input);

    let mut engine = Engine::new(cfg.center.clone());
    let mut reader = Reader::new(&input);
    feed(&mut engine, &mut reader, &lines, 0);
    let never_stopped = outcome(engine, reader, end);

    for split in [lines.len() / 7, lines.len() / 2, lines.len() * 6 / 7] {
        let mut engine = Engine::new(cfg.center.clone());
        let mut reader = Reader::new(&input);
        feed(&mut engine, &mut reader, &lines[..split], 0);
        let bytes = encode(&save(&engine, &reader, split as i64).unwrap(), fp).unwrap();
        drop((engine, reader));
        let resumed = decode(&bytes, &cfg, &input).unwrap();
        assert_eq!(resumed.next_offset, split as i64);
        let (mut engine, mut reader) = (resumed.engine, resumed.reader);
        feed(&mut engine, &mut reader, &lines, split);
        let restored = outcome(engine, reader, end);
        assert!(
            restored == never_stopped,
            "{format:?}: restored at message {split} of {} differs",
            lines.len()
        );
    }
}

#[test]
fn a_restored_engine_goes_on_exactly_like_one_that_never_stopped() {
    a_partition_restored_mid_stream_goes_on_like_one_that_never_stopped(SimFormat::Callpulse);
}

#[test]
fn a_restored_asterisk_reader_keeps_what_it_held_back() {
    // the adapter holds the records of the current second, agents' queue lists and wrap-ups
    a_partition_restored_mid_stream_goes_on_like_one_that_never_stopped(SimFormat::Asterisk);
}

#[test]
fn a_checkpoint_of_another_configuration_or_version_or_damaged_is_refused() {
    let cfg = config();
    let json = input(InputFormat::Callpulse);
    let sim = SimConfig {
        queues: 2,
        agents: 10,
        start_ms: MONDAY + 9 * HOUR,
        flat: true,
        ..SimConfig::default()
    };
    let lines = simulated(&sim, MONDAY + 10 * HOUR, SimFormat::Callpulse);
    let mut engine = Engine::new(cfg.center.clone());
    let mut reader = Reader::new(&json);
    feed(&mut engine, &mut reader, &lines, 0);
    let bytes = encode(
        &save(&engine, &reader, 7).unwrap(),
        fingerprint(&cfg, &json),
    )
    .unwrap();
    assert!(decode(&bytes, &cfg, &json).is_ok());

    let outcome =
        |bytes: &[u8], cfg: &Arc<Config>, input: &InputConfig| match decode(bytes, cfg, input) {
            Ok(_) => None,
            Err(e) => Some(e.outcome()),
        };
    // another SL threshold: windows hold facts decided under the old one
    let other = Arc::new(
        Config::parse(
            "[queues.sales]\nwrapup = true\nfirst_response_target = \"1m\"\nsl_threshold = \"30s\"\n",
        )
        .unwrap(),
    );
    assert_eq!(
        outcome(&bytes, &other, &json),
        Some(LoadOutcome::Incompatible)
    );
    // the same topic now read as another format
    assert_eq!(
        outcome(&bytes, &cfg, &input(InputFormat::Asterisk)),
        Some(LoadOutcome::Incompatible)
    );
    let mut version = bytes.clone();
    version[4] = version[4].wrapping_add(1);
    assert_eq!(
        outcome(&version, &cfg, &json),
        Some(LoadOutcome::Incompatible)
    );
    assert_eq!(
        outcome(&bytes[..bytes.len() / 2], &cfg, &json),
        Some(LoadOutcome::Unreadable)
    );
    assert_eq!(
        outcome(b"not a checkpoint at all", &cfg, &json),
        Some(LoadOutcome::Unreadable)
    );
    // the rest of the configuration (brokers, HTTP, alerts) does not matter
    let mut moved = (*cfg).clone();
    moved.kafka.brokers = "elsewhere:9092".into();
    moved.http.listen = "0.0.0.0:1".into();
    assert_eq!(outcome(&bytes, &Arc::new(moved), &json), None);
}

#[test]
fn a_restored_engine_recognizes_the_customers_it_saw() {
    // customer ids are held as hashes keyed per engine: the key must survive the checkpoint,
    // or a caller who rang before the restart would not be a repeat after it
    let cfg = config();
    let json = input(InputFormat::Callpulse);
    let t = wall_now() - HOUR;
    let offer = |c: &str, at: Millis| {
        crate::support::of(
            c,
            at,
            "contact.offered",
            serde_json::json!({"queue": "sales", "customer": "cust-1"}),
        )
    };
    let mut engine = Engine::new(cfg.center.clone());
    let mut reader = Reader::new(&json);
    reader.read(&mut engine, offer("c1", t).as_bytes(), Admit::ALL, |_| {});
    let bytes = encode(
        &save(&engine, &reader, 1).unwrap(),
        fingerprint(&cfg, &json),
    )
    .unwrap();
    let mut restored = decode(&bytes, &cfg, &json).unwrap();
    let later = offer("c2", t + 60_000);
    restored
        .reader
        .read(&mut restored.engine, later.as_bytes(), Admit::ALL, |_| {});
    restored.engine.advance(t + 120_000);
    let text = exposition(&restored.engine.snapshot());
    let repeats = crate::support::sample(
        &text,
        "callcenter_contacts_repeat{queue=\"sales\",window=\"1h\"}",
    );
    assert_eq!(repeats, Some(1.0), "{text}");
}
