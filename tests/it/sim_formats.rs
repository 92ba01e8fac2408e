//! The simulator's traffic in a platform's format: a day written as Asterisk queue_log lines and
//! read back through the `asterisk` adapter gives the counts of the same day in docs/events.md JSON,
//! and durations that differ only by queue_log's whole-second clock; the `simulate --format`
//! lines convert without a reject; `demo --input asterisk|freeswitch|taskrouter` serves the
//! adapter's numbers. The same day as Amazon Connect records gives the JSON day's KPIs except
//! what contact events lack.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::config::{Config, InputConfig, InputFormat};
use callpulse::kpi::{Durations, Measure, WindowAgg};
use callpulse::replay::{replay_input, Replayed};
use callpulse::time::{Millis, Span, HOUR};
use callpulse::tools::demo::{self, DemoOptions};
use callpulse::tools::sim::platform::SimFormat;
use callpulse::tools::sim::{Scenario, SimConfig};

use crate::kafka::http_get;
use crate::support::{input_records, simulated, succeed};

/// 2026-11-23T00:00:00Z, a Monday.
const MONDAY: Millis = 1_795_392_000_000;

fn replayed(config: &Arc<Config>, format: InputFormat, lines: &[String], at: Millis) -> Replayed {
    let input = InputConfig {
        format,
        ..InputConfig::default()
    };
    let r = replay_input(
        config.clone(),
        &input,
        lines.join("\n").as_bytes(),
        Some(at),
    )
    .expect("replay");
    assert_eq!(r.stats.rejected_total(), 0, "{format:?}: {:?}", r.stats);
    r
}

/// `a` and `b` within `tolerance_s` seconds plus the distribution's resolution (1/1024 of the
/// value above 2 s).
fn close(what: &str, a: Option<f64>, b: Option<f64>, tolerance_s: f64) {
    let (Some(a), Some(b)) = (a, b) else {
        assert_eq!(a.is_some(), b.is_some(), "{what}: {a:?} vs {b:?}");
        return;
    };
    let allowed = tolerance_s + a.abs().max(b.abs()) / 1024.0;
    assert!((a - b).abs() <= allowed, "{what}: {a} vs {b}");
}

/// A day of traffic in both formats, replayed at 23:59 (every queue's `today` is the day). What
/// is compared, per queue, and why:
/// - **identical**: contacts offered, answered, abandoned (short and not short together),
///   overflowed and transferred; conversations completed (the handle distribution's count) and
///   waits measured; the agents by state at the end. Counts do not depend on the clock, and
///   every simulated event they rest on has a queue_log verb.
/// - **within one second** (plus the distribution's resolution, 1/1024 of the value): the mean
///   and the 50th and 90th percentiles of wait and of handle time (talk + hold + wrap-up). Each
///   value is the difference of two instants; rounding both down to the second moves it by less
///   than a second, so the mean and any order statistic move by less than a second too.
/// - **talk**: queue_log has no holds, so the Asterisk talk time includes them (its hold is 0):
///   its mean is within a second of the JSON's talk + hold.
/// - **service level** within 1 point, not exactly: a wait within a second of the threshold can
///   land on either side of it. For the same reason short and long abandons are not compared
///   apart (a 4.x s wait reads 5 s about x of the time: the whole-second log has fewer short
///   abandons).
///
/// Not compared: surveys, holds and channels other than voice, which queue_log does not record.
#[test]
fn a_day_as_asterisk_lines_gives_the_counts_of_the_same_day_in_json() {
    // a normal day, and one with the outage (most agents pause and come back at once)
    for (queues, scenario, seed) in [(4, Scenario::Normal, 11), (5, Scenario::Outage, 3)] {
        let mut sim = SimConfig {
            queues,
            rate: 0.5,
            scenario,
            seed,
            start_ms: MONDAY,
            ..SimConfig::default()
        };
        sim.agents = sim.recommended_agents();
        same_day(&sim);
    }
}

