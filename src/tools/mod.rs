//! Tools that are not the product: the traffic simulator, the demo, the benchmark, the producer
//! that feeds them into Kafka and the mock Kafka cluster (in the demo, or as the hidden
//! `mock-broker` process the group tests use). The product never imports this folder.

pub mod bench;
pub mod demo;
pub mod mock_broker;
pub mod produce;
pub mod sim;
