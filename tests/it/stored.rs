//! Files as platforms store them, in every input format: JSON lines, objects back to back with
//! no separator (Kinesis Data Firehose), pretty-printed objects and gzip give the KPIs of the
//! same records one per line, in `replay` and `convert`; a malformed part is counted by its
//! reason and never stops the rest; a Kafka message of several records is read as several.

use std::io::Write;
use std::sync::Arc;

use callpulse::config::{Config, InputConfig, InputFormat};
use callpulse::engine::Engine;
use callpulse::event::{Limits, RejectReason};
use callpulse::input::{Admit, Ingested, Reader};
use callpulse::replay::replay_input;
use chrono_tz::Tz;

use crate::connect::same;
use crate::support::*;

const LATE: &str = "[engine]\nallowed_lateness = \"15m\"\n";

fn fixture(path: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

/// The same JSON records as each storage form writes them.
fn forms(records: &[String]) -> Vec<(&'static str, Vec<u8>)> {
    let values: Vec<serde_json::Value> = records
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let back_to_back: String = values.iter().map(|v| v.to_string()).collect();
    let pretty: Vec<String> = values
        .iter()
        .map(|v| serde_json::to_string_pretty(v).unwrap())
        .collect();
    let pretty = pretty.join("\n");
    vec![
        ("back to back", back_to_back.clone().into_bytes()),
        ("pretty-printed", pretty.clone().into_bytes()),
        ("gzip, back to back", gzip(back_to_back.as_bytes())),
        ("gzip, pretty-printed", gzip(pretty.as_bytes())),
        ("gzip, lines, CRLF", gzip(records.join("\r\n").as_bytes())),
    ]
}

fn input(format: InputFormat, timezone: Tz) -> InputConfig {
    InputConfig {
        format,
        timezone,
        ..InputConfig::default()
    }
}

#[test]
fn every_format_reads_back_to_back_pretty_printed_and_gzip_files_like_json_lines() {
    let cfg = config(LATE);
    let at = at("2026-11-23T16:30:00Z");
    let cases = [
        (
            input(InputFormat::Callpulse, Tz::UTC),
            fixture("connect/calls.events.jsonl"),
        ),
        (
            input(InputFormat::Connect, Tz::UTC),
            [
                fixture("connect/agent-events-real.jsonl"),
                fixture("connect/contact-records-real.jsonl"),
            ]
            .concat(),
        ),
        (
            input(InputFormat::Asterisk, Tz::Europe__Berlin),
            fixture("asterisk/calls.realtime.jsonl"),
        ),
    ];
    for (input, records) in cases {
        let replay = |bytes: &[u8]| replay_input(cfg.clone(), &input, bytes, Some(at)).unwrap();
        let lines = replay(records.join("\n").as_bytes());
        assert_eq!(lines.stats.rejected(RejectReason::MalformedJson), 0);
        assert!(lines.stats.accepted > 10, "{:?}", input.format);
        let want = exposition(&lines.snapshot);
        for (form, bytes) in forms(&records) {
            let got = replay(&bytes);
            assert_eq!(got.lines, lines.lines, "{:?} {form}", input.format);
            assert_eq!(
                got.stats.rejected_total(),
                lines.stats.rejected_total(),
                "{:?} {form}",
                input.format
            );
            same(&exposition(&got.snapshot), &want);
        }
    }
    // Asterisk's own file spelling stays line by line, gzip or not
    let input = input(InputFormat::Asterisk, Tz::UTC);
    let log = fixture("asterisk/calls.log").join("\n");
    let plain = replay_input(cfg.clone(), &input, log.as_bytes(), Some(at)).unwrap();
    let zipped = replay_input(cfg.clone(), &input, &gzip(log.as_bytes())[..], Some(at)).unwrap();
    assert!(plain.stats.accepted > 10);
    assert_eq!(zipped.stats, plain.stats);
    same(&exposition(&zipped.snapshot), &exposition(&plain.snapshot));
}

#[test]
fn a_malformed_part_of_a_firehose_object_is_counted_and_the_rest_is_read() {
    let cfg = config(LATE);
    let records = fixture("connect/contact-records-real.jsonl");
    let input = input(InputFormat::Connect, Tz::UTC);
    let whole: String = records.concat();
    let want = replay_input(cfg.clone(), &input, whole.as_bytes(), None).unwrap();
    // a record cut short in the middle of the object, and garbage on a line of its own
    let (cut, rest) = records.split_at(3);
    let mut broken: String = cut.concat();
    broken += &rest[0][..rest[0].len() / 2];
    broken += "\n";
    broken += &rest[0];
    broken += "\nnot json at all\n";
    broken += &rest[1..].concat();
    let got = replay_input(cfg.clone(), &input, &gzip(broken.as_bytes())[..], None).unwrap();
    assert_eq!(
        got.stats.rejected(RejectReason::MalformedJson),
        2,
        "{:?}",
        got.stats
    );
    assert_eq!(got.stats.rejected_total(), 2, "{:?}", got.stats);
    // every whole record still counted: the same KPIs as the object without the broken part
    // (the half record came again in full after it)
    same(&exposition(&got.snapshot), &exposition(&want.snapshot));
}

#[test]
fn convert_reads_a_gzipped_firehose_object_in_time_order() {
    let dir = std::env::temp_dir().join(format!("callpulse-stored-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let records = fixture("connect/contact-records-real.jsonl");
    let object = dir.join("firehose-object");
    let mut bytes = records.concat().into_bytes();
    bytes.extend_from_slice(b"{\"ContactId\":");
    std::fs::write(&object, gzip(&bytes)).unwrap();
    let out = succeed(
        callpulse()
            .args(["convert", "--input", "connect"])
            .arg(&object),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("malformed_json"), "{stderr}");
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    // the same events as the records one by one, in time order
    let mut reader = Reader::new(&input(InputFormat::Connect, Tz::UTC));
    let mut one_by_one = Vec::new();
    for r in &records {
        reader.convert(r.as_bytes(), &Limits::default(), &mut one_by_one, |e| {
            panic!("{e}")
        });
    }
    assert_eq!(lines, sorted_by_ts(&one_by_one));
    assert!(lines.len() > 40, "{}", lines.len());
}

/// What each message read by a live reader came to: (applied, malformed) per message.
fn read_all(format: InputFormat, messages: &[Vec<u8>]) -> (Engine, Vec<(usize, usize)>) {
    let cfg: Arc<Config> = config(LATE);
    let mut engine = Engine::new(cfg.center.clone());
    let mut reader = Reader::new(&input(format, Tz::UTC));
    let outcomes = messages
        .iter()
        .map(|m| {
            let (mut applied, mut rejected) = (0, 0);
            reader.read(&mut engine, m, Admit::ALL, |o| match o {
                Ingested::Applied { .. } => applied += 1,
                Ingested::Rejected(r) if r.reason == RejectReason::MalformedJson => rejected += 1,
                _ => {}
            });
            (applied, rejected)
        })
        .collect();
    (engine, outcomes)
}

#[test]
fn a_kafka_message_of_several_records_back_to_back_is_read_as_several() {
    let at = at("2026-11-23T16:30:00Z");
    for (format, records) in [
        (
            InputFormat::Connect,
            fixture("connect/contact-records-real.jsonl"),
        ),
        (
            InputFormat::Callpulse,
            fixture("connect/calls.events.jsonl"),
        ),
    ] {
        let singles: Vec<Vec<u8>> = records.iter().map(|r| r.clone().into_bytes()).collect();
        let (mut one_each, single_outcomes) = read_all(format, &singles);
        // three records a message, and a record cut short at the end of the last one
        let mut grouped: Vec<Vec<u8>> =
            records.chunks(3).map(|c| c.concat().into_bytes()).collect();
        if let Some(last) = grouped.last_mut() {
            last.extend_from_slice(b"{\"half\":");
        }
        let (mut grouped_engine, outcomes) = read_all(format, &grouped);
        assert_eq!(outcomes.last().unwrap().1, 1, "{format:?}: the cut record");
        let applied = |o: &[(usize, usize)]| o.iter().map(|o| o.0).sum::<usize>();
        assert_eq!(applied(&outcomes), applied(&single_outcomes), "{format:?}");
        assert!(applied(&outcomes) > 20, "{format:?}: {outcomes:?}");
        one_each.advance(at);
        grouped_engine.advance(at);
        same(
            &exposition(&grouped_engine.snapshot()),
            &exposition(&one_each.snapshot()),
        );
        let (grouped, single) = (grouped_engine.stats(), one_each.stats());
        assert_eq!(
            grouped.rejected(RejectReason::MalformedJson),
            1,
            "{format:?}"
        );
        assert_eq!(
            grouped.rejected_total(),
            single.rejected_total() + 1,
            "{format:?}: {grouped:?}"
        );
    }
}
