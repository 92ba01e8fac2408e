//! Several `callpulse run` processes in one consumer group against a broker process, with a
//! producer running throughout: a member killed with SIGKILL, scaling one → three → one, a
//! rolling restart, and the broker itself restarted. After each, the cumulative counters the
//! instances export, summed, equal `callpulse replay` of exactly the events produced: nothing
//! lost, nothing counted twice.
//!
//! The group tests use `callpulse mock-broker` (librdkafka's mock cluster in its own process),
//! whose coordinator expires dead members; tansu 0.6.0 does not (docs/scaling.md). The
//! broker-restart test needs tansu (`CALLPULSE_TANSU`) for its `sqlite://` storage.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use callpulse::kafka::plain_config;
use callpulse::time::{format_rfc3339, Millis};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::kafka::http_get;
use crate::support::{
    callpulse, eventually, free_port, sample, start_mock_broker, start_run, start_tansu_at,
    succeed, Proc,
};
use crate::traffic::{Produced, Traffic};

pub(crate) const TOPIC: &str = "callcenter.events";
/// Simulated seconds per wall second: about 60 events a second at the simulator's rate 3.
pub(crate) const SPEED: f64 = 4.0;
/// The simulated clock stays at least this far behind the wall clock (so the closing markers,
/// [`CLOSE_AFTER`] after the last event, are in the past too) …
pub(crate) const BEHIND: Millis = 90_000;
/// … and the markers that close the traffic, one per partition, come this long after its last
/// event: beyond every fact decided by time alone (a waiting contact misses the 20 s service
/// level threshold) plus the allowed lateness (5 s), so each partition's counters are final for
/// everything produced, as `replay --at` the markers' instant counts it.
pub(crate) const CLOSE_AFTER: Millis = 60_000;
const ORDERLY_STOP: Duration = Duration::from_secs(30);
/// Partitions that resumed from a checkpoint.
const RESTORED: &str = "callpulse_checkpoint_loads_total{outcome=\"restored\"}";

/// Group changes: a dead member expires after the 6 s session timeout, then one rebalance.
const REBALANCED: Duration = Duration::from_secs(60);

/// One scenario's consumer group: its directory (configs, logs, the produced events), broker
/// and topic.
struct Group {
    dir: PathBuf,
    brokers: String,
    id: String,
    partitions: i32,
    started: Instant,
    /// The broker-side group protocol of KIP-848 (`group.protocol = consumer`) instead of the
    /// classic one with its client-side session timeout.
    broker_side: bool,
}

/// One `callpulse run` process of the group, with its own config and HTTP port.
struct Instance {
    name: &'static str,
    config: PathBuf,
    http: SocketAddr,
    log: PathBuf,
    starts: u32,
    proc: Proc,
}

