//! Fuzzing the decoders and the engine: valid simulated messages mutated the ways a broken or
//! hostile producer would (fields removed, retyped, duplicated, truncated, oversized,
//! reordered, huge numbers, invalid UTF-8, deep nesting) and raw bytes, through every input
//! format. No panic; every message has exactly one outcome (applied or rejected under one
//! reason); and the rejected messages change no KPI: the run equals a run of only the
//! messages that were applied.
//!
//! `CALLPULSE_FUZZ_MESSAGES=10000000 cargo test --release --test it fuzz -- --nocapture` for a
//! long run (the default is 20,000 mutated messages per format).

use callpulse::config::{InputConfig, InputFormat};
use callpulse::engine::Engine;
use callpulse::input::{Admit, Ingested, Reader};
use callpulse::time::HOUR;
use callpulse::tools::sim::{SimConfig, SimEvent, Simulator};
use serde_json::Value;

use crate::support::*;

/// 2026-11-23T09:00:00Z.
const START: i64 = 1_795_424_400_000;

/// A deterministic xorshift, so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn messages() -> Vec<String> {
    let mut c = SimConfig {
        rate: 0.5,
        seed: 9,
        start_ms: START,
        ..SimConfig::default()
    };
    c.agents = c.recommended_agents();
    let mut out: Vec<SimEvent> = Vec::new();
    Simulator::new(c).advance(START + HOUR, &mut out);
    out.into_iter().map(|e| e.json).collect()
}

/// A JSON value of another type than `v`.
fn retyped(v: &Value, r: &mut Rng) -> Value {
    let options = [
        Value::Null,
        Value::Bool(true),
        serde_json::json!(1e308),
        serde_json::json!(u64::MAX),
        serde_json::json!(-9_223_372_036_854_775_808_i64),
        serde_json::json!(2.5),
        serde_json::json!(""),
        serde_json::json!("x".repeat(200)),
        serde_json::json!([v.clone()]),
        serde_json::json!({ "v": v.clone() }),
    ];
    options[r.below(options.len())].clone()
}

/// One mutation of a valid message (as bytes: some are not UTF-8).
fn mutate(msg: &str, r: &mut Rng) -> Vec<u8> {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(msg) else {
        return msg.as_bytes().to_vec();
    };
    // half the mutants lose their id, so they are judged on their content and not only
    // recognised as duplicates of the message they came from
    if r.below(2) == 0 {
        obj.remove("id");
    }
    let keys: Vec<String> = obj.keys().cloned().collect();
    if keys.is_empty() {
        return b"{}".to_vec();
    }
    let key = keys[r.below(keys.len())].clone();
    match r.below(10) {
        0 => {
            obj.remove(&key);
        }
        1 => {
            let v = obj[&key].clone();
            obj.insert(key, retyped(&v, r));
        }
        2 => {
            // the same key twice, the second with another value
            let text = Value::Object(obj).to_string();
            let dup = format!(",\"{key}\":{}}}", retyped(&Value::Null, r));
            return format!("{}{dup}", &text[..text.len() - 1]).into_bytes();
        }
        3 => {
            let text = msg.as_bytes();
            return text[..r.below(text.len())].to_vec();
        }
        4 => {
            obj.insert(key, Value::String("y".repeat(70_000)));
        }
        5 => {
            // reordered fields: still the same message
            let mut pairs: Vec<(String, Value)> = obj.into_iter().collect();
            pairs.reverse();
            return Value::Object(pairs.into_iter().collect())
                .to_string()
                .into_bytes();
        }
        6 => {
            let mut bytes = msg.as_bytes().to_vec();
            let at = r.below(bytes.len());
            bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
            return bytes;
        }
        7 => {
            let depth = 1 + r.below(5_000);
            let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let text = Value::Object(obj).to_string();
            return format!("{},\"deep\":{nested}}}", &text[..text.len() - 1]).into_bytes();
        }
        8 => {
            // raw bytes
            let n = r.below(300);
            return (0..n).map(|_| r.next() as u8).collect();
        }
        _ => {
            obj.insert(key, serde_json::json!(1e300));
        }
    }
    Value::Object(obj).to_string().into_bytes()
}

/// Reads every message with a fresh engine; the outcome of each (applied or rejected), and the
/// exposition at the end.
fn read_all(format: InputFormat, msgs: &[Vec<u8>]) -> (Vec<(bool, bool)>, String) {
    let cfg = config("[engine]\nallowed_lateness = \"10m\"\n");
    let mut engine = Engine::new(cfg.center.clone());
    let mut reader = Reader::new(&InputConfig {
        format,
        ..InputConfig::default()
    });
    let mut outcomes = Vec::with_capacity(msgs.len());
    for m in msgs {
        let (mut applied, mut rejected) = (false, false);
        reader.read(&mut engine, m, Admit::ALL, |o| match o {
            Ingested::Rejected(_) => rejected = true,
            _ => applied = true,
        });
        outcomes.push((applied, rejected));
    }
    reader.flush(&mut engine, i64::MAX, Admit::ALL, |_| {});
    engine.advance(START + 2 * HOUR);
    (outcomes, exposition(&engine.snapshot()))
}