fn same_day(sim: &SimConfig) {
    let end = MONDAY + 24 * HOUR - 60_000;
    let json = simulated(sim, end, SimFormat::Callpulse);
    let lines = simulated(sim, end, SimFormat::Asterisk);
    assert!(lines.iter().all(|l| !l.starts_with('{')));
    let config = Arc::new(Config::default());
    let from_json = replayed(&config, InputFormat::Callpulse, &json, end);
    let from_log = replayed(&config, InputFormat::Asterisk, &lines, end);
    let (a, b) = (&from_json.snapshot, &from_log.snapshot);
    let today = a.window_index("today").expect("today");
    assert_eq!(a.queues.len(), sim.queues);
    assert_eq!(b.queues.len(), sim.queues);
    for (qa, qb) in a.queues.iter().zip(&b.queues) {
        let name = &qa.name;
        assert_eq!(name, &qb.name);
        let (wa, wb): (&WindowAgg, &WindowAgg) = (&qa.windows[today], &qb.windows[today]);
        let ta = &wa.tally;
        let counts = |w: &WindowAgg| {
            let t = &w.tally;
            [
                t.offered,
                t.answered,
                t.abandoned + t.abandoned_short,
                t.overflowed,
                t.transferred,
                w.completed(),
                w.dist(Measure::Wait).count(),
            ]
        };
        assert_eq!(
            counts(wa),
            counts(wb),
            "{name}: offered, answered, abandoned, overflowed, transferred, completed, waits"
        );
        assert!(ta.offered > 300, "{name}: {}", ta.offered);
        assert_eq!(qa.agents, qb.agents, "{name}: agents by state at the end");
        for m in [Measure::Wait, Measure::Handle] {
            let (da, db) = (wa.dist(m), wb.dist(m));
            let what = |s: &str| format!("{name} {m:?} {s}");
            close(&what("mean"), da.mean_seconds(), db.mean_seconds(), 1.0);
            for q in [500, 900] {
                close(
                    &what(&format!("p{}", q / 10)),
                    da.quantile_seconds(q),
                    db.quantile_seconds(q),
                    1.0,
                );
            }
        }
        let n = wa.completed() as f64;
        let talk_and_hold =
            (wa.dist(Measure::Talk).sum_seconds() + wa.dist(Measure::Hold).sum_seconds()) / n;
        let talk = wb.dist(Measure::Talk).sum_seconds() / n;
        close(
            &format!("{name} talk"),
            Some(talk_and_hold),
            Some(talk),
            1.0,
        );
        assert_eq!(wb.dist(Measure::Hold).sum_ms(), 0, "{name}: no holds");
        let sl = |q: &callpulse::snapshot::QueueSnapshot, w: &WindowAgg| {
            w.service_level(q.settings.sl_formula).unwrap_or(f64::NAN)
        };
        let (sa, sb) = (sl(qa, wa), sl(qb, wb));
        assert!((sa - sb).abs() <= 0.01, "{name}: SL {sa} vs {sb}");
    }
}

/// A day of traffic as Amazon Connect contact events and agent event stream records, replayed
/// like the JSON day. Connect keeps milliseconds, so what contact events carry is identical:
/// offered, answered, abandoned (short ones apart too), overflowed (the writer marks a routing
/// disconnect), conversations completed, every wait, handle time (talk + hold + wrap-up), the
/// service level and the agents by state at the end. What they cannot carry is checked as
/// missing: no holds (talk includes them) and no transfers (a transfer reads as an end).
#[test]
fn a_day_as_connect_records_gives_the_kpis_of_the_same_day_in_json() {
    let mut sim = SimConfig {
        queues: 4,
        rate: 0.5,
        seed: 7,
        start_ms: MONDAY,
        ..SimConfig::default()
    };
    sim.agents = sim.recommended_agents();
    let end = MONDAY + 24 * HOUR - 60_000;
    let json = simulated(&sim, end, SimFormat::Callpulse);
    let records = simulated(&sim, end, SimFormat::Connect);
    let config = Arc::new(Config::default());
    let from_json = replayed(&config, InputFormat::Callpulse, &json, end);
    let from_connect = replayed(&config, InputFormat::Connect, &records, end);
    let (a, b) = (&from_json.snapshot, &from_connect.snapshot);
    let today = a.window_index("today").expect("today");
    assert_eq!(b.queues.len(), sim.queues);
    let mut transfers = 0;
    for (qa, qb) in a.queues.iter().zip(&b.queues) {
        let name = &qa.name;
        assert_eq!(name, &qb.name);
        let (wa, wb) = (&qa.windows[today], &qb.windows[today]);
        let counts = |w: &WindowAgg| {
            let t = &w.tally;
            [
                t.offered,
                t.answered,
                t.abandoned,
                t.abandoned_short,
                t.overflowed,
                w.completed(),
            ]
        };
        assert_eq!(counts(wa), counts(wb), "{name}");
        assert!(wa.tally.offered > 300, "{name}: {}", wa.tally.offered);
        assert_eq!(qa.agents, qb.agents, "{name}: agents by state at the end");
        for m in [Measure::Wait, Measure::Handle] {
            assert_eq!(wa.dist(m).count(), wb.dist(m).count(), "{name} {m:?}");
            assert_eq!(wa.dist(m).sum_ms(), wb.dist(m).sum_ms(), "{name} {m:?}");
        }
        assert_eq!(
            wa.dist(Measure::Talk).sum_ms() + wa.dist(Measure::Hold).sum_ms(),
            wb.dist(Measure::Talk).sum_ms(),
            "{name}: talk includes the holds"
        );
        assert_eq!(wb.dist(Measure::Hold).sum_ms(), 0, "{name}: no holds");
        assert_eq!(
            wb.tally.transferred, 0,
            "{name}: a transfer reads as an end"
        );
        transfers += wa.tally.transferred;
        let sl = |q: &callpulse::snapshot::QueueSnapshot, w: &WindowAgg| {
            w.service_level(q.settings.sl_formula)
        };
        assert_eq!(sl(qa, wa), sl(qb, wb), "{name}: service level");
    }
    assert!(transfers > 0, "the day has transfers");
}

