//! The scale tests' traffic: a producer thread writing simulated events, keyed so one
//! customer's contacts stay in one partition, until it closes every partition with a marker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callpulse::clock::wall_now;
use callpulse::kafka::bulk_producer_config;
use callpulse::time::Millis;
use callpulse::tools::produce::send;
use callpulse::tools::sim::{SimConfig, SimEvent, Simulator};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use serde_json::Value;

use crate::scale::{BEHIND, CLOSE_AFTER, SPEED, TOPIC};
use crate::support::eventually;

/// What the producer wrote, in order, and the instant of its closing markers.
pub(crate) struct Produced {
    pub(crate) lines: Vec<String>,
    pub(crate) close_at: Millis,
}

/// Counts the messages librdkafka gave up on.
struct Delivery(Arc<AtomicU64>);

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A producer running on its own thread: simulated traffic (3 queues) at [`SPEED`], its
/// contact events keyed by their customer (else the contact), so each queue is spread over
/// every partition while one customer's contacts stay together (repeats and recoveries are
/// per customer and queue, inside one partition's engine); agent events keyed by agent.
pub(crate) struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: JoinHandle<Produced>,
}

impl Traffic {
    pub(crate) fn start(brokers: &str, partitions: i32, seed: u64) -> Traffic {
        let (stop, sent) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (brokers, flag, count) = (brokers.to_string(), stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || produce(&brokers, partitions, seed, &flag, &count));
        Traffic { stop, sent, thread }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until `n` more messages went out.
    pub(crate) fn wait_more(&self, n: u64) {
        let target = self.sent() + n;
        eventually(Duration::from_secs(60), || {
            (self.sent() >= target)
                .then_some(())
                .ok_or_else(|| format!("{} of {target} messages sent", self.sent()))
        });
    }

    /// Stops, closes every partition with a marker and waits for every delivery.
    pub(crate) fn finish(self) -> Produced {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the producer")
    }
}

fn produce(
    brokers: &str,
    partitions: i32,
    seed: u64,
    stop: &AtomicBool,
    sent: &AtomicU64,
) -> Produced {
    let failed = Arc::new(AtomicU64::new(0));
    let producer: BaseProducer<Delivery> = bulk_producer_config(brokers, [])
        .create_with_context(Delivery(failed.clone()))
        .unwrap();
    let mut sim = SimConfig {
        queues: 3,
        rate: 3.0,
        flat: true,
        seed,
        start_ms: wall_now() - 8 * 60_000,
        ..SimConfig::default()
    };
    sim.agents = sim.recommended_agents();
    let start = sim.start_ms;
    let mut simulator = Simulator::new(sim);
    let started = Instant::now();
    let (mut until, mut buf, mut lines) = (start, Vec::new(), Vec::new());
    let mut keys: HashMap<String, String> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let paced = start + (started.elapsed().as_secs_f64() * SPEED * 1000.0) as Millis;
        until = paced.min(wall_now() - BEHIND).max(until);
        buf.clear();
        simulator.advance(until, &mut buf);
        for e in &buf {
            let e = SimEvent {
                key: key_of(&mut keys, &e.json),
                ..e.clone()
            };
            send(&producer, TOPIC, &e, e.ts_ms).unwrap();
            lines.push(e.json);
            sent.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // every partition's newest event: an agent that is nobody, far enough after the traffic
    let close_at = (until + CLOSE_AFTER) / 1000 * 1000;
    for p in 0..partitions {
        let marker = format!(
            r#"{{"type":"agent.state","ts":{close_at},"agent":"close-{p}","state":"logged_out"}}"#
        );
        producer
            .send(
                BaseRecord::to(TOPIC)
                    .partition(p)
                    .key("close")
                    .payload(&marker)
                    .timestamp(close_at),
            )
            .map_err(|(e, _)| e)
            .unwrap();
        lines.push(marker);
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "undelivered messages");
    Produced { lines, close_at }
}

/// The Kafka key of one simulated event (see [`Traffic`]).
fn key_of(keys: &mut HashMap<String, String>, json: &str) -> String {
    let v: Value = serde_json::from_str(json).unwrap();
    if let Some(agent) = v["agent"].as_str().filter(|_| v["type"] == "agent.state") {
        return agent.to_string();
    }
    let contact = v["contact_id"].as_str().expect("a contact event");
    keys.entry(contact.to_string())
        .or_insert_with(|| match &v["customer"] {
            Value::Null => contact.to_string(),
            customer => customer.to_string(),
        })
        .clone()
}
