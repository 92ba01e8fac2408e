//! Builders for spec-v1 events and helpers to run them through an engine; and the processes of
//! the end-to-end tests: the real `callpulse` binary, the brokers (tansu, `callpulse
//! mock-broker`), free ports, polling.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::config::Config;
use callpulse::engine::Engine;
use callpulse::event::Reject;
use callpulse::export::{render, Exposition};
use callpulse::input::{self, Adapter, Admit, Ingested};
use callpulse::snapshot::{QueueSnapshot, Snapshot};
use callpulse::time::{parse_rfc3339, Millis};
use callpulse::tools::produce::{simulate_into, ProduceOptions, Sink};
use callpulse::tools::sim::platform::SimFormat;
use callpulse::tools::sim::{SimConfig, SimEvent};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::kafka::http_get;

/// The product's one ingest step (`callpulse::input::ingest`), with every event time admitted,
/// as a `Result` for tests.
pub trait Feed {
    fn ingest(&mut self, bytes: &[u8]) -> Result<(), Reject>;
}

impl Feed for Engine {
    fn ingest(&mut self, bytes: &[u8]) -> Result<(), Reject> {
        match input::ingest(self, bytes, Admit::ALL) {
            Ingested::Rejected(reject) => Err(reject),
            _ => Ok(()),
        }
    }
}

pub fn at(s: &str) -> Millis {
    parse_rfc3339(s).unwrap_or_else(|| panic!("bad instant {s}"))
}

/// One event as a JSON line; `ts` is epoch ms, `extra` the type's fields.
pub fn ev(ts: Millis, kind: &str, extra: Value) -> String {
    let mut v = json!({"type": kind, "ts": ts});
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v.to_string()
}

/// One event of contact `c`: `fields` besides its `contact_id`.
pub fn of(c: &str, ts: Millis, kind: &str, mut fields: Value) -> String {
    fields["contact_id"] = json!(c);
    ev(ts, kind, fields)
}

/// Lines in the order of their `ts` (in order, as a producer writes them).
pub fn sorted_by_ts(lines: &[String]) -> Vec<String> {
    let mut v = lines.to_vec();
    v.sort_by_key(|l| serde_json::from_str::<Value>(l).unwrap()["ts"].as_i64());
    v
}

pub fn offered(ts: Millis, contact: &str, queue: &str) -> String {
    ev(
        ts,
        "contact.offered",
        json!({"contact_id": contact, "queue": queue}),
    )
}
pub fn answered(ts: Millis, contact: &str) -> String {
    ev(
        ts,
        "contact.answered",
        json!({"contact_id": contact, "agent": "a1"}),
    )
}
pub fn abandoned(ts: Millis, contact: &str) -> String {
    ev(ts, "contact.abandoned", json!({"contact_id": contact}))
}
pub fn ended(ts: Millis, contact: &str) -> String {
    ev(
        ts,
        "contact.ended",
        json!({"contact_id": contact, "agent": "a1"}),
    )
}

/// A config of `text`, keeping and exporting every window (the `full` profile) unless it has an
/// `[export]` table of its own: the contract's tests look at every window.
pub fn config(text: &str) -> Arc<Config> {
    let text = if text.contains("[export]") {
        text.to_string()
    } else {
        format!("{text}\n[export]\nprofile = \"full\"\n")
    };
    Arc::new(Config::parse(&text).unwrap_or_else(|e| panic!("{e}")))
}

/// Feeds lines in order (advancing to the watermark every `every` lines), then evaluates at `now`.
pub fn run(cfg: &Arc<Config>, lines: &[String], now: Millis) -> Engine {
    let mut engine = Engine::new(cfg.center.clone());
    for (i, l) in lines.iter().enumerate() {
        let _ = engine.ingest(l.as_bytes());
        if i % 7 == 6 {
            if let Some(wm) = engine.watermark() {
                engine.advance(wm.min(now));
            }
        }
    }
    engine.advance(now);
    engine
}