fn callpulse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callpulse"))
}

#[test]
fn simulate_format_asterisk_writes_lines_that_convert_without_a_reject() {
    let out = succeed(callpulse().args([
        "simulate",
        "--format",
        "asterisk",
        "--out",
        "-",
        "--start",
        "2026-11-23T09:00:00Z",
        "--until",
        "2026-11-23T10:00:00Z",
        "--rate",
        "0.5",
        "--seed",
        "5",
    ]));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines.len() > 1000, "{} lines", lines.len());
    for l in &lines {
        let fields: Vec<&str> = l.split('|').collect();
        assert!(fields.len() >= 6, "{l}");
        let epoch: i64 = fields[0].parse().unwrap_or_else(|_| panic!("{l}"));
        assert!((1_795_424_400..1_795_428_000).contains(&epoch), "{l}");
    }
    for verb in [
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETE",
        "WRAPUPSTART",
        "ADDMEMBER",
        "PAUSE",
    ] {
        assert!(text.contains(&format!("|{verb}")), "no {verb}");
    }
    let mut convert = callpulse()
        .args(["convert", "--input", "asterisk", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("convert");
    let mut stdin = convert.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(text.as_bytes()).expect("write");
    });
    let converted = convert.wait_with_output().expect("convert");
    writer.join().expect("writer");
    assert!(converted.status.success());
    let err = String::from_utf8_lossy(&converted.stderr);
    assert!(!err.contains("rejected"), "{err}");
    let events = String::from_utf8(converted.stdout).expect("UTF-8");
    assert!(events.lines().count() > lines.len() / 2);
    assert!(events.lines().all(|e| e.starts_with('{')));
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("address")
}

