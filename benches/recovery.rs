//! Recovery of one partition after a failover: rebuilding from the horizon (every event of
//! the traffic read again through decode and the engine) against resuming from a checkpoint
//! (the checkpoint decoded, then the events of one checkpoint interval read), for 1 h and
//! 24 h of traffic at 1,000 events/s; and what a checkpoint costs: its size, the time it
//! holds the partition worker — capturing the state, against serialising it there as before
//! 0.x (`Engine::save_state`, the same bytes) — the time to serialise and compress it off the
//! worker, and the longest event of the interval after it (the worker's writes to the
//! captured maps then go to their overlays) against the same events with no capture held.
//! Pauses and off-worker times are medians of several.
//!
//! `cargo bench --bench recovery` prints one table row per traffic length (`-- 1` for the
//! hour alone). Kafka is left out on both sides: reading the messages back costs the same per
//! message either way (see `callpulse bench` for the consumer's own rate).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::config::{Config, InputConfig};
use callpulse::engine::Engine;
use callpulse::input::{Admit, Reader};
use callpulse::service::checkpoint::{decode, encode, fingerprint, save, Saved};
use callpulse::time::{Millis, HOUR, SECOND};

/// The allocator of the `callpulse` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: Millis = 1_795_420_800_000; // 2026-11-23T08:00:00Z
/// One contact every 4 ms: ~4 events each, ~1,000 events/s.
const CONTACT_EVERY_US: i64 = 4_000;
const QUEUES: u64 = 50;
const CUSTOMERS: u64 = 1_000_000;
/// `[kafka] checkpoint_interval`'s default: what a resumed partition reads again at most.
const INTERVAL: Millis = 60 * SECOND;

/// A partition's traffic, in time order: contacts offered, answered or abandoned, ended,
/// wrapped up and sometimes surveyed, across 50 queues, the offers naming one of a million
/// customers.
struct Traffic {
    next: u64,
    rng: u64,
    pending: BinaryHeap<Reverse<(Millis, u64, String)>>,
    seq: u64,
}

impl Traffic {
    fn new() -> Self {
        Traffic {
            next: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            pending: BinaryHeap::new(),
            seq: 0,
        }
    }

