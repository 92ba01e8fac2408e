//! The one integration-test binary: the engine driven directly, the real binary on fixtures,
//! and (further modules) Kafka ingest against a mock cluster and end-to-end runs.

mod asterisk;
mod asterisk_disorder;
mod bank;
mod checkpoint;
mod clock;
mod connect;
mod customers;
mod disorder;
mod e2e;
mod engine;
mod events_doc;
mod first_response;
mod forecast;
mod freeswitch;
mod fuzz;
mod hardening;
mod http_limits;
mod kafka;
mod legs;
mod live_api;
mod metrics_doc;
mod recovery;
mod replay_bin;
mod review;
mod scale;
mod scrape;
mod sim;
mod sim_formats;
mod stored;
mod support;
mod taskrouter;
mod tls;
mod traffic;
mod workforce;
mod wrong_clock;