/// The contract's whole exposition of `snap` (the `full` export profile).
pub fn exposition(snap: &Snapshot) -> String {
    let mut out = Exposition::new();
    let full = callpulse::config::ExportConfig::full(snap.window_labels.clone());
    render(snap, &full, &mut out);
    out.finish()
}

pub fn queue<'a>(snap: &'a Snapshot, name: &str) -> &'a QueueSnapshot {
    snap.queues
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no queue {name}"))
}

/// The window of a queue by label.
pub fn window<'a>(snap: &'a Snapshot, name: &str, label: &str) -> &'a callpulse::kpi::WindowAgg {
    let i = snap
        .window_index(label)
        .unwrap_or_else(|| panic!("no window {label}"));
    &queue(snap, name).windows[i]
}

/// The value of one sample line of an exposition, if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|v| v.parse().unwrap())
    })
}

/// Runs a command and returns its output, failing the test with its stderr if it failed.
pub fn succeed(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The queue_log fixture's records (file spelling), moved in time so that the last one was
/// written `ago_s` seconds before now (live services skip history older than their horizon).
pub fn queue_log_ending_ago(ago_s: i64) -> Vec<String> {
    let fixture = std::fs::read_to_string("tests/fixtures/asterisk/calls.log")
        .expect("tests/fixtures/asterisk/calls.log");
    let epoch = |l: &str| l.split('|').next().and_then(|e| e.parse::<i64>().ok());
    let last = fixture.lines().filter_map(epoch).max().expect("records");
    let shift = (callpulse::clock::wall_now() / 1000 - ago_s) - last;
    fixture
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (e, rest) = l.split_once('|').expect("a queue_log line");
            format!(
                "{}|{rest}",
                e.parse::<i64>().expect("epoch seconds") + shift
            )
        })
        .collect()
}