    fn rnd(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    fn push(&mut self, at: Millis, line: String) {
        self.seq += 1;
        self.pending.push(Reverse((at, self.seq, line)));
    }

    /// The events before `until`, in time order.
    fn until(&mut self, until: Millis, out: &mut Vec<String>) {
        loop {
            let i = self.next;
            let t0 = START + (i as i64 * CONTACT_EVERY_US) / 1000;
            while self.pending.peek().is_some_and(|Reverse(e)| e.0 <= t0) {
                if let Some(Reverse((_, _, line))) = self.pending.pop() {
                    out.push(line);
                }
            }
            if t0 >= until {
                return;
            }
            self.next += 1;
            let q = self.rnd(QUEUES);
            let c = format!("c{i}");
            let wait = self.rnd(60_000) as i64;
            let customer = self.rnd(CUSTOMERS);
            self.push(t0, format!(r#"{{"type":"contact.offered","ts":{t0},"id":"o{i}","contact_id":"{c}","queue":"q{q:02}","channel":"voice","customer":"+1555{customer:07}"}}"#));
            if self.rnd(10) == 0 {
                self.push(t0 + wait, format!(r#"{{"type":"contact.abandoned","ts":{},"id":"b{i}","contact_id":"{c}","queue":"q{q:02}"}}"#, t0 + wait));
                continue;
            }
            let ta = t0 + wait;
            let te = ta + 30_000 + self.rnd(300_000) as i64;
            let agent = self.rnd(2_000);
            self.push(ta, format!(r#"{{"type":"contact.answered","ts":{ta},"id":"a{i}","contact_id":"{c}","queue":"q{q:02}","agent":"ag{agent}"}}"#));
            self.push(te, format!(r#"{{"type":"contact.ended","ts":{te},"id":"e{i}","contact_id":"{c}","agent":"ag{agent}","wrapup":true}}"#));
            self.push(te + 20_000, format!(r#"{{"type":"contact.wrapup_ended","ts":{},"id":"w{i}","contact_id":"{c}","agent":"ag{agent}"}}"#, te + 20_000));
            if self.rnd(5) == 0 {
                let (csat, nps) = (self.rnd(5) + 1, self.rnd(11));
                self.push(te + 60_000, format!(r#"{{"type":"survey.submitted","ts":{},"id":"s{i}","contact_id":"{c}","csat":{csat},"nps":{nps}}}"#, te + 60_000));
            }
        }
    }
}

/// Reads the `i`th line like a partition worker: the event, and every 4096 events the windows
/// moved to the watermark.
fn step(engine: &mut Engine, reader: &mut Reader, i: usize, line: &str) {
    reader.read(engine, line.as_bytes(), Admit::ALL, |_| {});
    if i % 4096 == 4095 {
        if let Some(wm) = engine.watermark() {
            engine.advance(wm);
        }
    }
}

/// Reads `lines`; returns the time spent.
fn read(engine: &mut Engine, reader: &mut Reader, lines: &[String]) -> Duration {
    let started = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        step(engine, reader, i, line);
    }
    started.elapsed()
}

/// Reads `lines`; returns the longest event.
fn read_longest(engine: &mut Engine, reader: &mut Reader, lines: &[String]) -> Duration {
    let mut longest = Duration::ZERO;
    for (i, line) in lines.iter().enumerate() {
        let started = Instant::now();
        step(engine, reader, i, line);
        longest = longest.max(started.elapsed());
    }
    longest
}

/// The median time of `runs` runs of `f`, and what the last one gave.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut out = None;
    for _ in 0..runs {
        drop(out.take());
        let started = Instant::now();
        out = Some(f());
        times.push(started.elapsed());
    }
    times.sort_unstable();
    (times[runs / 2], out.expect("runs > 0"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn row(hours: i64) {
    let cfg = Arc::new(Config::default());
    let input = InputConfig::default();
    let mut traffic = Traffic::new();
    let (mut engine, mut reader) = (Engine::new(cfg.center.clone()), Reader::new(&input));
    let (mut events, mut rebuild) = (0usize, Duration::ZERO);
    let mut lines = Vec::new();
    let end = START + hours * HOUR;
    // the traffic up to one checkpoint interval before the end, then the last interval
    let mut at = START;
    while at < end - INTERVAL {
        at = (at + 10 * 60 * SECOND).min(end - INTERVAL);
        lines.clear();
        traffic.until(at, &mut lines);
        events += lines.len();
        rebuild += read(&mut engine, &mut reader, &lines);
    }
    // before: the whole state serialised on the worker
    let (serialised, _) = median(3, || {
        let state = (
            engine.save_state().expect("state"),
            reader.save_state().expect("reader"),
        );
        postcard::to_stdvec(&state).expect("serialise").len()
    });
    let (captured, _) = median(7, || save(&engine, &reader, events as i64).expect("save"));
    let saved: Saved = save(&engine, &reader, events as i64).expect("save");
    let fp = fingerprint(&cfg, &input);
    let (encoded, bytes) = median(3, || encode(&saved, fp).expect("encode"));
    let mut tail = Vec::new();
    traffic.until(end, &mut tail);
    events += tail.len();
    // the capture is held (being written) while the worker reads on
    let started = Instant::now();
    let longest_held = read_longest(&mut engine, &mut reader, &tail);
    rebuild += started.elapsed();
    drop((engine, reader, saved));

    let started = Instant::now();
    let resumed = decode(&bytes, &cfg, &input).expect("decode");
    let restored = started.elapsed();
    let (mut engine, mut reader) = (resumed.engine, resumed.reader);
    let replayed = read(&mut engine, &mut reader, &tail);
    // the same events again with no capture held (the resumed engine, one interval behind)
    let (mut engine, mut reader) = {
        let again = decode(&bytes, &cfg, &input).expect("decode");
        (again.engine, again.reader)
    };
    let longest_free = read_longest(&mut engine, &mut reader, &tail);
    println!(
        "| {hours} h | {:.1} M | {} ({:.2} M events/s) | {:.1} MB | {} → **{}** | {} | {} ({}) | {} + {} = **{}** | {:.0} × |",
        events as f64 / 1e6,
        secs(rebuild),
        events as f64 / rebuild.as_secs_f64() / 1e6,
        bytes.len() as f64 / 1e6,
        ms(serialised),
        ms(captured),
        secs(encoded),
        ms(longest_held),
        ms(longest_free),
        secs(restored),
        secs(replayed),
        secs(restored + replayed),
        rebuild.as_secs_f64() / (restored + replayed).as_secs_f64(),
    );
}

fn main() {
    let only: Option<i64> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    println!("| traffic at 1,000 events/s | events | rebuild from the horizon | checkpoint | worker paused: serialising → capturing | serialising + compressing (off the worker) | longest event after it, capture held (none held) | resuming: decode + one interval of events | rebuild / resume |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for hours in [1, 24] {
        if only.is_none_or(|h| h == hours) {
            row(hours);
        }
    }
}
