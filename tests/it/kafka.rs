//! Ingest against librdkafka's mock cluster: the live service gives the numbers `replay`
//! gives, bad messages are counted and dead-lettered, and a restart loses nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::clock::wall_now;
use callpulse::config::Config;
use callpulse::export::{render, Exposition};
use callpulse::kafka::REJECT_HEADER;
use callpulse::replay::replay;
use callpulse::tools::sim::{SimConfig, SimEvent, Simulator};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::{sample, stable_windows};

pub(crate) const TOPIC: &str = "events";

/// A plain HTTP/1.1 GET; returns (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // chunked transfer: drop the chunk-size lines
    if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body.as_str();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n.min(tail.len())]);
            rest = tail.get(n + 2..).unwrap_or("");
        }
        return (status, out);
    }
    (status, body)
}

/// Simulated traffic that happened between 12 and 2 minutes ago, plus bad messages.
pub(crate) fn history() -> (Vec<SimEvent>, Vec<&'static str>) {
    let now = wall_now();
    let mut sim = Simulator::new(SimConfig {
        queues: 3,
        agents: 60,
        rate: 1.0,
        start_ms: now - 12 * 60_000,
        flat: true,
        ..SimConfig::default()
    });
    let mut events = Vec::new();
    sim.advance(now - 2 * 60_000, &mut events);
    let bad = vec![
        "{not json",
        r#"{"type":"contact.sneezed","ts":1,"contact_id":"x"}"#,
        r#"{"type":"contact.offered","ts":"yesterday","contact_id":"x","queue":"q"}"#,
    ];
    (events, bad)
}

