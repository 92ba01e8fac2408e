//! callpulse: a real-time call-center monitor. Telephony events in (Kafka or a file), windowed
//! per-queue KPIs out (Prometheus text, JSON), in event time.
//!
//! The data path lives in the `callpulse-core` crate and is re-exported here under its own
//! names: [`event`] → [`engine`] → [`kpi`] → [`snapshot`] → [`export`], with [`input`] (wire
//! formats decoded into events), [`live`] (the supervisors' view) and [`time`]. That crate
//! depends on no async runtime, Kafka client or HTTP server, so the compiler keeps it pure.
//!
//! This crate is the service around it: [`service`] (Kafka consumer, partition workers, shared
//! state, self-metrics, HTTP, wallboard, checkpoints), [`kafka`] (every librdkafka setting),
//! [`config`], [`clock`] (the one wall-clock read), [`replay`], [`rules`] (generated alert
//! rules) and [`cli`]. [`tools`] holds what is not the product: the simulator, the demo, the
//! benchmark and their producer.

pub use callpulse_core::{engine, event, export, input, kpi, live, snapshot, time};

pub mod cli;
pub mod clock;
pub mod config;
pub mod kafka;
pub mod replay;
pub mod rules;
pub mod service;
pub mod tools;

pub use config::Config;
pub use engine::Engine;
pub use snapshot::Snapshot;
