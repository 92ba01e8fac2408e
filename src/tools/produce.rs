//! `callpulse simulate` and the demo's traffic: the simulator's events produced to Kafka (keyed
//! by queue) or written as JSON lines — or, with a platform [`SimFormat`], that platform's
//! records (keyed as it keys them) — paced by the wall clock (times `speed`) or as fast as the
//! sink takes them.

use std::io::Write;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use tokio_util::sync::CancellationToken;

use crate::clock::wall_now;
use crate::kafka::bulk_producer_config;
use crate::tools::sim::platform::SimFormat;
use crate::tools::sim::{SimConfig, SimEvent, Simulator};

#[derive(Clone, Debug)]
pub struct ProduceOptions {
    pub brokers: String,
    pub topic: String,
    pub sim: SimConfig,
    /// The format the events are written in (a platform's records instead of docs/events.md JSON).
    pub format: SimFormat,
    /// Simulated seconds per wall second; `None`: as fast as possible.
    pub speed: Option<f64>,
    /// Stop after this much wall time.
    pub duration: Option<Duration>,
    /// Stop after this many messages (events, or a platform format's records).
    pub max_events: Option<u64>,
    /// Produce history as fast as possible until the simulated clock reaches this instant,
    /// then go on at `speed` (if `speed` is `None`, stop there).
    pub backfill_until: Option<crate::time::Millis>,
    pub properties: Vec<(String, String)>,
}

/// What a producer run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Produced {
    /// Messages written: events, or a platform format's records.
    pub events: u64,
    pub seconds: f64,
}

/// Where simulated events (or records) go: a Kafka topic or a lines writer.
pub trait Sink {
    type Error;
    fn put(&mut self, event: &SimEvent) -> Result<(), Self::Error>;
    /// Called between rounds (serve delivery reports).
    fn idle(&mut self) {}
    fn finish(&mut self) -> Result<(), Self::Error>;
}

/// Events to a topic, keyed by queue (records: as their format keys them), with their event
/// time as the Kafka timestamp.
pub struct KafkaSink {
    producer: BaseProducer,
    topic: String,
}

impl KafkaSink {
    pub fn new(opts: &ProduceOptions) -> Result<Self, KafkaError> {
        Ok(KafkaSink {
            producer: producer(&opts.brokers, &opts.properties)?,
            topic: opts.topic.clone(),
        })
    }
}

impl Sink for KafkaSink {
    type Error = KafkaError;
    fn put(&mut self, e: &SimEvent) -> Result<(), KafkaError> {
        send(&self.producer, &self.topic, e, e.ts_ms)
    }
    fn idle(&mut self) {
        self.producer.poll(Duration::ZERO);
    }
    fn finish(&mut self) -> Result<(), KafkaError> {
        self.producer.flush(Duration::from_secs(30))
    }
}

/// Events as JSON lines, or records one per line (`simulate --out`).
pub struct LinesSink<W: Write>(pub W);

impl<W: Write> Sink for LinesSink<W> {
    type Error = std::io::Error;
    fn put(&mut self, e: &SimEvent) -> std::io::Result<()> {
        writeln!(self.0, "{}", e.json)
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Produces to Kafka until the duration, the event count or `stop`; blocking (run it on its
/// own thread).
pub fn produce(opts: &ProduceOptions, stop: &CancellationToken) -> Result<Produced, KafkaError> {
    let mut sink = KafkaSink::new(opts)?;
    simulate_into(opts, stop, &mut sink)
}

/// Runs the simulator into `sink`, in `opts.format`: history as fast as possible up to
/// `backfill_until`, then paced at `speed` (or flat out without one), until the duration, the
/// message count or `stop`.
pub fn simulate_into<S: Sink>(
    opts: &ProduceOptions,
    stop: &CancellationToken,
    sink: &mut S,
) -> Result<Produced, S::Error> {
    let mut sim = Simulator::new(opts.sim.clone());
    let started = Instant::now();
    let mut buf: Vec<SimEvent> = Vec::with_capacity(4096);
    let mut writer = opts.format.writer();
    let mut records: Vec<SimEvent> = Vec::new();
    let mut produced = 0u64;
    let step_ms = 60_000; // simulated time per round when running flat out
    let mut sim_until = opts.sim.start_ms;
    // Pacing starts when the backfill is done: simulated time = live_from + wall elapsed × speed.
    let mut live: Option<(Instant, i64)> = None;
    'outer: while !stop.is_cancelled() {
        if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let backfilling = opts.backfill_until.is_some_and(|end| sim_until < end);
        sim_until = match (backfilling, opts.speed) {
            (true, _) => (sim_until + step_ms).min(opts.backfill_until.unwrap_or(i64::MAX)),
            (false, None) if opts.backfill_until.is_some() => break,
            (false, None) => sim_until + step_ms,
            (false, Some(speed)) => {
                let (since, from) = *live.get_or_insert((Instant::now(), sim_until));
                from + (since.elapsed().as_secs_f64() * speed * 1000.0) as i64
            }
        };
        buf.clear();
        sim.advance(sim_until, &mut buf);
        let batch = match writer.as_mut() {
            None => &buf,
            Some(w) => {
                records.clear();
                for e in &buf {
                    w.write(e, &mut records);
                }
                // every event before `sim_until` is written
                w.flush(sim_until, &mut records);
                &records
            }
        };
        for e in batch {
            if opts.max_events.is_some_and(|m| produced >= m) {
                break 'outer;
            }
            sink.put(e)?;
            produced += 1;
        }
        sink.idle();
        if live.is_some() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    sink.finish()?;
    Ok(Produced {
        events: produced,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A producer tuned for throughput ([`bulk_producer_config`]); `properties` go to
/// librdkafka unchanged.
pub fn producer(
    brokers: &str,
    properties: &[(String, String)],
) -> Result<BaseProducer, KafkaError> {
    bulk_producer_config(brokers, properties.iter().map(|(k, v)| (k, v))).create()
}

/// Sends one simulated event keyed by its queue with Kafka timestamp `ts`, waiting while the
/// client's queue is full (backpressure rather than an error). Any producer context (a test's
/// may count delivery failures).
pub fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    p: &BaseProducer<C>,
    topic: &str,
    e: &SimEvent,
    ts: i64,
) -> Result<(), KafkaError> {
    let mut record = BaseRecord::to(topic)
        .key(e.key.as_bytes())
        .payload(e.json.as_bytes())
        .timestamp(ts);
    loop {
        match p.send(record) {
            Ok(()) => {
                // Serve one pending delivery report per message sent: a report holds its
                // messages until served, and `poll` serves at most one per call, so polling
                // only now and then let reports (and memory) pile up at low rates.
                p.poll(Duration::ZERO);
                return Ok(());
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                p.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Starts producing on a thread; cancel the returned token to stop.
pub fn spawn(
    opts: ProduceOptions,
) -> (
    CancellationToken,
    std::thread::JoinHandle<Result<Produced, KafkaError>>,
) {
    let stop = CancellationToken::new();
    let token = stop.clone();
    let handle = std::thread::spawn(move || produce(&opts, &token));
    (stop, handle)
}

/// The simulated clock starts now, so a live monitor sees the traffic as it happens.
pub fn starting_now(mut sim: SimConfig) -> SimConfig {
    sim.start_ms = wall_now();
    sim
}