pub(crate) fn produce(brokers: &str, events: &[SimEvent], bad: &[&str]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (i, e) in events.iter().enumerate() {
        producer
            .send(BaseRecord::to(TOPIC).key(&e.key).payload(&e.json))
            .map_err(|(e, _)| e)
            .unwrap();
        if i % 50 == 0 {
            if let Some(b) = bad.get(i / 50) {
                producer
                    .send(BaseRecord::<str, str>::to(TOPIC).key("bad").payload(b))
                    .map_err(|(e, _)| e)
                    .unwrap();
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

pub(crate) fn config(brokers: &str, group: &str, dlq: bool) -> Arc<Config> {
    let mut c =
        Config::parse("[export]\nprofile = \"full\"\n[queues.sales]\nwrapup = true\n[queues.support]\nwrapup = true\n").unwrap();
    c.kafka.brokers = brokers.into();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = group.into();
    if dlq {
        c.kafka.dead_letter_topic = Some("dlq".into());
        // the same topic through [[kafka.inputs]] instead of the `topics` shorthand
        c.kafka.topics.clear();
        c.kafka.inputs = vec![callpulse::config::InputConfig {
            topic: TOPIC.into(),
            ..Default::default()
        }];
    }
    Arc::new(c)
}

pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), callpulse::service::ServiceError>>,
}

pub(crate) async fn start(config: Arc<Config>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(callpulse::service::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop, done }
}

impl Running {
    pub(crate) async fn metrics(&self) -> String {
        let addr = self.addr;
        tokio::task::spawn_blocking(move || http_get(addr, "/metrics").1)
            .await
            .unwrap()
    }

    /// Waits until the service has seen `n` messages (accepted + rejected on arrival).
    pub(crate) async fn wait_for(&self, n: f64) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.metrics().await;
            let seen = sample(&text, "callpulse_events_accepted_total").unwrap_or(0.0)
                + text
                    .lines()
                    .filter(|l| l.starts_with("callpulse_events_rejected_total{"))
                    .filter(|l| !l.contains("unknown_contact") && !l.contains("out_of_order"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum::<f64>();
            if seen >= n {
                // one more publish tick so the snapshot is settled
                tokio::time::sleep(callpulse::service::PUBLISH_EVERY * 3).await;
                return self.metrics().await;
            }
            assert!(
                Instant::now() < deadline,
                "saw {seen} of {n} messages:\n{}",
                text.lines()
                    .filter(|l| l.starts_with("callpulse_"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap().unwrap();
    }
}

fn replayed(config: &Arc<Config>, events: &[SimEvent], bad: &[&str]) -> String {
    let mut lines: Vec<&str> = events.iter().map(|e| e.json.as_str()).collect();
    lines.extend(bad);
    let input = lines.join("\n");
    let r = replay(config.clone(), input.as_bytes(), Some(wall_now())).unwrap();
    let mut out = Exposition::new();
    render(&r.snapshot, &config.center.export, &mut out);
    out.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_ingest_equals_replay_and_counts_bad_messages() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    cluster.create_topic("dlq", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let (events, bad) = history();
    assert!(
        events.len() > 300,
        "a realistic amount of traffic: {}",
        events.len()
    );
    produce(&brokers, &events, &bad);
    let cfg = config(&brokers, "it-equal", true);
    let service = start(cfg.clone()).await;
    let text = service.wait_for((events.len() + bad.len()) as f64).await;
    let (status, _) = tokio::task::spawn_blocking(move || http_get(service.addr, "/readyz"))
        .await
        .unwrap();
    assert_eq!(status, 200, "caught up and the broker is up");
    let expected = replayed(&cfg, &events, &bad);
    assert_eq!(stable_windows(&text), stable_windows(&expected));
    assert!(stable_windows(&text).len() > 100);
    assert_eq!(
        sample(
            &text,
            "callpulse_events_rejected_total{reason=\"malformed_json\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "callpulse_events_rejected_total{reason=\"unknown_type\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "callpulse_events_rejected_total{reason=\"bad_timestamp\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "callpulse_events_dead_lettered_total"),
        Some(3.0)
    );
    service.stop().await;

    // the dead-letter topic holds the three messages unchanged, with their reasons
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["dlq"]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 3 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let reason = m.headers().and_then(|h| {
                h.iter()
                    .find(|h| h.key == REJECT_HEADER)
                    .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).to_string()))
            });
            got.push((
                String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string(),
                reason.unwrap_or_default(),
            ));
        }
    }
    got.sort();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&("{not json".to_string(), "malformed_json".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_commits_offsets_and_rebuilds_the_same_numbers() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let (events, bad) = history();
    produce(&brokers, &events, &bad);
    let cfg = config(&brokers, "it-restart", false);
    let first = start(cfg.clone()).await;
    let before = first.wait_for((events.len() + bad.len()) as f64).await;
    first.stop().await;

    // the group's committed offsets reach the end of every partition
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "it-restart")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(TOPIC, 0);
    tpl.add_partition(TOPIC, 1);
    let committed = probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    let mut total = 0;
    for e in committed.elements() {
        let (_, high) = probe
            .fetch_watermarks(TOPIC, e.partition(), Duration::from_secs(10))
            .unwrap();
        assert_eq!(
            e.offset(),
            Offset::Offset(high),
            "partition {} committed at its end",
            e.partition()
        );
        total += high;
    }
    assert_eq!(total as usize, events.len() + bad.len());
    drop(probe);

    // a new instance in the same group re-reads the rebuild horizon: the same numbers
    let second = start(cfg).await;
    let after = second.wait_for((events.len() + bad.len()) as f64).await;
    second.stop().await;
    assert_eq!(stable_windows(&before), stable_windows(&after));
}

#[test]
fn producer_serves_delivery_reports_as_it_sends() {
    // At a live rate every message is its own batch and brings back its own delivery report,
    // which holds the message until served: the demo's producer grew ~2 MB/min that way.
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 4, 1).unwrap();
    let producer = callpulse::tools::produce::producer(&cluster.bootstrap_servers(), &[]).unwrap();
    let event = SimEvent {
        key: "q".into(),
        ts_ms: wall_now(),
        json: r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q"}"#.into(),
        ..SimEvent::default()
    };
    for _ in 0..300 {
        callpulse::tools::produce::send(&producer, TOPIC, &event, event.ts_ms).unwrap();
        std::thread::sleep(Duration::from_millis(3));
    }
    std::thread::sleep(Duration::from_millis(500));
    // what is still out: messages unacknowledged or reports not served (all acked by now)
    let pending = producer.in_flight_count();
    assert!(pending < 30, "{pending} of 300 messages still held");
}

/// A mock cluster whose topic `pbx` holds `records` (keyed by one PBX), and `config` set to read
/// it as the only input, `format = "asterisk"`, in consumer group `group`.
fn pbx_topic<S: AsRef<str>>(
    records: &[S],
    mut config: Config,
    group: &str,
) -> (MockCluster<'static, DefaultProducerContext>, Config) {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("pbx", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for r in records {
        producer
            .send(
                BaseRecord::<str, str>::to("pbx")
                    .key("pbx1")
                    .payload(r.as_ref()),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    config.kafka.brokers = brokers;
    config.kafka.group_id = group.into();
    config.kafka.topics.clear();
    config.kafka.inputs = vec![callpulse::config::InputConfig {
        topic: "pbx".into(),
        format: callpulse::config::InputFormat::Asterisk,
        ..Default::default()
    }];
    (cluster, config)
}

/// An Asterisk queue_log topic consumed by the service gives what `replay --input asterisk` gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asterisk_topic_equals_replay_of_the_same_records() {
    // the fixture's calls, moved so that they happened between about 5 and 2 minutes ago
    let records = crate::support::queue_log_ending_ago(120);
    let (_cluster, c) = pbx_topic(&records, Config::parse("").unwrap(), "it-asterisk");
    let cfg = Arc::new(c);
    // idle for a while once every record is read: what the reorder allowance held back (the
    // records ended 2 minutes ago) is flushed and published
    let (text, live, replayed) =
        crate::support::live_beside_replay(&cfg, &records, records.len() as f64).await;
    assert_eq!(live, replayed);
    assert!(
        sample(
            &text,
            "callcenter_contacts_answered{queue=\"sales\",window=\"15m\"}"
        )
        .is_some_and(|n| n > 0.0),
        "{text}"
    );
    assert!(
        text.contains("callpulse_input_records_total{format=\"asterisk\",kind=\"enterqueue\"}"),
        "{text}"
    );
}

/// An idle partition flushes what its Asterisk adapter holds up to now only: the last second's
/// records go out, a wrap-up that ends in the future keeps its agent in wrap-up (its end would
/// move the watermark ahead, and later records would be too late).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_asterisk_partition_keeps_a_wrapup_that_ends_later() {
    let now = wall_now() / 1000;
    // the call ended 75 s ago, past the reorder allowance (59 s under the default lateness)
    let records = [
        format!("{}|NONE|sales|PJSIP/7001|ADDMEMBER|", now - 180),
        format!("{}|c1|sales|NONE|ENTERQUEUE||5551001|1", now - 160),
        format!("{}|c1|sales|PJSIP/7001|CONNECT|5", now - 155),
        format!("{}|c1|sales|PJSIP/7001|COMPLETECALLER|5|80|1", now - 75),
        format!("{}|c1|sales|PJSIP/7001|WRAPUPSTART|600", now - 75),
    ];
    let (_cluster, c) = pbx_topic(&records, Config::default(), "it-asterisk-idle");
    let service = start(Arc::new(c)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::support::input_records(&service.metrics().await) < records.len() as f64 {
        assert!(Instant::now() < deadline, "records not read");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // idle for several ticks: held records are flushed, on every tick
    tokio::time::sleep(callpulse::service::PUBLISH_EVERY * 6).await;
    let text = service.metrics().await;
    service.stop().await;
    let s = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}\n{text}"));
    assert_eq!(
        s("callcenter_contacts_answered{queue=\"sales\",window=\"15m\"}"),
        1.0
    );
    assert_eq!(
        s("callcenter_agents{queue=\"sales\",state=\"wrapup\"}"),
        1.0,
        "{text}"
    );
}

/// A contact id the keying watch samples (one in `keying::SAMPLE`).
fn watched_contact() -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    (0..)
        .map(|n| format!("call-{n}"))
        .find(|id| {
            BuildHasherDefault::<DefaultHasher>::default().hash_one(id.as_str())
                % callpulse::service::keying::SAMPLE
                == 0
        })
        .unwrap()
}

/// A topic keyed by contact id spreads a transferred call's legs over two partitions: the
/// instance says so, in `callpulse_keying_splits_total` (docs/events.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_whose_events_come_through_two_partitions_is_reported() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("split", 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let id = watched_contact();
    let now = wall_now() - 60_000;
    let events = [
        (0, crate::support::offered(now, &id, "sales")),
        (1, crate::support::answered(now + 5_000, &id)),
    ];
    for (partition, payload) in &events {
        producer
            .send(
                BaseRecord::<str, str>::to("split")
                    .partition(*partition)
                    .payload(payload),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let mut config = Config::default();
    config.kafka.brokers = brokers;
    config.kafka.group_id = "it-keying".into();
    config.kafka.topics = vec!["split".into()];
    let service = start(Arc::new(config)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let series = "callpulse_keying_splits_total{kind=\"contact\"}";
    loop {
        let text = service.metrics().await;
        if sample(&text, series) == Some(1.0) {
            assert_eq!(
                sample(&text, "callpulse_keying_splits_total{kind=\"customer\"}"),
                Some(0.0)
            );
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    service.stop().await;
}
