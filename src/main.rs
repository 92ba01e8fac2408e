//! The `callpulse` binary: parses arguments, sets up logging, calls into the library.

use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;

use callpulse::cli::{Cli, Command, Format};
use callpulse::config::{Config, LogFormat};
use callpulse::event::RejectReason;
use callpulse::export::{self, Exposition};
use callpulse::replay::replay;
use callpulse::time::parse_rfc3339;
use callpulse::tools::produce::ProduceOptions;

fn main() {
    let cli = Cli::parse();
    if let Err(err) = dispatch(cli) {
        eprintln!("callpulse: {err:#}");
        std::process::exit(1);
    }
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

/// `simulate --out`: the simulator's events as JSON lines, up to `--until` / `--events`.
fn write_events(opts: &ProduceOptions, path: &Path) -> Result<()> {
    let end = opts.backfill_until.unwrap_or(i64::MAX);
    if end == i64::MAX && opts.max_events.is_none() {
        anyhow::bail!("simulate --out needs --until or --events");
    }
    let mut out: Box<dyn Write> = if path == Path::new("-") {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ))
    };
    let mut sim = callpulse::tools::sim::Simulator::new(opts.sim.clone());
    let (mut t, mut written, mut buf) = (opts.sim.start_ms, 0u64, Vec::new());
    while t < end && opts.max_events.is_none_or(|m| written < m) {
        t = (t + 60_000).min(end);
        buf.clear();
        sim.advance(t, &mut buf);
        for e in &buf {
            if opts.max_events.is_some_and(|m| written >= m) {
                break;
            }
            writeln!(out, "{}", e.json)?;
            written += 1;
        }
    }
    out.flush()?;
    eprintln!("simulate: {written} events written");
    Ok(())
}

