//! A realistic business day, beside the engine bench's uniform traffic: `replay` of it against
//! a generic decode of the same bytes (each line parsed into a `serde_json::Value` and dropped),
//! with and without customers, in one run.
//!
//! The day is the simulator's (4 queues in 4 time zones, one of them +05:45; holds, transfers,
//! callbacks, surveys, chat/e-mail/SMS legs, customers on offers, timestamps in every
//! spelling, the usual intraday curve), then delivered as a real stream delivers it: ~1.4 % of
//! the events up to 45 s late (within the 60 s lateness), ~2 % twice (the same id, up to 45 s
//! later), 1 malformed line in 3,000. The second history is the same day with every
//! `customer` field removed. `scripts/replay-speed` measures the same as whole processes.
//!
//! `cargo bench --bench realistic` (`CALLPULSE_BENCH_RATE=4.5` for the ~0.93 M-event day of
//! `scripts/replay-speed`; the default 1.0 is a quarter of it)

use std::sync::Arc;

use callpulse::config::{Config, InputConfig};
use callpulse::replay::{replay_windows, Windows};
use callpulse::tools::sim::{SimConfig, Simulator};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The binary's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-03-02T00:00:00Z: a Monday.
const DAY: i64 = 1_772_409_600_000;
const HOUR: i64 = 3_600_000;
/// Within the 60 s allowed lateness.
const LATE_MS: i64 = 45_000;

/// The four queues' zones and rules (`scripts/replay-speed` replays with the same file).
const CENTER: &str = include_str!("realistic-center.toml");

/// Lines that are no event: malformed JSON, no type, a timestamp no clock writes.
const MALFORMED: [&str; 4] = [
    r#"{"v":1,"id":"x-N","type":"contact.offered","ts":"#,
    "not json N",
    r#"{"v":1,"id":"y-N"}"#,
    r#"{"v":1,"id":"z-N","type":"contact.answered","ts":"yesterday","contact_id":"c"}"#,
];

/// The simulated day as a stream delivers it, one JSON object per line.
fn delivered_day(rate: f64) -> Vec<String> {
    let mut sim = Simulator::new(SimConfig {
        rate,
        seed: 7,
        start_ms: DAY,
        ..SimConfig::default()
    });
    let mut events = Vec::new();
    for hour in 1..=24 {
        sim.advance(DAY + hour * HOUR, &mut events);
    }
    let mut rng = SmallRng::seed_from_u64(25);
    // (delivered at, order written, line)
    let mut keyed: Vec<(i64, usize, String)> = Vec::with_capacity(events.len() * 21 / 20);
    for (n, e) in events.into_iter().enumerate() {
        let late = if rng.random_bool(0.014) {
            rng.random_range(1..LATE_MS)
        } else {
            0
        };
        if rng.random_bool(0.02) {
            keyed.push((e.ts_ms + rng.random_range(1..LATE_MS), n, e.json.clone()));
        }
        keyed.push((e.ts_ms + late, n, e.json));
    }
    let bad = keyed.len() / 3_000;
    for i in 0..bad {
        let at = keyed[rng.random_range(0..keyed.len())].0;
        let line = MALFORMED[i % MALFORMED.len()].replace('N', &i.to_string());
        keyed.push((at, usize::MAX, line));
    }
    keyed.sort_by_key(|k| (k.0, k.1));
    keyed.into_iter().map(|k| k.2).collect()
}

/// The lines as one file's bytes.
fn file(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The same line without its `customer` field.
fn without_customer(line: &str) -> String {
    match line.find(r#","customer":""#) {
        Some(at) => {
            let value = at + r#","customer":""#.len();
            let end = line[value..]
                .find('"')
                .map_or(line.len(), |e| value + e + 1);
            format!("{}{}", &line[..at], &line[end..])
        }
        None => line.to_owned(),
    }
}

fn realistic_day(c: &mut Criterion) {
    let rate = std::env::var("CALLPULSE_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1.0);
    let lines = delivered_day(rate);
    let named = lines.iter().filter(|l| l.contains(r#""customer""#)).count();
    let plain: Vec<String> = lines.iter().map(|l| without_customer(l)).collect();
    assert!(plain.iter().all(|l| !l.contains(r#""customer""#)));
    eprintln!(
        "realistic day: {} lines, {named} naming a customer",
        lines.len()
    );
    let config = Arc::new(Config::parse(CENTER).expect("the center's config"));
    let mut g = c.benchmark_group("realistic_day");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    for (name, history) in [("customers", file(&lines)), ("no_customers", file(&plain))] {
        g.bench_function(format!("value_decode/{name}"), |b| {
            b.iter(|| {
                let mut values = 0usize;
                for line in history.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    values +=
                        usize::from(serde_json::from_slice::<serde_json::Value>(line).is_ok());
                }
                values
            })
        });
        g.bench_function(format!("replay/{name}"), |b| {
            b.iter(|| {
                let replayed = replay_windows(
                    config.clone(),
                    &InputConfig::default(),
                    &history[..],
                    None,
                    Windows::All,
                )
                .expect("replay");
                assert!(replayed.stats.accepted > 0);
                replayed.lines
            })
        });
    }
    g.finish();
}

criterion_group!(benches, realistic_day);
criterion_main!(benches);
