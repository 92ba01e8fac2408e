//! `callpulse demo`: the whole product on one machine with nothing to install — an
//! in-process Kafka broker (librdkafka's mock cluster), simulated traffic, and the service.
//! With `--input asterisk` (or `connect`, `freeswitch`, `taskrouter`) the simulator writes
//! Asterisk queue_log lines (Amazon Connect records, mod_callcenter events, TaskRouter
//! CloudEvents) and the service reads the topic as `[[kafka.inputs]] format = "asterisk"` (or
//! the other's name): the adapter at work in one command.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::{Config, InputConfig, InputFormat};
use crate::service::web::Web;
use crate::service::{serve_clocked, ServiceError};
use crate::tools::produce::{spawn, starting_now, ProduceOptions};
use crate::tools::sim::platform::SimFormat;
use crate::tools::sim::SimConfig;

/// The config the demo runs with (the annotated example).
pub const BUNDLED_CONFIG: &str = include_str!("../../config/callpulse.toml");
pub const DEMO_TOPIC: &str = "callcenter.events";
pub const DEMO_PARTITIONS: i32 = 4;
/// Partitions with a compressed clock: the mock cluster keeps only the newest 5 MB of each
/// partition, a second or two of traffic at a soak's pace; more partitions hold more of it, so
/// a consumer a few seconds behind does not lose messages (an offset reset in the log).
pub const COMPRESSED_PARTITIONS: i32 = 16;
/// The simulated business day is at this hour (UTC clock of the traffic shape) whenever the demo
/// starts, so there is traffic to look at at any time of day: mid-morning, just before the peak.
pub const DEMO_BUSINESS_HOUR: i64 = 10;

/// The shift that puts `now` at `hour` of the simulated business day.
fn day_shift_to(hour: i64, now: crate::time::Millis) -> i64 {
    use crate::time::{DAY, HOUR};
    (hour * HOUR - now.rem_euclid(DAY)).rem_euclid(DAY)
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("mock kafka cluster: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("bundled config: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the demo runs.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Overrides the bundled `[http] listen`.
    pub listen: Option<String>,
    /// A config to use instead of the bundled one (its `[kafka]` table is replaced).
    pub config: Option<Config>,
    pub sim: SimConfig,
    /// Simulated history produced at start, ending now, so windows are full at once.
    pub backfill: Option<crate::time::Span>,
    /// The format the simulator writes and the service reads the topic in.
    pub input: SimFormat,
    /// Simulated time runs this many times faster than the wall clock, for the service (its
    /// [`Clock`]) and the simulator alike (`scripts/soak-compressed`); `None`: real time.
    pub compress: Option<f64>,
}

/// Runs the demo until `shutdown`.
pub async fn run(
    opts: DemoOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let DemoOptions {
        listen,
        config,
        sim,
        backfill,
        input,
        compress,
    } = opts;
    let partitions = match compress {
        Some(_) => COMPRESSED_PARTITIONS,
        None => DEMO_PARTITIONS,
    };
    let cluster = crate::tools::mock_broker::cluster(1, &[DEMO_TOPIC], partitions)?;
    let brokers = cluster.bootstrap_servers();
    let mut config = match config {
        Some(c) => c,
        None => Config::parse(BUNDLED_CONFIG)?,
    };
    config.kafka.brokers = brokers.clone();
    set_input(&mut config, input);
    config.kafka.group_id = "callpulse-demo".into();
    if !config.kafka.checkpoint_topic.is_empty() {
        cluster.create_topic(&config.kafka.checkpoint_topic, 1, 1)?;
    }
    if let Some(listen) = listen {
        config.http.listen = listen;
    }
    let addr = config.http.listen.clone();
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| DemoError::Listen {
            addr: addr.clone(),
            source,
        })?;
    let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
    let now = crate::clock::wall_now();
    let mut sim_cfg = starting_now(sim.clone());
    if let Some(b) = backfill {
        sim_cfg.start_ms = now - b.millis();
    }
    sim_cfg.day_shift_ms = day_shift_to(DEMO_BUSINESS_HOUR, now);
    let (stop, producer) = spawn(ProduceOptions {
        brokers,
        topic: DEMO_TOPIC.into(),
        sim: sim_cfg,
        format: input,
        speed: Some(compress.unwrap_or(1.0)),
        duration: None,
        max_events: None,
        backfill_until: backfill.map(|_| now),
        properties: Vec::new(),
    });
    println!(
        "callpulse demo: in-process Kafka at {}, topic {DEMO_TOPIC} ({partitions} partitions)",
        cluster.bootstrap_servers()
    );
    println!(
        "  input format {}: {}",
        input.input().as_str(),
        input.describe()
    );
    println!(
        "  simulating {} queues, {} agents ({} staffing), {} contacts/s at peak, scenario {}; \
         the simulated business day is at {DEMO_BUSINESS_HOUR}:00 now",
        sim.queues,
        sim.agents,
        sim.staffing.as_str(),
        sim.rate,
        sim.scenario.as_str()
    );
    let web = Web::of(&config).map_err(ServiceError::from)?;
    let scheme = web.scheme();
    println!("  wallboard: {scheme}://{bound}/   ({})", web.describe());
    println!("  metrics:   {scheme}://{bound}/metrics");
    println!("  ready:     {scheme}://{bound}/readyz      (Ctrl-C to stop)");
    let clock = match compress {
        Some(factor) => {
            println!(
                "  compressed clock: simulated time runs {factor} times faster than the wall clock"
            );
            Clock::compressed(now, factor)
        }
        None => Clock::Wall,
    };
    let config = Arc::new(config);
    let served = serve_clocked(config, clock, listener, shutdown).await;
    stop.cancel();
    let _ = tokio::task::spawn_blocking(move || producer.join()).await;
    drop(cluster);
    served?;
    Ok(())
}

/// The demo's topic, read in `input`'s format: the `topics` shorthand for `callpulse`, one
/// `[[kafka.inputs]]` entry otherwise (a config's own topics and inputs are replaced).
fn set_input(config: &mut Config, input: SimFormat) {
    let format = input.input();
    if format == InputFormat::Callpulse {
        config.kafka.topics = vec![DEMO_TOPIC.into()];
        config.kafka.inputs = Vec::new();
    } else {
        config.kafka.topics = Vec::new();
        config.kafka.inputs = vec![InputConfig {
            topic: DEMO_TOPIC.into(),
            format,
            ..InputConfig::default()
        }];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR, MINUTE};

    #[test]
    fn the_demo_day_is_mid_morning_whenever_it_starts() {
        for now in [
            0,
            3 * HOUR + 17 * MINUTE,
            10 * HOUR,
            23 * HOUR + 59 * MINUTE,
            20_000 * DAY + 5,
        ] {
            let shift = day_shift_to(DEMO_BUSINESS_HOUR, now);
            assert!((0..DAY).contains(&shift));
            assert_eq!(
                (now + shift).rem_euclid(DAY),
                DEMO_BUSINESS_HOUR * HOUR,
                "now {now}"
            );
        }
    }

    #[test]
    fn the_demo_topic_is_read_in_the_simulated_format() {
        let mut config = Config::parse(BUNDLED_CONFIG).unwrap();
        set_input(&mut config, SimFormat::Asterisk);
        let inputs = config.kafka.inputs();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].topic, DEMO_TOPIC);
        assert_eq!(inputs[0].format, InputFormat::Asterisk);
        set_input(&mut config, SimFormat::Callpulse);
        let inputs = config.kafka.inputs();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].format, InputFormat::Callpulse);
    }
}
