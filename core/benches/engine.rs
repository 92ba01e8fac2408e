//! Engine benchmarks: decode + engine over 1M generated events across 50 queues (vs decode
//! alone), /metrics render time for 1,000 queues × 5 windows, bytes per open contact, and the
//! `asterisk`, `connect`, `freeswitch` and `taskrouter` inputs (platform records mapped, decoded
//! and applied) against the same events given as docs/events.md JSON.
//!
//! `cargo bench --bench engine` (criterion); the memory figure is printed once at start;
//! `cargo bench --bench engine -- asterisk` (or `-- connect`, `-- freeswitch`,
//! `-- taskrouter`) for one adapter alone;
//! `-- workforce` for `agent.state` events alone (agent time), in order and late.

#[path = "engine/connect.rs"]
mod connect;
#[path = "engine/platforms.rs"]
mod platforms;
#[path = "engine/workforce.rs"]
mod workforce;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use callpulse_core::engine::Engine;
use callpulse_core::event::Limits;
use callpulse_core::export::{render, Exposition};
use callpulse_core::input::asterisk::{Asterisk, AsteriskSettings};
use callpulse_core::input::callpulse::decode;
use callpulse_core::input::connect::{Connect, ConnectSettings};
use callpulse_core::input::freeswitch::{Freeswitch, FreeswitchSettings};
use callpulse_core::input::taskrouter::{Taskrouter, TaskrouterSettings};
use callpulse_core::input::{ingest, Adapter, Admit};
use callpulse_core::settings::{ExportConfig, Settings};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mimalloc::MiMalloc;

/// Counts live heap bytes, for the bytes-per-open-contact figure; allocates with mimalloc, as
/// the `callpulse` binary does.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// A global allocator is an unsafe trait; this one only counts and hands on to mimalloc.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        MiMalloc.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        MiMalloc.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        MiMalloc.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const START: i64 = 1_795_420_800_000; // 2026-11-23T08:00:00Z