impl Group {
    fn new(scenario: &str, brokers: String, partitions: i32) -> Group {
        let dir =
            std::env::temp_dir().join(format!("callpulse-scale-{scenario}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Group {
            dir,
            brokers,
            id: format!("scale-{scenario}"),
            partitions,
            started: Instant::now(),
            broker_side: false,
        }
    }

    /// A group on a `callpulse mock-broker` process of its own (stopped when the `Proc` drops).
    fn on_mock_broker(scenario: &str, partitions: i32) -> (Proc, Group) {
        let (broker, brokers) = start_mock_broker(TOPIC, partitions);
        (broker, Group::new(scenario, brokers, partitions))
    }

    /// Stops the producer, checks the counts ([`Group::assert_counts_equal_replay`]), reports
    /// the run's size and time, and removes the group's files.
    fn finish(self, traffic: Traffic, instances: &[&Instance]) {
        let produced = traffic.finish();
        self.assert_counts_equal_replay(instances, &produced);
        eprintln!(
            "{}: {} events, {:.1} s",
            self.id,
            produced.lines.len(),
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn start(&self, name: &'static str) -> Instance {
        self.start_with(name, "")
    }

    /// An instance with static membership (`instance_id` = its name).
    fn start_static(&self, name: &'static str) -> Instance {
        self.start_with(name, &format!("instance_id = \"{name}\"\n"))
    }

    /// An instance with `kafka` added to its `[kafka]` table.
    fn start_with(&self, name: &'static str, kafka: &str) -> Instance {
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = self.dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[engine]\nallowed_lateness = \"5s\"\n\
                 [kafka]\nbrokers = \"{}\"\ntopics = [\"{TOPIC}\"]\ngroup_id = \"{}\"\n\
                 checkpoint_interval = \"2s\"\n{kafka}\
                 [kafka.properties]\n{}\
                 [http]\nlisten = \"{http}\"\n",
                self.brokers,
                self.id,
                if self.broker_side {
                    // the session is the broker's (30 s on the mock broker)
                    "\"group.protocol\" = \"consumer\"\n"
                } else {
                    "\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"\n"
                }
            ),
        )
        .unwrap();
        let log = self.dir.join(format!("{name}.1.log"));
        let proc = start_run(&config, http, &log);
        Instance {
            name,
            config,
            http,
            log,
            starts: 1,
            proc,
        }
    }

    /// Waits until every partition is owned by exactly one of `instances` and each owns some.
    fn wait_owners(&self, instances: &[&Instance]) {
        eventually(REBALANCED, || {
            let owned: Vec<Vec<i32>> = instances.iter().map(|i| i.owned()).collect();
            let mut all: Vec<i32> = owned.iter().flatten().copied().collect();
            all.sort_unstable();
            let spread = all == (0..self.partitions).collect::<Vec<_>>()
                && owned.iter().all(|o| !o.is_empty());
            spread.then_some(()).ok_or_else(|| {
                let who: Vec<String> = instances.iter().map(|i| i.name.to_string()).collect();
                format!(
                    "{who:?} to own partitions 0..{}: {owned:?}",
                    self.partitions
                )
            })
        });
    }

    /// Once the producer stopped: waits until every partition is read to its end by exactly one
    /// of `instances`, they are ready and their counters have stood still for 1.5 s; then their
    /// counters summed must equal `callpulse replay` of the produced events at the close.
    fn assert_counts_equal_replay(&self, instances: &[&Instance], produced: &Produced) {
        let probe: BaseConsumer = plain_config(&self.brokers).create().unwrap();
        let high: BTreeMap<i32, i64> = (0..self.partitions)
            .map(|p| {
                let (_, high) = probe
                    .fetch_watermarks(TOPIC, p, Duration::from_secs(10))
                    .unwrap();
                (p, high)
            })
            .collect();
        let total: i64 = high.values().sum();
        assert!(
            total >= produced.lines.len() as i64,
            "the topic holds {total} of the {} messages produced",
            produced.lines.len()
        );
        let mut still: Option<(BTreeMap<String, f64>, Instant)> = None;
        let live = eventually(Duration::from_secs(120), || {
            let texts: Vec<String> = instances.iter().map(|i| i.metrics()).collect();
            let mut read: Vec<(i32, i64)> = texts.iter().flat_map(|t| positions(t)).collect();
            read.sort_unstable();
            let expected: Vec<(i32, i64)> = high.iter().map(|(p, h)| (*p, *h)).collect();
            if read != expected {
                return Err(format!("positions {read:?}, high watermarks {expected:?}"));
            }
            let lagging = texts
                .iter()
                .flat_map(|t| t.lines())
                .any(|l| l.starts_with("callpulse_consumer_lag_messages{") && !l.ends_with(" 0"));
            let unready = instances
                .iter()
                .filter(|i| http_get(i.http, "/readyz").0 != 200)
                .map(|i| i.name)
                .collect::<Vec<_>>();
            if lagging || !unready.is_empty() {
                return Err(format!("lag reported: {lagging}; not ready: {unready:?}"));
            }
            let sum = summed(&texts);
            match &still {
                Some((last, since)) if *last == sum => {
                    if since.elapsed() >= Duration::from_millis(1500) {
                        return Ok(sum);
                    }
                }
                _ => still = Some((sum, Instant::now())),
            }
            Err("counters still moving".into())
        });
        let file = self.dir.join("produced.jsonl");
        std::fs::write(&file, produced.lines.join("\n") + "\n").unwrap();
        let out = succeed(
            callpulse()
                .args(["replay", "--config"])
                .arg(&instances[0].config)
                .args(["--at", &format_rfc3339(produced.close_at)])
                .arg(&file),
        );
        let report = String::from_utf8_lossy(&out.stderr);
        assert!(
            report.contains(&format!(
                "0 rejected, {} after --at (not applied)",
                self.partitions
            )),
            "every event applied, only the closing markers left out: {report}"
        );
        let expected = counters(&String::from_utf8(out.stdout).unwrap());
        assert_same_counts(&live, &expected);
    }
}

impl Instance {
    fn metrics(&self) -> String {
        http_get(self.http, "/metrics").1
    }

