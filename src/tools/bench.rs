//! `callpulse bench`: end-to-end throughput of the monitor on a pre-filled topic, side by side
//! with a bare rdkafka consumer that only drains the same topic on the same broker, and the
//! message-to-processed delay at a steady produce rate.
//!
//! The broker is an in-process mock cluster unless `--brokers` names a real one (e.g. tansu).
//! Beside the rates, the CPU each side spent per event (this process: every thread, librdkafka's
//! included; the mock cluster's too when it is in-process): on a machine with few cores the
//! rates' ratio is mostly how much CPU the monitor's work takes from the consumer's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::Producer;
use rdkafka::util::Timeout;

use crate::config::Config;
use tokio_util::sync::CancellationToken;

use crate::clock::wall_now;
use crate::kafka::{consumer_config, plain_config};
use crate::service::consumer::consume;
use crate::service::state::ServiceState;
use crate::time::HOUR;
use crate::tools::produce::{producer, send};
use crate::tools::sim::{SimConfig, SimEvent, Simulator};

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub brokers: Option<String>,
    pub events: u64,
    pub partitions: i32,
    pub rounds: usize,
    /// Steady produce rate (events/s) for the delay measurement; 0 skips it.
    pub steady_rate: u64,
    pub steady_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Failed(String),
}

/// Simulated traffic of the last hours, as (key, payload) pairs, keyed by contact.
fn traffic(n: u64) -> Vec<SimEvent> {
    let mut cfg = SimConfig {
        queues: 50,
        rate: 40.0,
        seed: 42,
        start_ms: wall_now() - 6 * HOUR,
        flat: true,
        // spread over every partition, as a large center is (keyed by center, all of it would
        // be one partition's: one worker, one core)
        key_by_contact: true,
        ..SimConfig::default()
    };
    cfg.agents = cfg.recommended_agents();
    let mut sim = Simulator::new(cfg);
    let mut out = Vec::with_capacity(n as usize);
    let mut t = wall_now() - 6 * HOUR;
    while (out.len() as u64) < n {
        t += 60_000;
        sim.advance(t, &mut out);
    }
    out.truncate(n as usize);
    out
}

/// Creates a topic through the admin API (a real broker; the mock cluster has its own call).
pub fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<(), BenchError> {
    let admin: AdminClient<DefaultClientContext> = plain_config(brokers).create()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    let r = rt.block_on(admin.create_topics(
        &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
        &AdminOptions::new().operation_timeout(Some(Timeout::After(Duration::from_secs(10)))),
    ))?;
    for t in r {
        t.map_err(|(name, code)| BenchError::Failed(format!("create topic {name}: {code}")))?;
    }
    Ok(())
}

/// One side's drain of the topic.
#[derive(Clone, Copy, Debug)]
struct Drain {
    /// First message to last, seconds.
    secs: f64,
    /// CPU time of this process over the drain (joining the group included), seconds.
    cpu: f64,
}

impl Drain {
    /// CPU per event of a drain of `n` events, microseconds.
    fn cpu_per_event_us(cpu: f64, n: u64) -> f64 {
        cpu / n as f64 * 1e6
    }
}

/// CPU time of this process so far (every thread), seconds.
fn cpu_now() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// A bare consumer's drain of `n` messages.
/// The bare consumer gets the monitor's own librdkafka settings, so only the work differs.
fn bare_drain(config: &Config, topic: &str, group: &str, n: u64) -> Result<Drain, BenchError> {
    let cpu = cpu_now();
    let mut config = config.clone();
    config.kafka.group_id = group.into();
    let c: BaseConsumer = consumer_config(&config).create()?;
    c.subscribe(&[topic])?;
    let (mut seen, mut started) = (0u64, None);
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < n {
        if let Some(Ok(_)) = c.poll(Duration::from_millis(100)) {
            started.get_or_insert_with(Instant::now);
            seen += 1;
        }
        if Instant::now() > deadline {
            return Err(BenchError::Failed(format!("bare drain saw {seen} of {n}")));
        }
    }
    Ok(Drain {
        secs: started.map_or(0.0, |s| s.elapsed().as_secs_f64()),
        cpu: cpu_now() - cpu,
    })
}