/// A day-like stream: each contact is offered, answered or abandoned, ended, sometimes wrap-up
/// and a survey; ~3.6 events per contact, interleaved in time across `queues` queues. With
/// `customers`, every offer names one of that many customers (docs/metrics.md customer families).
fn generate(events: usize, queues: usize, customers: Option<u64>) -> Vec<Vec<u8>> {
    let mut out: Vec<(i64, String)> = Vec::with_capacity(events + 16);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut i = 0u64;
    while out.len() < events {
        let q = rnd(queues as u64);
        let t0 = START + (i as i64) * 20; // 50 contacts per second
        let c = format!("c{i}");
        let wait = rnd(60_000) as i64;
        let customer = customers.map_or(String::new(), |n| {
            format!(r#","customer":"+1555{:07}""#, rnd(n))
        });
        out.push((t0, format!(r#"{{"type":"contact.offered","ts":{t0},"id":"o{i}","contact_id":"{c}","queue":"q{q:02}","channel":"voice"{customer}}}"#)));
        if rnd(10) == 0 {
            out.push((t0 + wait, format!(r#"{{"type":"contact.abandoned","ts":{},"id":"b{i}","contact_id":"{c}","queue":"q{q:02}"}}"#, t0 + wait)));
        } else {
            let ta = t0 + wait;
            let te = ta + 30_000 + rnd(300_000) as i64;
            out.push((ta, format!(r#"{{"type":"contact.answered","ts":"{}","id":"a{i}","contact_id":"{c}","queue":"q{q:02}","agent":"ag{}"}}"#, rfc(ta), rnd(500))));
            out.push((te, format!(r#"{{"type":"contact.ended","ts":{te},"id":"e{i}","contact_id":"{c}","agent":"ag1","wrapup":true}}"#)));
            out.push((te + 20_000, format!(r#"{{"type":"contact.wrapup_ended","ts":{},"id":"w{i}","contact_id":"{c}","agent":"ag1"}}"#, te + 20_000)));
            if rnd(5) == 0 {
                out.push((te + 60_000, format!(r#"{{"type":"survey.submitted","ts":{},"id":"s{i}","contact_id":"{c}","csat":{},"nps":{}}}"#, te + 60_000, rnd(5) + 1, rnd(11))));
            }
        }
        i += 1;
    }
    out.sort_by_key(|e| e.0);
    out.truncate(events);
    out.into_iter().map(|(_, s)| s.into_bytes()).collect()
}

fn rfc(ms: i64) -> String {
    callpulse_core::time::format_rfc3339(ms)
}

/// Messages one after the other in one buffer, as a fetched Kafka batch holds them (the
/// consumer hands the engine slices of its receive buffer) and as `replay` reads a file: not
/// one allocation per message, whose bytes a stream sorted by time would read all over memory.
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn of(lines: &[Vec<u8>]) -> Batch {
        let mut bytes = Vec::with_capacity(lines.iter().map(Vec::len).sum());
        let ends = (lines.iter())
            .map(|l| {
                bytes.extend_from_slice(l);
                bytes.len()
            })
            .collect();
        Batch { bytes, ends }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.bytes[start..end];
            start = end;
            line
        })
    }
}

/// Each line of `lines` in its own allocation, as the generator left them.
fn scattered(lines: &[Vec<u8>]) -> impl Iterator<Item = &[u8]> + '_ {
    lines.iter().map(Vec::as_slice)
}

fn run_engine<'a>(cfg: &Arc<Settings>, lines: impl IntoIterator<Item = &'a [u8]>) -> Engine {
    let mut engine = Engine::new(cfg.clone());
    for (i, l) in lines.into_iter().enumerate() {
        let _ = ingest(&mut engine, l, Admit::ALL);
        if i % 4096 == 4095 {
            if let Some(wm) = engine.watermark() {
                engine.advance(wm);
            }
        }
    }
    engine
}

fn bytes_per_open_contact() {
    let cfg = Arc::new(Settings::default());
    let mut engine = Engine::new(cfg);
    let lines: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!(r#"{{"type":"contact.offered","ts":{},"contact_id":"contact-{i:08}","queue":"q{:02}"}}"#, START + i, i % 50).into_bytes())
        .collect();
    // warm up the queues so only per-contact memory is measured
    let _ = ingest(
        &mut engine,
        br#"{"type":"agent.state","ts":1795420800000,"agent":"x","state":"available"}"#,
        Admit::ALL,
    );
    let before = LIVE.load(Ordering::Relaxed);
    for l in &lines {
        let _ = ingest(&mut engine, l, Admit::ALL);
    }
    let after = LIVE.load(Ordering::Relaxed);
    println!(
        "memory: {} open contacts (waiting, with their facts), {} bytes each (incl. contact id, index, facts)",
        engine.open_contacts(),
        (after - before) / engine.open_contacts().max(1) as isize
    );
}

/// Bytes held per remembered customer: the same 100,000 offers with and without a customer
/// each (all distinct), the difference per customer.
fn bytes_per_customer() {
    let cfg = Arc::new(Settings::default());
    let held = |with: bool| {
        let mut engine = Engine::new(cfg.clone());
        let _ = ingest(
            &mut engine,
            br#"{"type":"agent.state","ts":1795420800000,"agent":"x","state":"available"}"#,
            Admit::ALL,
        );
        let before = LIVE.load(Ordering::Relaxed);
        for i in 0..100_000 {
            let customer = if with {
                format!(r#","customer":"+1555{i:07}""#)
            } else {
                String::new()
            };
            let l = format!(
                r#"{{"type":"contact.offered","ts":{},"contact_id":"contact-{i:08}","queue":"q{:02}"{customer}}}"#,
                START + i,
                i % 50
            );
            let _ = ingest(&mut engine, l.as_bytes(), Admit::ALL);
        }
        let bytes = LIVE.load(Ordering::Relaxed) - before;
        drop(engine);
        bytes
    };
    let (without, with) = (held(false), held(true));
    println!(
        "memory: {} bytes per remembered customer (100,000 distinct, while their contacts are open)",
        (with - without) / 100_000
    );
}

fn benches(c: &mut Criterion) {
    bytes_per_open_contact();
    bytes_per_customer();
    let cfg = Arc::new(Settings::default());
    let scattered_lines = generate(1_000_000, 50, None);
    let lines = Batch::of(&scattered_lines);
    let with_customers = Batch::of(&generate(1_000_000, 50, Some(100_000)));
    let events = lines.ends.len();
    println!(
        "input: {} events, {:.0} bytes/event on average",
        events,
        lines.bytes.len() as f64 / events as f64
    );

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function("decode_only_1M", |b| {
        let limits = Limits::default();
        b.iter(|| lines.iter().filter(|l| decode(l, &limits).is_ok()).count())
    });
    g.bench_function("decode_and_engine_1M_50q", |b| {
        b.iter(|| run_engine(&cfg, lines.iter()).stats().accepted)
    });
    // the same events, each message in an allocation of its own (how this bench fed the engine
    // until 2026-12-01: its numbers before then compare with these rows)
    g.bench_function("decode_and_engine_1M_50q_scattered", |b| {
        b.iter(|| {
            run_engine(&cfg, scattered(&scattered_lines))
                .stats()
                .accepted
        })
    });
    // the same traffic, every offer naming one of 100,000 customers
    g.bench_function("decode_and_engine_1M_50q_customers", |b| {
        b.iter(|| run_engine(&cfg, with_customers.iter()).stats().accepted)
    });
    // the same traffic under a config file's default export profile: the engine keeps the
    // windows it exports (15m, today), not all five
    let standard = Arc::new(Settings::parse("").expect("the empty config"));
    g.bench_function("decode_and_engine_1M_50q_standard", |b| {
        b.iter(|| run_engine(&standard, lines.iter()).stats().accepted)
    });
    g.bench_function("decode_and_engine_1M_50q_standard_scattered", |b| {
        b.iter(|| {
            run_engine(&standard, scattered(&scattered_lines))
                .stats()
                .accepted
        })
    });
    g.finish();

    // 1,000 queues, each with traffic in every window
    let big = generate(200_000, 1000, Some(20_000));
    let mut engine = run_engine(&cfg, Batch::of(&big).iter());
    let wm = engine.watermark().unwrap_or(START);
    engine.advance(wm + 1);
    let mut g = c.benchmark_group("scrape");
    g.sample_size(20);
    g.bench_function("snapshot_1000q_5w", |b| {
        b.iter(|| engine.snapshot().queues.len())
    });
    let snap = engine.snapshot();
    let gzip = |text: &str| {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(text.as_bytes());
        gz.finish().map(|v| v.len()).unwrap_or(0)
    };
    // the contract's whole output (`full`, as before export profiles) and the default profile
    let full = ExportConfig::full(snap.window_labels.clone());
    for (profile, export) in [("5w", &full), ("standard", &cfg.export)] {
        let text = {
            let mut out = Exposition::new();
            render(&snap, export, &mut out);
            out.finish()
        };
        println!(
            "scrape of 1,000 queues ({profile}): {} lines, {} bytes raw, {} bytes gzip (fast)",
            text.lines().count(),
            text.len(),
            gzip(&text)
        );
        g.bench_function(format!("gzip_1000q_{profile}"), |b| b.iter(|| gzip(&text)));
        g.bench_function(format!("render_1000q_{profile}"), |b| {
            b.iter_batched(
                Exposition::new,
                |mut out| {
                    render(&snap, export, &mut out);
                    out.finish().len()
                },
                BatchSize::SmallInput,
            )
        });
        // as `/metrics` writes it: streamed a chunk at a time (256 KiB held, handed to the
        // response), not into one buffer grown to the whole text
        g.bench_function(format!("render_1000q_{profile}_streamed"), |b| {
            b.iter(|| {
                let mut out = Exposition::streaming(Box::new(std::io::sink()));
                render(&snap, export, &mut out);
                out.finish_stream().is_ok()
            })
        });
    }
    // what one `/metrics` of a single-partition instance costs: the snapshot, then its render
    // streamed (the `full` profile)
    g.bench_function("metrics_1000q_5w_snapshot_and_render", |b| {
        b.iter(|| {
            let snap = engine.snapshot();
            let mut out = Exposition::streaming(Box::new(std::io::sink()));
            render(&snap, &full, &mut out);
            out.finish_stream().is_ok()
        })
    });
    g.finish();
}

/// A queue_log of `calls` calls (20 per second) across 50 queues and 400 agents, in time
/// order: ENTERQUEUE, a ring no-answer now and then, then ABANDON (1 in 10) or CONNECT and
/// COMPLETECALLER with a WRAPUPSTART of 20 s at the same second; agents log in first.
fn generate_queue_log(calls: usize) -> Vec<Vec<u8>> {
    let start = START / 1000;
    let mut out: Vec<(i64, usize, String)> = Vec::with_capacity(calls * 4 + 400);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for a in 0..400 {
        let line = format!(
            "{start}|NONE|q{:02}|Local/{a}@from-queue/n|ADDMEMBER|",
            a % 50
        );
        out.push((start, out.len(), line));
    }
    for i in 0..calls {
        let q = rnd(50);
        let t0 = start + 1 + (i as i64) / 20;
        let c = format!("{t0}.{i}");
        let wait = rnd(60) as i64;
        let mut push = |t: i64, line: String| out.push((t, out.len(), line));
        push(t0, format!("{t0}|{c}|q{q:02}|NONE|ENTERQUEUE||555{i:07}|1"));
        if rnd(10) == 0 {
            let t = t0 + wait;
            push(t, format!("{t}|{c}|q{q:02}|NONE|ABANDON|1|1|{wait}"));
            continue;
        }
        let agent = q + 50 * rnd(8);
        let ta = t0 + wait;
        if rnd(4) == 0 {
            push(
                ta,
                format!("{ta}|{c}|q{q:02}|SIP/{}|RINGNOANSWER|15000", agent + 1),
            );
        }
        push(
            ta,
            format!("{ta}|{c}|q{q:02}|SIP/{agent}|CONNECT|{wait}|{c}1|2"),
        );
        let te = ta + 30 + rnd(300) as i64;
        push(
            te,
            format!(
                "{te}|{c}|q{q:02}|SIP/{agent}|COMPLETECALLER|{wait}|{}|1",
                te - ta
            ),
        );
        push(te, format!("{te}|NONE|q{q:02}|SIP/{agent}|WRAPUPSTART|20"));
    }
    out.sort_by_key(|e| (e.0, e.1));
    out.into_iter().map(|(_, _, s)| s.into_bytes()).collect()
}

/// Maps every record and applies the events it gives, as a reader of a platform's topic does.
fn run_adapter(cfg: &Arc<Settings>, adapter: &mut dyn Adapter, records: &[Vec<u8>]) -> Engine {
    let mut engine = Engine::new(cfg.clone());
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let _ = adapter.map(r, &mut out);
        for e in out.drain(..) {
            let _ = ingest(&mut engine, e.as_bytes(), Admit::ALL);
        }
        if i % 4096 == 4095 {
            if let Some(wm) = engine.watermark() {
                engine.advance(wm);
            }
        }
    }
    adapter.flush(i64::MAX, &mut out);
    for e in out.drain(..) {
        let _ = ingest(&mut engine, e.as_bytes(), Admit::ALL);
    }
    engine
}

/// One input format's group: map only, map + decode + engine, and the events it maps to given
/// as docs/events.md JSON (decode + engine), all per record of the platform's stream.
fn adapter_group(
    c: &mut Criterion,
    name: &str,
    records: &[Vec<u8>],
    adapter: fn() -> Box<dyn Adapter>,
) {
    let cfg = Arc::new(Settings::default());
    let mut events = Vec::new();
    let mut a = adapter();
    for r in records {
        let _ = a.map(r, &mut events);
    }
    a.flush(i64::MAX, &mut events);
    let events: Vec<Vec<u8>> = events.into_iter().map(String::into_bytes).collect();
    println!(
        "{name} input: {} records ({} bytes each on average) -> {} events.md events ({:.2} per record)",
        records.len(),
        records.iter().map(Vec::len).sum::<usize>() / records.len().max(1),
        events.len(),
        events.len() as f64 / records.len() as f64
    );
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("map_only", |b| {
        b.iter(|| {
            let mut a = adapter();
            let mut out = Vec::new();
            let mut n = 0;
            for r in records {
                let _ = a.map(r, &mut out);
                n += out.len();
                out.clear();
            }
            n
        })
    });
    g.bench_function("map_decode_engine", |b| {
        b.iter(|| {
            run_adapter(&cfg, adapter().as_mut(), records)
                .stats()
                .accepted
        })
    });
    g.bench_function("same_events_as_json_decode_engine", |b| {
        b.iter(|| run_engine(&cfg, scattered(&events)).stats().accepted)
    });
    g.finish();
}

fn asterisk_benches(c: &mut Criterion) {
    adapter_group(c, "asterisk", &generate_queue_log(250_000), || {
        Box::new(Asterisk::new(AsteriskSettings::default()))
    });
}

fn connect_benches(c: &mut Criterion) {
    adapter_group(c, "connect", &connect::contact_events(100_000), || {
        Box::new(Connect::new(ConnectSettings::default()))
    });
}

fn freeswitch_benches(c: &mut Criterion) {
    adapter_group(c, "freeswitch", &platforms::freeswitch(50_000), || {
        Box::new(Freeswitch::new(FreeswitchSettings {
            wrapup_seconds: 20,
            ..FreeswitchSettings::default()
        }))
    });
}

fn taskrouter_benches(c: &mut Criterion) {
    adapter_group(c, "taskrouter", &platforms::taskrouter(100_000), || {
        Box::new(Taskrouter::new(TaskrouterSettings::default()))
    });
}

/// Agent time: `agent.state` events alone, in order and up to 30 s late (each late one rewrites
/// the agent's counts up to its next known change).
fn workforce_benches(c: &mut Criterion) {
    let cfg = Arc::new(Settings::default());
    let in_order = workforce::agent_states(1_000_000, START, false);
    let late = workforce::agent_states(1_000_000, START, true);
    let engine = run_engine(&cfg, scattered(&in_order));
    println!(
        "workforce: {} agent events, {} agents, {} count changes held at the end",
        in_order.len(),
        engine.agent_count(),
        engine.facts_held()
    );
    let mut g = c.benchmark_group("workforce");
    g.sample_size(10);
    g.throughput(Throughput::Elements(in_order.len() as u64));
    g.bench_function("agent_states_1M_in_order", |b| {
        b.iter(|| run_engine(&cfg, scattered(&in_order)).stats().accepted)
    });
    g.bench_function("agent_states_1M_up_to_30s_late", |b| {
        b.iter(|| run_engine(&cfg, scattered(&late)).stats().accepted)
    });
    g.finish();
}

criterion_group!(
    engine,
    benches,
    asterisk_benches,
    connect_benches,
    freeswitch_benches,
    taskrouter_benches,
    workforce_benches
);
criterion_main!(engine);
