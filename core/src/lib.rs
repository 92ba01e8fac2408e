//! callpulse's data path, pure and synchronous: [`event`] (what an event is) → [`engine`]
//! (contacts, legs, agents, windows; time passed in, never read) → [`kpi`] (definitions,
//! aggregates, breaches) → [`snapshot`] → [`export`] (Prometheus text, JSON), and [`live`] (the
//! supervisors' view of agents and waiting contacts). [`input`] decodes the platforms' wire
//! formats into events; [`settings`] is what an engine runs on; [`time`] the instants and
//! spans of event time.
//!
//! This crate depends on no async runtime, Kafka client or HTTP server: the service around it
//! (the `callpulse` crate) reads Kafka, serves HTTP and keeps checkpoints.

pub mod engine;
pub mod event;
pub mod export;
pub mod input;
pub mod kpi;
pub mod live;
pub mod settings;
pub mod snapshot;
pub mod time;

pub use engine::Engine;
pub use settings::Settings;
pub use snapshot::Snapshot;