fn count() -> usize {
    std::env::var("CALLPULSE_FUZZ_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn fuzzed_messages_never_panic_have_one_outcome_and_rejects_change_no_kpi() {
    let valid = messages();
    let total = count();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut done = 0;
    let mut rejected = 0usize;
    while done < total {
        // a batch: the valid stream with mutants of its messages mixed in
        let mut msgs: Vec<Vec<u8>> = Vec::with_capacity(valid.len() * 2);
        for v in &valid {
            msgs.push(v.as_bytes().to_vec());
            if r.below(2) == 0 {
                msgs.push(mutate(v, &mut r));
                done += 1;
            }
        }
        let (outcomes, mixed) = read_all(InputFormat::Callpulse, &msgs);
        for ((applied, rej), m) in outcomes.iter().zip(&msgs) {
            assert!(
                applied ^ rej,
                "one outcome per message: {}",
                String::from_utf8_lossy(&m[..m.len().min(300)])
            );
        }
        rejected += outcomes.iter().filter(|o| o.1).count();
        // the same run without the rejected messages gives the same KPIs
        let kept: Vec<Vec<u8>> = msgs
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.0)
            .map(|(m, _)| m.clone())
            .collect();
        let (_, clean) = read_all(InputFormat::Callpulse, &kept);
        assert_eq!(mixed, clean, "a rejected message changed a KPI");
    }
    eprintln!("fuzz: {done} mutated messages, {rejected} rejected, all with one outcome");
    assert!(
        rejected > done / 3,
        "{rejected} of {done}: the mutations reach the decoder"
    );
}

#[test]
fn fuzzed_records_never_panic_the_platform_adapters() {
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    let asterisk = [
        "1795428010|1795428010.1|sales|NONE|ENTERQUEUE||5551001|1",
        "1795428018|1795428010.1|sales|PJSIP/1127|CONNECT|8|1795428010.2|1",
        "1795428100|1795428010.1|sales|PJSIP/1127|COMPLETECALLER|8|82|1",
        "1795428100|NONE|sales|PJSIP/1127|WRAPUPSTART|20",
        r#"{"time":"2026-11-23 10:00:10","callid":"c","queuename":"sales","agent":"NONE","event":"ENTERQUEUE","data2":"555"}"#,
    ];
    let fixtures = format!("{}/tests/fixtures/connect", env!("CARGO_MANIFEST_DIR"));
    let connect: Vec<String> = [
        "contact-events.jsonl",
        "agent-events.jsonl",
        "contact-records.jsonl",
    ]
    .iter()
    .flat_map(|f| {
        std::fs::read_to_string(format!("{fixtures}/{f}"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    })
    .collect();
    let total = count() / 4;
    for (format, seeds) in [
        (InputFormat::Asterisk, asterisk.map(str::to_owned).to_vec()),
        (InputFormat::Connect, connect),
        (
            InputFormat::Freeswitch,
            fixture_lines("freeswitch/calls.jsonl"),
        ),
        (
            InputFormat::Taskrouter,
            fixture_lines("taskrouter/events.jsonl"),
        ),
    ] {
        // in batches, so a long run holds one batch (some records are 70 kB) at a time
        let mut done = 0;
        while done < total {
            let batch = (total - done).min(5_000);
            let msgs: Vec<Vec<u8>> = (done..done + batch)
                .map(|i| mutate_record(&seeds[i % seeds.len()], &mut r))
                .collect();
            // no panic, and every record is read (the outcomes of its events are the engine's)
            let (outcomes, _) = read_all(format, &msgs);
            assert_eq!(outcomes.len(), msgs.len(), "{format:?}");
            done += batch;
        }
    }
}

/// One mutation of a platform record: a JSON one like a message, a queue_log line with a field
/// cut, emptied, made huge or oversized, or garbled.
fn mutate_record(seed: &str, r: &mut Rng) -> Vec<u8> {
    if seed.starts_with('{') {
        return mutate(seed, r);
    }
    let mut fields: Vec<String> = seed.split('|').map(str::to_owned).collect();
    let k = r.below(fields.len());
    match r.below(5) {
        0 => fields.truncate(k),
        1 => fields[k] = String::new(),
        2 => fields[k] = "9".repeat(40),
        3 => fields[k] = "z".repeat(70_000),
        _ => return_raw(&mut fields, r),
    }
    fields.join("|").into_bytes()
}

fn return_raw(fields: &mut [String], r: &mut Rng) {
    let k = r.below(fields.len());
    fields[k] = (0..r.below(40))
        .map(|_| char::from(b'!' + (r.next() % 90) as u8))
        .collect();
}