    fn sample(&self, series: &str) -> f64 {
        sample(&self.metrics(), series).unwrap_or(0.0)
    }

    /// The partitions this instance owns now.
    fn owned(&self) -> Vec<i32> {
        positions(&self.metrics()).into_keys().collect()
    }

    /// A graceful stop (SIGTERM): it must exit 0 after committing its offsets.
    fn stop(&mut self) {
        let status = self.proc.terminate(ORDERLY_STOP);
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            status.success(),
            "{} exit on SIGTERM: {status}\n{log}",
            self.name
        );
        assert!(log.contains("offsets committed"), "{}: {log}", self.name);
    }

    /// A new process on the same config (after [`Instance::stop`]).
    fn start_again(&mut self) {
        self.starts += 1;
        self.log = self
            .log
            .with_file_name(format!("{}.{}.log", self.name, self.starts));
        self.proc = start_run(&self.config, self.http, &self.log);
    }

    /// Waits until this instance has processed `n` messages since it started.
    fn wait_processed(&self, n: f64) {
        self.wait_sample("callpulse_messages_processed_total", n);
    }

    /// Waits until `series` reaches `n` on this instance.
    fn wait_sample(&self, series: &str, n: f64) {
        eventually(REBALANCED, || {
            let seen = self.sample(series);
            (seen >= n)
                .then_some(())
                .ok_or_else(|| format!("{}: {series} {seen}, waiting for {n}", self.name))
        });
    }
}

/// Next offset to read per partition this instance owns (`callpulse_partition_position`).
fn positions(text: &str) -> BTreeMap<i32, i64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("callpulse_partition_position{"))
        .filter_map(|l| {
            let partition = l.split("partition=\"").nth(1)?.split('"').next()?;
            let value = l.rsplit(' ').next()?;
            Some((partition.parse().ok()?, value.parse::<f64>().ok()? as i64))
        })
        .collect()
}

/// The cumulative series of the contract's families: every `_total` counter and every bucket,
/// `_sum` and `_count` of the `_duration_seconds` histograms.
fn counters(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with("callcenter_"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            let cumulative = name.ends_with("_total")
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.ends_with(&format!("_duration_seconds{s}")));
            cumulative.then(|| (series.to_string(), value.parse().unwrap()))
        })
        .collect()
}

/// Every instance's counters added up, series by series.
fn summed(texts: &[String]) -> BTreeMap<String, f64> {
    let mut sum = BTreeMap::new();
    for (series, v) in texts.iter().flat_map(|t| counters(t)) {
        *sum.entry(series).or_insert(0.0) += v;
    }
    sum
}

