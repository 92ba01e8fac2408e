//! Throughput of a consumer group of 1, 2 and 3 `callpulse run` processes draining the same
//! pre-filled 8-partition topic on a tansu broker: messages per second from the first message
//! processed to the last, summed over the group's instances, side by side in one run.
//!
//! `CALLPULSE_TANSU=<tansu binary> cargo bench --bench group [-- EVENTS]` (default 300,000
//! events; `tests/tools/tansu.sh` builds and prints the binary). Each round uses its own group,
//! so every round reads the whole topic; rounds alternate 1, 2, 3, 1, 2, 3.

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
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn processed(addr: SocketAddr) -> f64 {
    get(addr, "/metrics")
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("callpulse_messages_processed_total "))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        })
        .unwrap_or(0.0)
}

fn tansu(dir: &Path) -> (Killed, String) {
    let bin = std::env::var("CALLPULSE_TANSU").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/callpulse/tansu-0.6.0/bin/tansu")
    });
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
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
fn fill(brokers: &str, n: usize) {
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
                producer.send(BaseRecord::to(TOPIC).key(&e.key).payload(&e.json))
            {
                assert!(
                    matches!(err.rdkafka_error_code(), Some(rdkafka::types::RDKafkaErrorCode::QueueFull)),
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

fn instance(dir: &Path, brokers: &str, group: &str, name: &str) -> (Killed, SocketAddr) {
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config: PathBuf = dir.join(format!("{group}-{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"{TOPIC}\"]\ngroup_id = \"{group}\"\n\
             checkpoint_topic = \"\"\n[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\
             \"heartbeat.interval.ms\" = \"500\"\n[http]\nlisten = \"{http}\"\n[log]\nlevel = \"warn\"\n"
        ),
    )
    .expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_callpulse"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("callpulse run");
    (Killed(child), http)
}

/// Events per second for a group of `k` instances draining the topic (`n` messages).
fn round(dir: &Path, brokers: &str, k: usize, round: usize, n: f64) -> f64 {
    let group = format!("bench-{k}-{round}");
    let instances: Vec<_> = (0..k)
        .map(|i| instance(dir, brokers, &group, &format!("i{i}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<Instant> = None;
    loop {
        let done: f64 = instances.iter().map(|(_, a)| processed(*a)).sum();
        if done > 0.0 && first.is_none() {
            first = Some(Instant::now());
        }
        if done >= n {
            let started = first.unwrap_or_else(Instant::now);
            return n / started.elapsed().as_secs_f64().max(1e-3);
        }
        assert!(Instant::now() < deadline, "{k} instances processed {done} of {n}");
        std::thread::sleep(Duration::from_millis(50));
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
    create_topic(&brokers, TOPIC, PARTITIONS).expect("create topic");
    fill(&brokers, n);
    let mut rates: [Vec<f64>; 3] = Default::default();
    for r in 0..2 {
        for k in 1..=3 {
            let rate = round(&dir, &brokers, k, r, n as f64);
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
