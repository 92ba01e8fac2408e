//! callpulse: a real-time call-center monitor. Telephony events in (Kafka or a file), windowed
//! per-queue KPIs out (Prometheus text, JSON), in event time.
//!
//! Along the data's path: [`event`] (decode + validate) → [`engine`] (contact and agent state,
//! time, windows) → [`kpi`] (aggregates) → [`snapshot`] → [`export`] (Prometheus rendering).

pub mod cli;
pub mod config;
pub mod engine;
pub mod event;
pub mod export;
pub mod kpi;
pub mod replay;
pub mod rules;
pub mod snapshot;
pub mod time;

pub use config::Config;
pub use engine::Engine;
pub use snapshot::Snapshot;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod service;
pub mod tools;