/// The lines of a fixture, `tests/fixtures/<path>` (e.g. `asterisk/calls.log`).
pub fn fixture_lines(path: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Maps every record with `adapter`, each one of the kinds it declares; the events and the
/// records counted by kind (the caller flushes what the adapter still holds, if it wants it).
pub fn map_all(
    adapter: &mut dyn Adapter,
    records: &[String],
) -> (Vec<String>, std::collections::BTreeMap<&'static str, usize>) {
    let mut out = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    for r in records {
        let kind = adapter
            .map(r.as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{r}: {e}"));
        assert!(adapter.kinds().contains(&kind), "{kind}");
        *kinds.entry(kind).or_default() += 1;
    }
    (out, kinds)
}

/// Records of platform formats read, per `callpulse_input_records_total`.
pub fn input_records(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("callpulse_input_records_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Whether an exposition line belongs to a family that grows with `now` alone (agent time and
/// occupancy keep counting while agents stay in a state), so two instances evaluated at
/// different instants differ there even on the same events.
pub fn moves_with_now(line: &str) -> bool {
    line.starts_with("callcenter_agent_seconds") || line.starts_with("callcenter_occupancy_ratio")
}

/// A live service reading `cfg`'s one input topic (already produced to) beside `replay` of the
/// same `records`: waits until the service has read `expected_records` platform records (and
/// then a while, for what an adapter holds back to be flushed and published), stops it, and
/// returns its `/metrics` text with the [`stable_windows`] of both, which must be equal.
pub async fn live_beside_replay(
    cfg: &Arc<Config>,
    records: &[String],
    expected_records: f64,
) -> (String, Vec<String>, Vec<String>) {
    let service = crate::kafka::start(cfg.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = service.metrics().await;
        if input_records(&text) >= expected_records {
            tokio::time::sleep(callpulse::service::PUBLISH_EVERY * 6).await;
            break service.metrics().await;
        }
        assert!(Instant::now() < deadline, "read {}", input_records(&text));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    service.stop().await;
    let replayed = callpulse::replay::replay_input(
        cfg.clone(),
        &cfg.kafka.inputs[0],
        records.join("\n").as_bytes(),
        Some(callpulse::clock::wall_now()),
    )
    .expect("replayed");
    let mut out = Exposition::new();
    render(&replayed.snapshot, &cfg.center.export, &mut out);
    let (live, replayed) = (stable_windows(&text), stable_windows(&out.finish()));
    (text, live, replayed)
}

/// The lines of the contract's windowed families for windows that cannot move during a test.
pub fn stable_windows(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| {
            l.starts_with("callcenter_")
                && (l.contains("window=\"15m\"") || l.contains("window=\"1h\""))
                && !l.starts_with("callcenter_breach")
                && !moves_with_now(l)
        })
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Messages kept in memory.
struct Collect(Vec<String>);

impl Sink for Collect {
    type Error = std::convert::Infallible;
    fn put(&mut self, e: &SimEvent) -> Result<(), Self::Error> {
        self.0.push(e.json.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The simulator's day up to `until`, written in `format` the way `simulate --out` writes it.
pub fn simulated(sim: &SimConfig, until: Millis, format: SimFormat) -> Vec<String> {
    let opts = ProduceOptions {
        brokers: String::new(),
        topic: String::new(),
        sim: sim.clone(),
        format,
        speed: None,
        duration: None,
        max_events: None,
        backfill_until: Some(until),
        properties: Vec::new(),
    };
    let mut sink = Collect(Vec::new());
    simulate_into(&opts, &CancellationToken::new(), &mut sink).unwrap_or_else(|e| match e {});
    sink.0
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Sends SIGTERM and waits up to `limit` for the exit.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let pid = self.0.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Polls `f` every 250 ms until it holds; fails the test after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Polls `f` every 250 ms until it gives a value; fails the test after `limit` with its last
/// complaint.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match f() {
            Ok(v) => return v,
            Err(why) => assert!(
                Instant::now() < deadline,
                "timed out after {limit:?}: {why}"
            ),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The binary under test.
pub fn callpulse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callpulse"))
}

/// `callpulse run --config config` with its logs in `log`, once `/healthz` answers on `http`.
pub fn start_run(config: &Path, http: SocketAddr, log: &Path) -> Proc {
    let err = std::fs::File::create(log).unwrap();
    let run = Proc(
        callpulse()
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap(),
    );
    wait_until("callpulse /healthz", Duration::from_secs(30), || {
        TcpStream::connect(http).is_ok() && http_get(http, "/healthz").0 == 200
    });
    run
}

/// `callpulse mock-broker` with `topic` created, and its bootstrap servers (its first line). Its
/// stdin stays open until the `Proc` is dropped (or `stdin` taken): it stops when it closes.
pub fn start_mock_broker(topic: &str, partitions: i32) -> (Proc, String) {
    let mut child = callpulse()
        .args([
            "mock-broker",
            "--topic",
            topic,
            "--topic",
            "callpulse.checkpoints",
        ])
        .arg("--partitions")
        .arg(partitions.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let brokers = line.trim().to_string();
    assert!(brokers.contains(':'), "bootstrap servers, got {line:?}");
    (Proc(child), brokers)
}

/// A tansu broker on `127.0.0.1:port` with `storage` (`memory://tansu/`, or `sqlite://FILE`
/// with FILE relative to `dir`, its working directory), once it listens. Needs
/// `CALLPULSE_TANSU` (the broker binary; `scripts/test` builds it once).
pub fn start_tansu_at(port: u16, storage: &str, dir: &Path) -> Proc {
    let bin = std::env::var("CALLPULSE_TANSU")
        .expect("CALLPULSE_TANSU: path to the tansu broker (scripts/test sets it)");
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            storage,
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tansu");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until("tansu to listen", Duration::from_secs(30), || {
        TcpStream::connect(addr).is_ok()
    });
    Proc(child)
}

/// A tansu broker in memory on a free port, and its bootstrap address.
pub fn start_tansu() -> (Proc, String) {
    let port = free_port();
    (
        start_tansu_at(port, "memory://tansu/", &std::env::temp_dir()),
        format!("127.0.0.1:{port}"),
    )
}
