//! callpulse: a real-time call-center monitor. Telephony events in (Kafka or a file), windowed
//! per-queue KPIs out (Prometheus text, JSON), in event time.
//!
//! The data path, pure and synchronous: [`event`] (what an event is) → [`engine`] (contacts,
//! legs, agents, windows; time passed in) → [`kpi`] (definitions, aggregates, breaches) →
//! [`snapshot`] → [`export`] (Prometheus text, JSON).
//!
//! At the edges: [`input`] (wire formats decoded into events, and the one ingest step),
//! [`service`] (Kafka ingest, partition workers, shared state, self-metrics, HTTP, wallboard),
//! [`kafka`] (every librdkafka setting), [`config`], [`clock`] (the one wall-clock read),
//! [`replay`], [`rules`] (generated alert rules) and [`cli`]. [`tools`] holds what is not the
//! product: the simulator, the demo, the benchmark and their producer.

pub mod cli;
pub mod clock;
pub mod config;
pub mod engine;
pub mod event;
pub mod export;
pub mod input;
pub mod kafka;
pub mod kpi;
pub mod live;
pub mod replay;
pub mod rules;
pub mod service;
pub mod snapshot;
pub mod time;
pub mod tools;

pub use config::Config;
pub use engine::Engine;
pub use snapshot::Snapshot;
