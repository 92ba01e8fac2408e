//! What each subcommand does with its flags: loads the configuration, starts the service, the
//! demo or a tool on one runtime, and writes the reports ([`report`]). `main` only parses,
//! sets up logging and calls [`run`].

mod args;
pub mod report;

pub use args::{Cli, Command, Format, SimArgs};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, ConfigError, InputConfig, LogFormat};
use crate::export::{self, Exposition};
use crate::input::history::TimeOrder;
use crate::input::{stored, Reader};
use crate::replay::{replay_windows, Windows};
use crate::service::{self, ServiceError};
use crate::tools::bench::{self, BenchError, BenchOptions};
use crate::tools::demo::{self, DemoError, DemoOptions};
use crate::tools::mock_broker::{self, MockBrokerError, MockBrokerOptions};
use crate::tools::produce::{self, LinesSink, ProduceOptions};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error(transparent)]
    MockBroker(#[from] MockBrokerError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Argument(#[from] report::ArgumentError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(&'static str),
    #[error("the producer thread panicked")]
    Panicked,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
    let what = what.into();
    move |source| CliError::Io { what, source }
}

/// How to log: human-readable or JSON lines, and the default level (`RUST_LOG` overrides it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    pub json: bool,
    pub level: String,
}

/// Runs one parsed command line. `init_logging` is called once, before anything runs.
pub fn run(cli: Cli, init_logging: impl FnOnce(&Logging)) -> Result<(), CliError> {
    let json = cli.log_json;
    let log = |level: &str| Logging {
        json,
        level: level.into(),
    };
    match cli.command {
        Command::Run {
            config,
            instance_id,
        } => {
            let mut config = Config::load(&config)?;
            if let Some(id) = instance_id.filter(|id| !id.is_empty()) {
                config.kafka.instance_id = Some(id);
            }
            let config = Arc::new(config);
            init_logging(&Logging {
                json: json || config.log.format == LogFormat::Json,
                level: config.log.level.clone(),
            });
            runtime()?.block_on(service::run(config, service::shutdown_signal()))?;
        }
        Command::Demo {
            listen,
            config,
            backfill,
            input,
            compress,
            sim,
        } => {
            init_logging(&log("info"));
            let config = config.as_deref().map(Config::load).transpose()?;
            let opts = DemoOptions {
                listen,
                config,
                sim: sim.to_config(),
                backfill,
                input,
                compress,
            };
            runtime()?.block_on(demo::run(opts, service::shutdown_signal()))?;
        }
        Command::Simulate {
            brokers,
            topic,
            speed,
            duration,
            events,
            start,
            until,
            out,
            format,
            properties,
            sim,
        } => {
            init_logging(&log("info"));
            let opts = ProduceOptions {
                backfill_until: until.as_deref().map(report::parse_until).transpose()?,
                brokers: brokers.unwrap_or_default(),
                topic,
                sim: report::sim_starting(sim.to_config(), start.as_deref())?,
                format,
                speed: (speed > 0.0).then_some(speed),
                duration: duration.map(|d| d.as_std()),
                max_events: events,
                properties: properties
                    .iter()
                    .map(|p| report::parse_property(p))
                    .collect::<Result<_, _>>()?,
            };
            let produced = match out {
                Some(path) => write_events(&opts, &path)?,
                None => runtime()?.block_on(produce_until_signal(opts))?,
            };
            eprintln!("{}", report::produced(&produced));
        }
        Command::Bench {
            brokers,
            events,
            partitions,
            rounds,
            steady_rate,
            steady_seconds,
        } => {
            init_logging(&log("warn"));
            bench::run(&BenchOptions {
                brokers,
                events,
                partitions,
                rounds: rounds.max(1),
                steady_rate,
                steady_seconds,
            })?;
        }
        Command::MockBroker {
            brokers,
            topics,
            partitions,
        } => {
            init_logging(&log("warn"));
            let opts = MockBrokerOptions {
                brokers,
                topics,
                partitions,
            };
            runtime()?.block_on(mock_broker::run(&opts, service::shutdown_signal()))?;
        }
        Command::Rules { config } => {
            init_logging(&log("warn"));
            print!("{}", crate::rules::render(&Config::load(&config)?));
        }
        Command::Replay {
            config,
            at,
            format,
            input,
            events,
        } => {
            init_logging(&log("warn"));
            warn_unmatched(&input);
            replay_command(config.as_deref(), at.as_deref(), format, input, events)?;
        }
        Command::Convert {
            config,
            input,
            records,
        } => {
            init_logging(&log("warn"));
            warn_unmatched(&input);
            let config = load_or_default(config.as_deref())?;
            let lateness = config.center.engine.allowed_lateness.millis();
            let input = input.config_with(&config.kafka.inputs);
            convert_command(&input, lateness, records.as_deref())?;
        }
        Command::CheckConfig { file } => {
            init_logging(&log("warn"));
            let config = Config::load(&file)?;
            if let Some(web) = &config.http.web_config_file {
                service::web::Web::load(web).map_err(ServiceError::from)?;
            }
            // the peers' CA and password files, as `run` reads them
            service::peers::Peers::of(&config.http).map_err(ServiceError::from)?;
            print!("{}", report::check_config(&file, &config));
        }
    }
    Ok(())
}

/// `--queue-name` keys that can match no Amazon Connect queue, on stderr.
fn warn_unmatched(input: &args::InputArgs) {
    for line in crate::input::connect::queues::unmatched(&[input.clone().config()]) {
        eprintln!("warning: {line}");
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("cannot start the tokio runtime"))
}