/// Logs go to stderr: human-readable by default, JSON lines with `--log-json` or `[log] format = "json"`.
fn init_tracing(json: bool, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run { config } => {
            let config = Arc::new(Config::load(&config)?);
            init_tracing(
                cli.log_json || config.log.format == LogFormat::Json,
                &config.log.level,
            );
            runtime()?.block_on(callpulse::service::run(
                config,
                callpulse::service::shutdown_signal(),
            ))?;
            Ok(())
        }
        Command::Demo {
            listen,
            config,
            backfill,
            sim,
        } => {
            init_tracing(cli.log_json, "info");
            let config = match config {
                Some(p) => Some(Config::load(&p)?),
                None => None,
            };
            let opts = callpulse::tools::demo::DemoOptions {
                listen,
                config,
                sim: sim.to_config(),
                backfill,
            };
            runtime()?.block_on(callpulse::tools::demo::run(
                opts,
                callpulse::service::shutdown_signal(),
            ))?;
            Ok(())
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
            properties,
            sim,
        } => {
            init_tracing(cli.log_json, "info");
            let mut sim = sim.to_config();
            sim.start_ms = match start {
                Some(text) => parse_rfc3339(&text)
                    .with_context(|| format!("--start {text:?} is not an RFC 3339 instant"))?,
                None => callpulse::clock::wall_now(),
            };
            let properties = properties
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .with_context(|| format!("--property {p:?} is not KEY=VALUE"))
                })
                .collect::<Result<Vec<_>>>()?;
            let backfill_until = match until.as_deref() {
                None => None,
                Some("now") => Some(callpulse::clock::wall_now()),
                Some(text) => Some(parse_rfc3339(text).with_context(|| {
                    format!("--until {text:?} is not an RFC 3339 instant or \"now\"")
                })?),
            };
            let opts = ProduceOptions {
                backfill_until,
                brokers: brokers.unwrap_or_default(),
                topic,
                sim,
                speed: (speed > 0.0).then_some(speed),
                duration: duration.map(|d| d.as_std()),
                max_events: events,
                properties,
            };
            if let Some(path) = out {
                return write_events(&opts, &path);
            }
            let (stop, handle) = callpulse::tools::produce::spawn(opts);
            let flag = stop.clone();
            std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(callpulse::service::shutdown_signal());
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            let produced = handle
                .join()
                .map_err(|_| anyhow::anyhow!("producer thread panicked"))??;
            eprintln!(
                "simulate: {} events in {:.1}s ({:.0} events/s)",
                produced.events,
                produced.seconds,
                produced.events as f64 / produced.seconds.max(1e-9)
            );
            Ok(())
        }
        Command::Bench {
            brokers,
            events,
            partitions,
            rounds,
            steady_rate,
            steady_seconds,
        } => {
            init_tracing(cli.log_json, "warn");
            let opts = callpulse::tools::bench::BenchOptions {
                brokers,
                events,
                partitions,
                rounds: rounds.max(1),
                steady_rate,
                steady_seconds,
            };
            callpulse::tools::bench::run(&opts)?;
            Ok(())
        }
        Command::Rules { config } => {
            let config = Config::load(&config)?;
            print!("{}", callpulse::rules::render(&config));
            Ok(())
        }
        Command::Replay {
            config,
            at,
            format,
            events,
        } => {
            let config = Arc::new(load_config(config.as_deref())?);
            let at = match at {
                Some(text) => Some(
                    parse_rfc3339(&text)
                        .with_context(|| format!("--at {text:?} is not an RFC 3339 instant"))?,
                ),
                None => None,
            };
            let result = match events.as_deref() {
                None => replay(config, std::io::stdin().lock(), at)?,
                Some(p) if p == Path::new("-") => replay(config, std::io::stdin().lock(), at)?,
                Some(p) => {
                    let file = std::fs::File::open(p)
                        .with_context(|| format!("cannot open {}", p.display()))?;
                    replay(config, BufReader::with_capacity(1 << 20, file), at)?
                }
            };
            let mut stdout = std::io::stdout().lock();
            match format {
                Format::Prometheus => {
                    let mut out = Exposition::new();
                    export::render(&result.snapshot, &mut out);
                    stdout.write_all(out.finish().as_bytes())?;
                }
                Format::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &export::to_json(&result.snapshot))?;
                    writeln!(stdout)?;
                }
            }
            let s = &result.stats;
            eprintln!(
                "replay: {} lines, {} accepted, {} rejected, {} after --at (not applied)",
                result.lines,
                s.accepted,
                s.rejected_total(),
                result.after_at
            );
            for r in RejectReason::ALL {
                if s.rejected(r) > 0 {
                    eprintln!("replay: rejected {:<20} {}", r.as_str(), s.rejected(r));
                }
            }
            if s.contacts_expired + s.contacts_evicted > 0 {
                eprintln!(
                    "replay: contacts expired {} (stale), evicted {} (over max_open_contacts)",
                    s.contacts_expired, s.contacts_evicted
                );
            }
            Ok(())
        }
        Command::CheckConfig { file } => {
            let config = Config::load(&file)?;
            println!("{}: ok", file.display());
            let labels: Vec<_> = config
                .engine
                .windows
                .iter()
                .map(|w| w.label.as_str())
                .collect();
            println!(
                "windows: {} + interval ({}) + today",
                labels.join(", "),
                config.engine.interval
            );
            println!("allowed_lateness: {}", config.engine.allowed_lateness);
            for (name, q) in std::iter::once(("[defaults]", &config.defaults))
                .chain(config.queues.iter().map(|(n, q)| (n.as_str(), q)))
            {
                println!(
                    "{name}: tz {} day_start {} sl {} within {} ({}) target {} abandon<= {} asa<= {} aht<= {} oldest<= {} min_volume {} wrapup {}",
                    q.clock.zone,
                    q.clock.day_start.format("%H:%M"),
                    q.sl_formula,
                    q.sl_threshold,
                    q.short_abandon,
                    q.sl_target,
                    q.abandon_target,
                    q.asa_target,
                    q.aht_target,
                    q.oldest_wait_target,
                    q.min_volume,
                    q.wrapup
                );
            }
            Ok(())
        }
    }
}
