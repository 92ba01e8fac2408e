//! Throughput of a consumer group of 1, 2 and 3 `callpulse run` processes on an 8-partition
//! topic of a tansu broker: the group is formed first (on an empty topic of its own), then the
//! events are produced and drained; messages per second from the first produced to every
//! instance caught up, side by side in one run. (A group formed on a pre-filled topic would
//! measure rebalances: its first member reads while the others join. Resuming a moved partition
//! mid-log is also where tansu 0.6.0 misplaces offsets: docs/scaling.md.)
//!
//! `CALLPULSE_TANSU=<tansu binary> cargo bench --bench group [-- EVENTS]` (default 300,000
//! events; `tests/tools/tansu.sh` builds and prints the binary). Rounds alternate 1, 2, 3, 1, 2,
//! 3. The producer runs in this process at the same time: the machine's cores are shared by the
//! broker, the producer and the instances.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callpulse::clock::wall_now;
use callpulse::tools::bench::create_topic;
use callpulse::tools::sim::{SimConfig, Simulator};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const TOPIC: &str = "group.events";
const PARTITIONS: i32 = 8;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn tansu(dir: &Path) -> (Killed, String) {
    let bin = std::env::var("CALLPULSE_TANSU").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/callpulse/tansu-0.6.0/bin/tansu")
    });
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu (set CALLPULSE_TANSU; tests/tools/tansu.sh builds it)");
    let brokers = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&brokers).is_err() {
        assert!(Instant::now() < deadline, "tansu never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Killed(child), brokers)
}

/// Fills the topic with `n` simulated events of the last hours, keyed by contact.
fn fill(brokers: &str, topic: &str, n: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let now = wall_now();
    let mut sim = Simulator::new(SimConfig {
        queues: 50,
        rate: 40.0,
        start_ms: now - 6 * 3_600_000,
        flat: true,
        ..SimConfig::default()
    });
    let (mut sent, mut events, mut until) = (0, Vec::new(), now - 6 * 3_600_000);
    while sent < n && until < now {
        until += 60_000;
        events.clear();
        sim.advance(until, &mut events);
        for e in events.iter().take(n - sent) {
            while let Err((err, _)) =
                producer.send(BaseRecord::to(topic).key(&e.key).payload(&e.json))
            {
                assert!(
                    matches!(
                        err.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ),
                    "produce: {err}"
                );
                producer.poll(Duration::from_millis(10));
            }
            sent += 1;
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    assert_eq!(sent, n, "the simulator's last hours hold fewer events");
}

fn instance(
    dir: &Path,
    brokers: &str,
    topic: &str,
    group: &str,
    name: &str,
) -> (Killed, SocketAddr) {
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config: PathBuf = dir.join(format!("{group}-{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"{topic}\"]\ngroup_id = \"{group}\"\n\
             [kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\
             \"heartbeat.interval.ms\" = \"500\"\n{}[http]\nlisten = \"{http}\"\n",
            std::env::var("BENCH_PROPERTIES").unwrap_or_default()
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join(format!("{group}-{name}.log"))).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_callpulse"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("callpulse run");
    (Killed(child), http)
}

fn sum(addrs: &[SocketAddr], series: &str) -> f64 {
    addrs
        .iter()
        .filter_map(|a| get(*a, "/metrics"))
        .map(|text| {
            text.lines()
                .filter(|l| l.starts_with(series))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        })
        .sum()
}

/// Events per second for a group of `k` instances: the group is formed on an empty topic of
/// its own, then `n` events are produced and the group drains them; the time runs from the
/// first event produced to every instance caught up.
fn round(dir: &Path, brokers: &str, k: usize, round: usize, n: usize) -> f64 {
    let group = format!("bench-{k}-{round}");
    let topic = format!("{TOPIC}.{k}.{round}");
    create_topic(brokers, &topic, PARTITIONS).expect("create topic");
    let instances: Vec<_> = (0..k)
        .map(|i| instance(dir, brokers, &topic, &group, &format!("i{i}")))
        .collect();
    let addrs: Vec<SocketAddr> = instances.iter().map(|(_, a)| *a).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    // every instance holds partitions, all eight are taken, and it stays so for a second
    let mut settled = 0;
    while settled < 5 {
        let each: Vec<f64> = addrs
            .iter()
            .map(|a| sum(&[*a], "callpulse_assigned_partitions"))
            .collect();
        let formed = each.iter().all(|&p| p > 0.0) && each.iter().sum::<f64>() == PARTITIONS as f64;
        settled = if formed { settled + 1 } else { 0 };
        assert!(
            Instant::now() < deadline,
            "the group of {k} never formed: {each:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = Instant::now();
    fill(brokers, &topic, n);
    let mut last = -1.0;
    loop {
        let lag = sum(&addrs, "callpulse_consumer_lag_messages{");
        let done = sum(&addrs, "callpulse_messages_processed_total");
        if lag == 0.0 && done == last && done > 0.0 {
            return done / started.elapsed().as_secs_f64();
        }
        last = done;
        assert!(
            Instant::now() < deadline + Duration::from_secs(600),
            "{k} instances: lag {lag}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    let dir = std::env::temp_dir().join(format!("callpulse-bench-group-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (_broker, brokers) = tansu(&dir);
    let mut rates: [Vec<f64>; 3] = Default::default();
    for r in 0..2 {
        for k in 1..=3 {
            let rate = round(&dir, &brokers, k, r, n);
            eprintln!("round {r}: {k} instance(s): {:.0} events/s", rate);
            rates[k - 1].push(rate);
        }
    }
    println!("| instances | events/s (two rounds) | vs 1 instance |");
    println!("|---|---|---|");
    let one: f64 = rates[0].iter().sum::<f64>() / rates[0].len() as f64;
    for (k, r) in rates.iter().enumerate() {
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        let list: Vec<String> = r.iter().map(|v| format!("{:.0}k", v / 1e3)).collect();
        println!("| {} | {} | {:.2} × |", k + 1, list.join(" / "), mean / one);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
