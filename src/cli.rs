//! The command line: every subcommand and its flags (clap). `main` parses and dispatches.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "callpulse",
    version,
    about = "Real-time call-center monitor: telephony events in, per-queue KPIs out as Prometheus metrics"
)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text (overrides [log] format).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine over a JSON-lines history and print the metrics at one instant.
    Replay {
        /// Config file (TOML); the contract's defaults when omitted.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Evaluation instant, RFC 3339 (default: latest event time rounded up to the next second).
        #[arg(long)]
        at: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Prometheus)]
        format: Format,
        /// Events file, one JSON object per line; `-` or nothing for stdin.
        events: Option<PathBuf>,
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