/// The monitor's (consumer + partition workers + engines) processing of `n` messages (its
/// stop, with the last checkpoints, not counted).
fn monitor_drain(
    config: Arc<Config>,
    n: u64,
    rt: &tokio::runtime::Runtime,
) -> Result<Drain, BenchError> {
    let cpu = cpu_now();
    let state = ServiceState::new(config);
    let handle = rt.handle().clone();
    let stop = CancellationToken::new();
    let (s, token) = (state.clone(), stop.clone());
    let thread = std::thread::Builder::new()
        .name("kafka-consumer".into())
        .spawn(move || consume(s, handle, token))
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut started = None;
    loop {
        let done = state.metrics().messages_processed();
        if done > 0 {
            started.get_or_insert_with(Instant::now);
        }
        if done >= n {
            break;
        }
        if Instant::now() > deadline {
            return Err(BenchError::Failed(format!(
                "monitor processed {done} of {n}"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let drain = Drain {
        secs: started.map_or(0.0, |s| s.elapsed().as_secs_f64()),
        cpu: cpu_now() - cpu,
    };
    stop.cancel();
    let _ = thread.join();
    Ok(drain)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the benchmark and prints a report to stdout.
pub fn run(opts: &BenchOptions) -> Result<(), BenchError> {
    let cluster = match &opts.brokers {
        Some(_) => None,
        None => Some(MockCluster::new(1)?),
    };
    let brokers = opts.brokers.clone().unwrap_or_else(|| {
        cluster
            .as_ref()
            .map(|c| c.bootstrap_servers())
            .unwrap_or_default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    let topic = format!("bench-{}-{}", std::process::id(), wall_now());
    match &cluster {
        Some(c) => c.create_topic(&topic, opts.partitions, 1)?,
        None => create_topic(&brokers, &topic, opts.partitions)?,
    }
    println!(
        "callpulse bench: broker {}, topic {topic} ({} partitions), {} events",
        if cluster.is_some() {
            "in-process mock cluster"
        } else {
            brokers.as_str()
        },
        opts.partitions,
        opts.events
    );
    let events = traffic(opts.events);
    let bytes: usize = events.iter().map(|e| e.json.len()).sum();
    let p = producer(&brokers, &[])?;
    let t = Instant::now();
    for e in &events {
        send(&p, &topic, e, e.ts_ms)?;
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60))?;
    println!(
        "pre-filled in {:.2}s ({:.0} events/s, {:.0} bytes/event)",
        t.elapsed().as_secs_f64(),
        opts.events as f64 / t.elapsed().as_secs_f64(),
        bytes as f64 / events.len() as f64
    );
    // The mock cluster keeps at most ~5 MB per partition: count what the topic really holds.
    let probe: BaseConsumer = plain_config(&brokers).create()?;
    let mut held = 0u64;
    for part in 0..opts.partitions {
        let (low, high) = probe.fetch_watermarks(&topic, part, Duration::from_secs(10))?;
        held += (high - low).max(0) as u64;
    }
    if held < opts.events {
        println!("the broker retains {held} of the {} events (broker retention or loss); measuring on those", opts.events);
    }
    let opts = &BenchOptions {
        events: held,
        ..opts.clone()
    };
    let mut config = Config::default();
    config.kafka.brokers = brokers.clone();
    config.kafka.topics = vec![topic.clone()];
    let (mut bare, mut monitor) = (Vec::new(), Vec::new());
    for round in 0..opts.rounds {
        let b = bare_drain(&config, &topic, &format!("bench-bare-{round}"), opts.events)?;
        config.kafka.group_id = format!("bench-monitor-{round}");
        let m = monitor_drain(Arc::new(config.clone()), opts.events, &rt)?;
        println!(
            "round {}: bare drain {:.0} events/s, callpulse {:.0} events/s (ratio {:.2}); CPU per event: bare {:.2} µs, callpulse {:.2} µs",
            round + 1,
            opts.events as f64 / b.secs,
            opts.events as f64 / m.secs,
            b.secs / m.secs,
            Drain::cpu_per_event_us(b.cpu, opts.events),
            Drain::cpu_per_event_us(m.cpu, opts.events),
        );
        bare.push(b);
        monitor.push(m);
    }
    let secs = |v: &[Drain]| median(v.iter().map(|d| d.secs).collect());
    let cpu = |v: &[Drain]| {
        Drain::cpu_per_event_us(median(v.iter().map(|d| d.cpu).collect()), opts.events)
    };
    let (b, m) = (secs(&bare), secs(&monitor));
    println!(
        "median: bare drain {:.0} events/s, callpulse {:.0} events/s, callpulse/bare = {:.2}; CPU per event: bare {:.2} µs, callpulse {:.2} µs",
        opts.events as f64 / b,
        opts.events as f64 / m,
        b / m,
        cpu(&bare),
        cpu(&monitor),
    );

    if opts.steady_rate > 0 {
        steady(&brokers, &topic, &config, &events, opts, &rt)?;
    }
    Ok(())
}

/// Produces at a steady rate while the monitor consumes; reports message-to-processed delay.
fn steady(
    brokers: &str,
    topic: &str,
    config: &Config,
    events: &[SimEvent],
    opts: &BenchOptions,
    rt: &tokio::runtime::Runtime,
) -> Result<(), BenchError> {
    let mut config = config.clone();
    config.kafka.group_id = "bench-steady".into();
    let state = ServiceState::new(Arc::new(config));
    let handle = rt.handle().clone();
    let stop_consumer = CancellationToken::new();
    let (s, token) = (state.clone(), stop_consumer.clone());
    let consumer = std::thread::Builder::new()
        .name("kafka-consumer".into())
        .spawn(move || consume(s, handle, token))
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    // catch up on the pre-filled topic first, then measure only the steady phase
    let deadline = Instant::now() + Duration::from_secs(600);
    let processed = || state.metrics().messages_processed();
    while processed() < opts.events && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(1));
    state.metrics().reset_message_delay();
    let p = producer(brokers, &[])?;
    let stop = AtomicBool::new(false);
    let total = opts.steady_rate * opts.steady_seconds;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total && !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * opts.steady_rate as f64) as u64;
        while sent < due.min(total) {
            let e = &events[(sent % events.len() as u64) as usize];
            send(&p, topic, e, wall_now())?;
            sent += 1;
        }
        p.poll(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(1));
    }
    p.flush(Duration::from_secs(60))?;
    let want = opts.events + total;
    while processed() < want && Instant::now() < deadline + Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(crate::service::PUBLISH_EVERY * 2);
    let q = |x| {
        state
            .metrics()
            .message_delay_quantile(x)
            .unwrap_or(f64::NAN)
    };
    println!(
        "steady {} events/s for {}s: produced->processed delay p50 {:.3}s p99 {:.3}s max {:.3}s; processed->/metrics adds at most {:.1}s (publish interval)",
        opts.steady_rate,
        opts.steady_seconds,
        q(0.5),
        q(0.99),
        q(1.0),
        crate::service::PUBLISH_EVERY.as_secs_f64()
    );
    stop_consumer.cancel();
    let _ = consumer.join();
    Ok(())
}
