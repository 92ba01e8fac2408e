//! Tools that are not the product: the traffic simulator, the demo, the benchmark and the
//! producer that feeds them into Kafka. The product never imports this folder.

pub mod bench;
pub mod demo;
pub mod produce;
pub mod sim;
