//! The command line's shape: every subcommand and its flags (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "callpulse",
    version,
    about = "Real-time call-center monitor: telephony events in, per-queue KPIs out as Prometheus metrics"
)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text (overrides `[log]` format).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine over a JSON-lines history and print the metrics at one instant.
    Replay {
        /// Config file (TOML); the contract's defaults when omitted. The platform settings of
        /// its `[[kafka.inputs]]` of the `--input` format apply (a flag wins).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Evaluation instant, RFC 3339 (default: latest event time rounded up to the next second).
        #[arg(long)]
        at: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Prometheus)]
        format: Format,
        #[command(flatten)]
        input: InputArgs,
        /// Events file, one message per line; `-` or nothing for stdin.
        events: Option<PathBuf>,
    },
    /// Print the docs/events.md JSON lines that an input format's records map to (check a mapping,
    /// or pipe into `replay`). Rejected records are counted on stderr.
    Convert {
        /// Config file (TOML): its `allowed_lateness`, and the platform settings of its
        /// `[[kafka.inputs]]` of the `--input` format.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        input: InputArgs,
        /// Records file, one per line; `-` or nothing for stdin.
        records: Option<PathBuf>,
    },
    /// Consume events from Kafka and serve /metrics, /healthz, /readyz and the wallboard.
    Run {
        /// Config file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Static group membership for this instance (overrides `[kafka] instance_id`): a name
        /// unique and stable per instance, e.g. a StatefulSet pod's name.
        #[arg(long, env = "CALLPULSE_INSTANCE_ID")]
        instance_id: Option<String>,
    },
    /// Everything on one machine: in-process Kafka, simulated traffic, the live service.
    Demo {
        /// Address to serve on (default: the bundled config's 127.0.0.1:9898).
        #[arg(long)]
        listen: Option<String>,
        /// A config file instead of the bundled config/callpulse.toml (its `[kafka]` table is replaced).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Produce this much simulated history (ending now) at start, e.g. "2h", so windows are full at once.
        #[arg(long)]
        backfill: Option<crate::time::Span>,
        /// The input the demo's topic is read as: callpulse (docs/events.md JSON) | asterisk (the
        /// simulator writes queue_log lines, the service reads them with the Asterisk adapter) |
        /// connect (Amazon Connect contact events and agent event stream records) | freeswitch
        /// (mod_callcenter events keyed by host) | taskrouter (TaskRouter CloudEvents).
        #[arg(long, default_value = "callpulse")]
        input: crate::tools::sim::platform::SimFormat,
        /// Run simulated time this many times faster than the wall clock, in the simulator and
        /// the service's clock alike (scripts/soak-compressed).
        #[arg(long, hide = true, value_parser = positive_factor)]
        compress: Option<f64>,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Produce realistic simulated contact-center traffic to a Kafka topic.
    Simulate {
        /// Kafka bootstrap servers.
        #[arg(long, required_unless_present = "out")]
        brokers: Option<String>,
        /// Write the messages one per line (JSON, or --format's records) to this file (`-` for
        /// stdout) instead of Kafka (needs --until or --events; runs as fast as possible).
        #[arg(long, conflicts_with = "brokers")]
        out: Option<PathBuf>,
        /// The format to write the traffic in: callpulse (docs/events.md JSON, keyed by queue) |
        /// asterisk (queue_log lines, whole-second clock, keyed by PBX) | connect (Amazon Connect
        /// contact events and agent event stream records) | freeswitch (mod_callcenter events
        /// keyed by host) | taskrouter (TaskRouter CloudEvents keyed by workspace).
        #[arg(long, default_value = "callpulse")]
        format: crate::tools::sim::platform::SimFormat,
        /// Topic to produce to.
        #[arg(long, default_value = "callcenter.events")]
        topic: String,
        /// Simulated seconds per wall second; 0 = as fast as possible.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Stop after this much wall time (e.g. "10m"); default: run until interrupted.
        #[arg(long)]
        duration: Option<crate::time::Span>,
        /// Stop after this many messages (events, or records with --format).
        #[arg(long)]
        events: Option<u64>,
        /// Start the simulated clock at this RFC 3339 instant (default: now).
        #[arg(long)]
        start: Option<String>,
        /// Produce as fast as possible until the simulated clock reaches this instant
        /// (RFC 3339 or "now"), then go on at --speed (with --speed 0: stop there).
        #[arg(long)]
        until: Option<String>,
        /// Extra librdkafka producer properties, KEY=VALUE.
        #[arg(long = "property", value_name = "KEY=VALUE")]
        properties: Vec<String>,
        #[command(flatten)]
        sim: SimArgs,
    },
    /// Throughput of the monitor vs a bare consumer on the same pre-filled topic, and delay at a steady rate.
    Bench {
        /// Kafka bootstrap servers (default: an in-process mock cluster).
        #[arg(long)]
        brokers: Option<String>,
        /// Events to pre-fill the topic with.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// Alternating rounds of bare drain and monitor; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Steady produce rate for the delay measurement (events/s; 0 skips it).
        #[arg(long, default_value_t = 50_000)]
        steady_rate: u64,
        #[arg(long, default_value_t = 20)]
        steady_seconds: u64,
    },
    /// librdkafka's mock Kafka cluster in a process of its own, for tests of several `run`
    /// processes in one consumer group: prints its bootstrap servers as the first line on
    /// stdout and serves until SIGINT, SIGTERM or the end of stdin.
    #[command(hide = true)]
    MockBroker {
        /// Brokers in the cluster.
        #[arg(long, default_value_t = 1)]
        brokers: i32,
        /// A topic to create (repeatable).
        #[arg(long = "topic", value_name = "NAME")]
        topics: Vec<String>,
        /// Partitions of each topic.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
    },
    /// Print Prometheus alerting rules generated from the config's targets.
    Rules {
        /// Config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a config file and print what it resolves to.
    CheckConfig {
        /// Config file (TOML).
        file: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Prometheus,
    Json,
}

/// What to simulate.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Contacts offered per simulated second across all queues, at the daily peak.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Number of queues.
    #[arg(long, default_value_t = 4)]
    pub queues: usize,
    /// Number of agents in the pool (default: the headcount the chosen --staffing needs at this rate).
    #[arg(long)]
    pub agents: Option<usize>,
    /// normal | understaffed (SL collapses in the first queue) | outage (agents drop out for a while).
    #[arg(long, default_value = "normal")]
    pub scenario: crate::tools::sim::Scenario,
    /// realistic (service level hovers around its target) | generous (every queue far above it).
    #[arg(long, default_value = "realistic")]
    pub staffing: crate::tools::sim::Staffing,
    /// Random seed (same seed, same traffic).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Constant traffic at --rate all day, without the intraday shape (quiet nights, busy
    /// mornings): the same volume whatever the hour.
    #[arg(long)]
    pub flat: bool,
    /// Key a contact's events by contact id instead of the center: a large center spreads over
    /// every partition, but a customer's contacts then land in several partitions and the
    /// customer families are counted apart (events are keyed by the center by default).
    #[arg(long, conflicts_with = "key_by_queue")]
    pub key_by_contact: bool,
    /// Key events by queue instead of the center (agent events by the agent's first queue):
    /// exact only while no contact visits two queues.
    #[arg(long)]
    pub key_by_queue: bool,
}

impl SimArgs {
    pub fn to_config(&self) -> crate::tools::sim::SimConfig {
        let mut c = crate::tools::sim::SimConfig {
            queues: self.queues,
            agents: 0,
            rate: self.rate,
            scenario: self.scenario,
            staffing: self.staffing,
            seed: self.seed,
            start_ms: 0,
            flat: self.flat,
            day_shift_ms: 0,
            key_by_contact: self.key_by_contact,
            key_by_queue: self.key_by_queue,
        };
        c.agents = self.agents.unwrap_or_else(|| c.recommended_agents());
        c
    }
}

/// The input format of `replay` and `convert`, and its settings (as `[[kafka.inputs]]` has them).
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Input format: callpulse (docs/events.md JSON lines) | asterisk (queue_log) | connect (Amazon
    /// Connect contact events, agent events, contact records) | freeswitch (mod_callcenter
    /// events) | taskrouter (Twilio TaskRouter events).
    #[arg(long, default_value = "callpulse")]
    pub input: crate::config::InputFormat,
    /// Time zone of datetime strings written without an offset (asterisk realtime rows).
    #[arg(long, default_value = "UTC")]
    pub timezone: chrono_tz::Tz,
    /// A queue's label for its queue id or full queue ARN (connect; a name the records give is
    /// used without it), repeatable.
    #[arg(long = "queue-name", value_name = "ID=NAME", value_parser = queue_name)]
    pub queue_names: Vec<(String, String)>,
    /// Wrap-up seconds of agents without their own (freeswitch; default 0).
    #[arg(long)]
    pub wrapup_seconds: Option<u32>,
    /// An agent's wrap-up seconds (freeswitch), repeatable.
    #[arg(long = "agent-wrapup", value_name = "AGENT=SECONDS", value_parser = agent_wrapup)]
    pub agent_wrapup_seconds: Vec<(String, u32)>,
}

impl InputArgs {
    /// The input of the flags alone.
    pub fn config(self) -> crate::config::InputConfig {
        self.config_with(&[])
    }

    /// The input of the flags, with the platform settings of the first `[[kafka.inputs]]` of
    /// the same format among `configured` (a config file's): the settings that have no flag
    /// (agent queues, TaskRouter's) come from there, a flag given wins over the file.
    pub fn config_with(
        self,
        configured: &[crate::config::InputConfig],
    ) -> crate::config::InputConfig {
        let file = configured
            .iter()
            .find(|c| c.format == self.input)
            .cloned()
            .unwrap_or_default();
        let mut queue_names = file.queue_names;
        queue_names.extend(self.queue_names);
        let mut agent_wrapup_seconds = file.agent_wrapup_seconds;
        agent_wrapup_seconds.extend(self.agent_wrapup_seconds);
        let timezone = match self.timezone {
            chrono_tz::Tz::UTC => file.timezone,
            given => given,
        };
        crate::config::InputConfig {
            format: self.input,
            timezone,
            queue_names,
            wrapup_seconds: self.wrapup_seconds.or(file.wrapup_seconds),
            agent_wrapup_seconds,
            ..file
        }
    }
}

fn agent_wrapup(s: &str) -> Result<(String, u32), String> {
    match s.rsplit_once('=') {
        Some((agent, secs)) if !agent.is_empty() => secs
            .parse()
            .map(|secs| (agent.into(), secs))
            .map_err(|_| format!("{secs:?} is not a number of seconds")),
        _ => Err(format!("{s:?} is not AGENT=SECONDS")),
    }
}

fn queue_name(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((id, name)) if !id.is_empty() && !name.is_empty() => Ok((id.into(), name.into())),
        _ => Err(format!("{s:?} is not ID=NAME")),
    }
}

/// A compression factor: a finite number above 0.
fn positive_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("{s:?} is not a positive factor")),
    }
}