/// Counts equal; the histograms' `_sum`s (seconds, added in another order) up to rounding.
fn assert_same_counts(live: &BTreeMap<String, f64>, replayed: &BTreeMap<String, f64>) {
    let mut differ = Vec::new();
    let keys: BTreeSet<&String> = live.keys().chain(replayed.keys()).collect();
    for key in keys {
        let (a, b) = (live.get(key), replayed.get(key));
        let same = match (a, b) {
            (Some(a), Some(b)) if key.contains("_sum{") => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if !same {
            differ.push(format!("{key}: instances {a:?}, replay {b:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} series differ:\n{}",
        differ.len(),
        replayed.len(),
        differ.join("\n")
    );
    let offered: f64 = replayed
        .iter()
        .filter(|(s, _)| s.starts_with("callcenter_contacts_offered_total"))
        .map(|(_, v)| v)
        .sum();
    assert!(
        offered > 100.0,
        "a real amount of traffic: {offered} offers"
    );
}

#[test]
#[ignore = "several processes for half a minute: scripts/test runs it (--include-ignored)"]
fn a_killed_instance_s_partitions_go_to_the_survivor_and_nothing_is_lost_or_counted_twice() {
    let (_broker, group) = Group::on_mock_broker("kill", 6);
    let traffic = Traffic::start(&group.brokers, group.partitions, 11);
    let a = group.start("a");
    let b = group.start("b");
    group.wait_owners(&[&a, &b]);
    b.wait_processed(200.0);
    // a periodic checkpoint of each of its three partitions (every 2 s here)
    b.wait_sample("callpulse_checkpoints_written_total", 3.0);
    let rebalances = a.sample("callpulse_rebalances_total");
    drop(b); // SIGKILL mid-stream: no commit, no LeaveGroup
    let killed = Instant::now();
    group.wait_owners(&[&a]);
    eprintln!(
        "kill: the survivor owns every partition {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    assert!(a.sample("callpulse_rebalances_total") > rebalances);
    // the partitions taken over resume from the killed instance's periodic checkpoints
    a.wait_sample(RESTORED, 1.0);
    traffic.wait_more(300);
    group.finish(traffic, &[&a]);
}

#[test]
#[ignore = "several processes for half a minute: scripts/test runs it (--include-ignored)"]
fn scaling_one_to_three_to_one_under_load_loses_and_doubles_nothing() {
    let (_broker, group) = Group::on_mock_broker("scale", 6);
    let traffic = Traffic::start(&group.brokers, group.partitions, 12);
    let a = group.start("a");
    group.wait_owners(&[&a]);
    a.wait_processed(200.0);
    let mut b = group.start("b");
    let mut c = group.start("c");
    group.wait_owners(&[&a, &b, &c]);
    // the partitions handed over resume from the checkpoints `a` wrote when they were revoked
    // (a partition shows as owned while its checkpoint still loads: wait for the count)
    eventually(REBALANCED, || {
        let restored = b.sample(RESTORED) + c.sample(RESTORED);
        (restored >= 1.0)
            .then_some(())
            .ok_or_else(|| format!("b and c restored {restored} partitions"))
    });
    c.wait_processed(100.0);
    traffic.wait_more(300);
    c.stop();
    group.wait_owners(&[&a, &b]);
    traffic.wait_more(200);
    b.stop();
    group.wait_owners(&[&a]);
    traffic.wait_more(300);
    group.finish(traffic, &[&a]);
}

#[test]
#[ignore = "several processes for half a minute: scripts/test runs it (--include-ignored)"]
fn a_rolling_restart_of_every_instance_loses_and_doubles_nothing() {
    let (_broker, group) = Group::on_mock_broker("rolling", 6);
    let traffic = Traffic::start(&group.brokers, group.partitions, 13);
    let mut instances = [group.start("a"), group.start("b"), group.start("c")];
    group.wait_owners(&instances.iter().collect::<Vec<_>>());
    for i in 0..instances.len() {
        traffic.wait_more(200);
        instances[i].stop();
        instances[i].start_again();
        group.wait_owners(&instances.iter().collect::<Vec<_>>());
    }
    traffic.wait_more(200);
    group.finish(traffic, &instances.iter().collect::<Vec<_>>());
}

#[test]
#[ignore = "several processes for half a minute: scripts/test runs it (--include-ignored)"]
fn a_member_restarting_does_not_stop_the_others_partitions() {
    // cooperative-sticky: a rebalance revokes only what moves; with the eager protocol every
    // member gives up every partition at each rebalance (its assignment drops to 0)
    let (_broker, group) = Group::on_mock_broker("cooperative", 6);
    let traffic = Traffic::start(&group.brokers, group.partitions, 15);
    let a = group.start_static("a");
    let mut b = group.start_static("b");
    group.wait_owners(&[&a, &b]);
    traffic.wait_more(200);
    let rebalances = a.sample("callpulse_rebalances_total");
    b.stop();
    b.start_again();
    group.wait_owners(&[&a, &b]);
    traffic.wait_more(200);
    assert!(
        a.sample("callpulse_rebalances_total") > rebalances,
        "b's restart was a rebalance"
    );
    let log = std::fs::read_to_string(&a.log).unwrap_or_default();
    // without the terminal colours: `\x1b[...m`
    let mut plain = String::with_capacity(log.len());
    let mut in_escape = false;
    for c in log.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (false, c) => plain.push(c),
            (true, _) => {}
        }
    }
    let sizes: Vec<&str> = plain
        .lines()
        .filter_map(|l| l.split("assignment").nth(1))
        .filter_map(|l| l.split("partitions").nth(1))
        .map(|l| l.trim_start_matches(|c: char| !c.is_ascii_digit()))
        .map(|l| l.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""))
        .collect();
    let first = sizes
        .iter()
        .position(|n| *n != "0")
        .expect("a got partitions");
    assert!(
        !sizes[first..].contains(&"0"),
        "a gave up every partition during b's restart: assignments {sizes:?}"
    );
    group.finish(traffic, &[&a, &b]);
}

#[test]
#[ignore = "several processes for half a minute: scripts/test runs it (--include-ignored)"]
fn a_static_member_restarting_within_its_session_moves_no_partition() {
    // static membership under the broker-side protocol (KIP-848): a member that leaves with
    // its `group.instance.id` keeps its partitions through the session; back within it, it
    // gets the same ones and the other member's assignment never changes
    let (_broker, mut group) = Group::on_mock_broker("static", 6);
    group.broker_side = true;
    let traffic = Traffic::start(&group.brokers, group.partitions, 15);
    let a = group.start_static("a");
    let mut b = group.start_static("b");
    group.wait_owners(&[&a, &b]);
    traffic.wait_more(200);
    let (of_a, of_b) = (a.owned(), b.owned());
    let rebalances = a.sample("callpulse_rebalances_total");
    b.stop();
    // while b is away its partitions stay its own: none moves to a
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.owned(), of_a, "a took b's partitions while b restarted");
    b.start_again();
    group.wait_owners(&[&a, &b]);
    traffic.wait_more(200);
    assert_eq!(b.owned(), of_b, "b came back to other partitions");
    assert_eq!(a.owned(), of_a);
    assert_eq!(
        a.sample("callpulse_rebalances_total"),
        rebalances,
        "b's restart reached a as a rebalance"
    );
    group.finish(traffic, &[&a, &b]);
}

#[test]
#[ignore = "needs a tansu broker process: run by scripts/test with CALLPULSE_TANSU set"]
fn a_broker_restart_on_the_same_storage_loses_and_doubles_nothing() {
    let port = free_port();
    let group = Group::new("broker", format!("127.0.0.1:{port}"), 4);
    let storage = "sqlite://tansu.db"; // in the group's directory
    let broker = start_tansu_at(port, storage, &group.dir);
    callpulse::tools::bench::create_topic(&group.brokers, TOPIC, 4).expect("create topic");
    let traffic = Traffic::start(&group.brokers, group.partitions, 14);
    let a = group.start("a");
    group.wait_owners(&[&a]);
    traffic.wait_more(1000);
    a.wait_processed(1000.0);
    drop(broker); // SIGKILL
    eventually(Duration::from_secs(30), || {
        (http_get(a.http, "/readyz").0 != 200)
            .then_some(())
            .ok_or_else(|| "the instance to notice the broker is gone".to_string())
    });
    let _broker = start_tansu_at(port, storage, &group.dir);
    let processed = a.sample("callpulse_messages_processed_total");
    traffic.wait_more(1000);
    a.wait_processed(processed + 1000.0);
    group.finish(traffic, &[&a]);
}

#[test]
fn mock_broker_serves_its_topic_and_stops_when_its_stdin_closes() {
    let (mut broker, brokers) = start_mock_broker(TOPIC, 2);
    let probe: BaseConsumer = plain_config(&brokers).create().unwrap();
    let metadata = probe
        .fetch_metadata(Some(TOPIC), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 2);
    drop(broker.0.stdin.take());
    let status = eventually(Duration::from_secs(10), || {
        broker
            .0
            .try_wait()
            .unwrap()
            .ok_or("still running".to_string())
    });
    assert!(status.success(), "{status}");
}