/// The sum of every sample of `family` whose labels contain `label`.
fn total(text: &str, family: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_asterisk_input_serves_the_adapters_numbers() {
    demo_serves_the_adapters_numbers(
        SimFormat::Asterisk,
        "format=\"asterisk\",kind=\"enterqueue\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_freeswitch_input_serves_the_adapters_numbers() {
    demo_serves_the_adapters_numbers(
        SimFormat::Freeswitch,
        "format=\"freeswitch\",kind=\"member_queue_start\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_taskrouter_input_serves_the_adapters_numbers() {
    demo_serves_the_adapters_numbers(
        SimFormat::Taskrouter,
        "format=\"taskrouter\",kind=\"task_queue_entered\"",
    )
    .await;
}

/// `demo --input <input>` serves KPIs read through the adapter: records of `kind` (its labels)
/// counted, none of docs/events.md JSON.
async fn demo_serves_the_adapters_numbers(input: SimFormat, kind: &str) {
    let addr = free_addr();
    let opts = DemoOptions {
        listen: Some(addr.to_string()),
        config: None,
        sim: SimConfig {
            rate: 1.0,
            agents: 40,
            ..SimConfig::default()
        },
        backfill: Some(Span::from_secs(600)),
        input,
        compress: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // the demo's future holds the mock cluster (not `Send`): it runs beside the scraper
    let running = demo::run(opts, async move {
        let _ = stopped.await;
    });
    let scrape = async move {
        let deadline = Instant::now() + Duration::from_secs(90);
        let text = loop {
            let text = tokio::task::spawn_blocking(move || {
                std::net::TcpStream::connect(addr)
                    .map(|_| http_get(addr, "/metrics").1)
                    .unwrap_or_default()
            })
            .await
            .expect("scrape");
            let records = input_records(&text);
            let offered = total(&text, "callcenter_contacts_offered", "window=\"15m\"");
            if records > 0.0 && offered > 0.0 {
                break text;
            }
            assert!(
                Instant::now() < deadline,
                "records {records}, offered {offered}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        let _ = stop.send(());
        text
    };
    let (ran, text) = tokio::join!(running, scrape);
    ran.expect("demo");
    assert!(
        total(&text, "callpulse_input_records_total", kind) > 0.0,
        "{text}"
    );
    assert_eq!(
        total(
            &text,
            "callpulse_input_records_total",
            "format=\"callpulse\""
        ),
        0.0
    );
}

/// A simulated Monday replayed from docs/events.md JSON and from the same traffic written as
/// `format`'s records (each naming `marker`): every queue's `today` counts that `counts` picks,
/// and its waits, must be the JSON day's.
fn same_day_as(
    format: SimFormat,
    input: InputFormat,
    seed: u64,
    marker: &str,
    counts: fn(&WindowAgg) -> [i64; 5],
) {
    let mut sim = SimConfig {
        queues: 4,
        rate: 0.5,
        seed,
        start_ms: MONDAY,
        ..SimConfig::default()
    };
    sim.agents = sim.recommended_agents();
    let end = MONDAY + 24 * HOUR - 60_000;
    let json = simulated(&sim, end, SimFormat::Callpulse);
    let events = simulated(&sim, end, format);
    assert!(events.iter().all(|e| e.contains(marker)));
    let config = Arc::new(Config::default());
    let from_json = replayed(&config, InputFormat::Callpulse, &json, end);
    let from_platform = replayed(&config, input, &events, end);
    let (a, b) = (&from_json.snapshot, &from_platform.snapshot);
    let today = a.window_index("today").expect("today");
    assert_eq!(b.queues.len(), sim.queues);
    for (qa, qb) in a.queues.iter().zip(&b.queues) {
        let name = &qa.name;
        assert_eq!(name, &qb.name);
        let (wa, wb) = (&qa.windows[today], &qb.windows[today]);
        assert_eq!(counts(wa), counts(wb), "{name}");
        assert!(wa.tally.offered > 300, "{name}: {}", wa.tally.offered);
        let (da, db) = (wa.dist(Measure::Wait), wb.dist(Measure::Wait));
        assert_eq!(
            (da.count(), da.sum_ms()),
            (db.count(), db.sum_ms()),
            "{name}: waits"
        );
    }
}

/// A day of traffic as FreeSWITCH mod_callcenter events, replayed like the JSON day: the
/// simulator's milliseconds survive the µs clock, so every offer, answer, abandon and overflow
/// and every wait are the JSON day's. Wrap-up is silent in mod_callcenter (the input's
/// `wrapup_seconds` stands for it), so handle times are not compared.
#[test]
fn a_day_as_freeswitch_events_gives_the_queue_kpis_of_the_same_day_in_json() {
    same_day_as(
        SimFormat::Freeswitch,
        InputFormat::Freeswitch,
        11,
        "callcenter::info",
        |w| {
            let t = &w.tally;
            [
                t.offered,
                t.answered,
                t.abandoned,
                t.abandoned_short,
                t.overflowed,
            ]
        },
    );
}

/// A day of traffic as TaskRouter CloudEvents, replayed like the JSON day: TaskRouter keeps
/// milliseconds, so every offer, answer, abandon, overflow and transfer and every wait are the
/// JSON day's.
#[test]
fn a_day_as_taskrouter_events_gives_the_queue_kpis_of_the_same_day_in_json() {
    same_day_as(
        SimFormat::Taskrouter,
        InputFormat::Taskrouter,
        13,
        "com.twilio.taskrouter.",
        |w| {
            let t = &w.tally;
            [
                t.offered,
                t.answered,
                t.abandoned,
                t.overflowed,
                t.transferred,
            ]
        },
    );
}