/// `simulate` to Kafka: produces on a blocking thread until done or SIGINT/SIGTERM.
async fn produce_until_signal(opts: ProduceOptions) -> Result<produce::Produced, CliError> {
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    let mut producing = tokio::task::spawn_blocking(move || produce::produce(&opts, &token));
    let joined = tokio::select! {
        joined = &mut producing => joined,
        () = service::shutdown_signal() => {
            stop.cancel();
            producing.await
        }
    };
    Ok(joined.map_err(|_| CliError::Panicked)??)
}

/// `simulate --out`: the simulator's events as JSON lines (or `--format`'s records, one per
/// line), up to `--until` / `--events`.
fn write_events(opts: &ProduceOptions, path: &Path) -> Result<produce::Produced, CliError> {
    if opts.backfill_until.is_none() && opts.max_events.is_none() {
        return Err(CliError::Usage("simulate --out needs --until or --events"));
    }
    let opts = ProduceOptions {
        speed: None,
        ..opts.clone()
    };
    let never = tokio_util::sync::CancellationToken::new();
    let what = format!("cannot write {}", path.display());
    let written = if path == Path::new("-") {
        let mut sink = LinesSink(std::io::BufWriter::new(std::io::stdout().lock()));
        produce::simulate_into(&opts, &never, &mut sink)
    } else {
        let file = std::fs::File::create(path).map_err(io(what.clone()))?;
        let mut sink = LinesSink(std::io::BufWriter::new(file));
        produce::simulate_into(&opts, &never, &mut sink)
    };
    written.map_err(io(what))
}

/// A file, or standard input for `-` or no path (its records read by [`stored::records`]).
fn open_lines(path: Option<&Path>) -> Result<Box<dyn BufRead>, CliError> {
    match path {
        Some(p) if p != Path::new("-") => {
            let file =
                std::fs::File::open(p).map_err(io(format!("cannot open {}", p.display())))?;
            Ok(Box::new(BufReader::with_capacity(1 << 20, file)))
        }
        _ => Ok(Box::new(std::io::stdin().lock())),
    }
}

fn replay_command(
    config: Option<&Path>,
    at: Option<&str>,
    format: Format,
    input: args::InputArgs,
    events: Option<PathBuf>,
) -> Result<(), CliError> {
    let config = Arc::new(load_or_default(config)?);
    let input = &input.config_with(&config.kafka.inputs);
    let at = at.map(report::parse_at).transpose()?;
    let windows = match format {
        Format::Prometheus => Windows::Exported,
        Format::Json => Windows::All,
    };
    let result = replay_windows(
        config.clone(),
        input,
        open_lines(events.as_deref())?,
        at,
        windows,
    )
    .map_err(io("cannot read the events"))?;
    let written = match format {
        Format::Prometheus => {
            // streamed: a chunk at a time, however many series
            let mut out = Exposition::streaming(Box::new(std::io::stdout()));
            export::render(&result.snapshot, &config.center.export, &mut out);
            out.finish_stream()
        }
        Format::Json => {
            let mut stdout = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut stdout, &export::to_json(&result.snapshot))
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(stdout))
        }
    };
    written.map_err(io("cannot write the exposition"))?;
    eprint!("{}", report::replayed(&result));
    Ok(())
}

/// `convert`: every record's docs/events.md JSON lines on stdout (in time order for a format whose
/// records are written when a contact is over), rejects counted on stderr.
/// The config file, or the contract's defaults without one.
fn load_or_default(config: Option<&Path>) -> Result<Config, CliError> {
    Ok(match config {
        Some(p) => Config::load(p)?,
        None => Config::parse("")?,
    })
}

fn convert_command(
    input: &InputConfig,
    lateness: crate::time::Millis,
    records: Option<&Path>,
) -> Result<(), CliError> {
    let mut reader = Reader::history(input, lateness);
    let limits = crate::event::Limits::default();
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut events, mut rejects) = (Vec::new(), std::collections::BTreeMap::new());
    let mut order = reader.needs_time_order().then(TimeOrder::default);
    let mut write = |events: &mut dyn Iterator<Item = String>| -> std::io::Result<()> {
        for e in events {
            writeln!(stdout, "{e}")?;
        }
        Ok(())
    };
    let limit = input.format.max_record_bytes(limits.max_message_bytes);
    let parts =
        stored::records(open_lines(records)?, limit).map_err(io("cannot read the records"))?;
    for part in parts {
        let part = part.map_err(io("cannot read the records"))?;
        match part {
            Ok(record) => reader.convert(&record, &limits, &mut events, |reject| {
                *rejects.entry(reject.reason).or_insert(0u64) += 1;
            }),
            Err(reject) => *rejects.entry(reject.reason).or_insert(0u64) += 1,
        }
        match order.as_mut() {
            Some(order) => order.extend(events.drain(..)),
            None => write(&mut events.drain(..)).map_err(io("cannot write the events"))?,
        }
    }
    reader.convert_rest(&mut events);
    if let Some(mut order) = order {
        order.extend(events.drain(..));
        write(&mut order.into_sorted()).map_err(io("cannot write the events"))?;
    }
    write(&mut events.drain(..)).map_err(io("cannot write the events"))?;
    stdout.flush().map_err(io("cannot write the events"))?;
    eprint!("{}", report::converted(&rejects));
    Ok(())
}
