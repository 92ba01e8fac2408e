//! Every librdkafka setting callpulse uses, in one place: the consumer of `callpulse run`, the
//! dead-letter producer, and the throughput producer of the tools. `[kafka.properties]` from the
//! configuration is applied last, so users can override any of them.

use rdkafka::config::ClientConfig;

use crate::config::Config;

/// A partition's identity: topic and partition number.
pub type PartitionKey = (String, i32);

/// Header carrying the reject reason on dead-lettered messages.
pub const REJECT_HEADER: &str = "callpulse-reject-reason";

/// The consumer: offsets are stored by the partition workers after they applied a batch
/// (`enable.auto.offset.store = false`) and committed every second and synchronously on revoke
/// and shutdown; statistics every second feed readiness and lag. Cooperative-sticky assignment
/// moves only the partitions that must move (the others keep being consumed through a
/// rebalance), and `[kafka] instance_id` makes the membership static. A partition whose
/// prefetch queue was full is fetched again 20 ms later, not librdkafka's default second:
/// catching up (recovery), the workers empty the queue faster than that and would otherwise
/// wait idle for most of each second.
///
/// Under the broker-side group protocol of KIP-848 (`"group.protocol" = "consumer"` in
/// `[kafka.properties]`, Kafka 4), the broker assigns partitions and librdkafka refuses a
/// client-side strategy: callpulse then sets none (a rebalance there never stops the other
/// members either).
pub fn consumer_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.brokers)
        .set("group.id", &config.kafka.group_id)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "1000")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100")
        .set("fetch.queue.backoff.ms", "20");
    if let Some(id) = &config.kafka.instance_id {
        c.set("group.instance.id", id);
    }
    let props = &config.kafka.properties;
    if props.get("group.protocol").map(String::as_str) == Some("consumer") {
        c.remove("partition.assignment.strategy");
    }
    with_properties(c, props)
}

/// The checkpoint writer: idempotent, so a checkpoint's chunks land in order and once, before
/// the manifest that names them.
pub fn checkpoint_producer_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("compression.type", "none");
    with_properties(c, &config.kafka.properties)
}

/// The checkpoint reader: assigned by hand (never joins a group), reads from the beginning.
pub fn checkpoint_reader_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.brokers)
        .set(
            "group.id",
            format!("{}.checkpoint-reader", config.kafka.group_id),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50");
    with_properties(c, &config.kafka.properties)
}

/// The dead-letter producer: the brokers and the user's properties, librdkafka's defaults otherwise.
pub fn dead_letter_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.brokers);
    with_properties(c, &config.kafka.properties)
}

/// A producer tuned for throughput (the simulator, the demo, the benchmark).
pub fn bulk_producer_config<'a>(
    brokers: &str,
    properties: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("compression.type", "lz4");
    with_properties(c, properties)
}

/// An admin client or a watermark probe: the brokers only.
pub fn plain_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c
}

fn with_properties<'a>(
    mut c: ClientConfig,
    properties: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> ClientConfig {
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_is_cooperative_and_static_when_an_instance_id_is_set() {
        let mut config = Config::default();
        let c = consumer_config(&config);
        assert_eq!(
            c.get("partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
        assert_eq!(c.get("group.instance.id"), None);
        config.kafka.instance_id = Some("callpulse-0".into());
        assert_eq!(
            consumer_config(&config).get("group.instance.id"),
            Some("callpulse-0")
        );
        // the user's properties still win
        config
            .kafka
            .properties
            .insert("partition.assignment.strategy".into(), "range".into());
        assert_eq!(
            consumer_config(&config).get("partition.assignment.strategy"),
            Some("range")
        );
    }

    #[test]
    fn under_the_broker_side_group_protocol_the_consumer_sets_no_assignment_strategy() {
        use rdkafka::consumer::BaseConsumer;
        let mut config = Config::default();
        config.kafka.instance_id = Some("callpulse-0".into());
        config
            .kafka
            .properties
            .insert("group.protocol".into(), "consumer".into());
        let c = consumer_config(&config);
        assert_eq!(c.get("partition.assignment.strategy"), None);
        assert_eq!(c.get("group.instance.id"), Some("callpulse-0"));
        // librdkafka accepts it (it refuses a client-side strategy under this protocol)
        assert!(c.create::<BaseConsumer>().is_ok());
        let mut classic = consumer_config(&Config::default());
        classic.set("group.protocol", "consumer");
        assert!(classic.create::<BaseConsumer>().is_err());
    }
}
