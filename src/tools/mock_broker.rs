//! The mock Kafka cluster of the tools: librdkafka's `MockCluster` with its topics created — in
//! the demo's process, or in a process of its own (`callpulse mock-broker`, hidden) for tests
//! that run several `callpulse run` processes in one consumer group. Its group coordinator
//! expires members that stop heartbeating (after their `session.timeout.ms`), so a killed
//! member's partitions go to the survivors — what the tansu broker of the end-to-end tests
//! does not do.

use std::future::Future;
use std::io::{Read, Write};

use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A mock cluster as the tools hold it.
pub type Cluster = MockCluster<'static, DefaultProducerContext>;

#[derive(Debug, thiserror::Error)]
pub enum MockBrokerError {
    #[error("mock kafka cluster: {0}")]
    Kafka(#[from] KafkaError),
    #[error("cannot write the bootstrap servers: {0}")]
    Stdout(#[source] std::io::Error),
}

/// What `callpulse mock-broker` starts.
#[derive(Clone, Debug)]
pub struct MockBrokerOptions {
    /// Brokers in the cluster.
    pub brokers: i32,
    /// Topics to create, each with `partitions` partitions (replication factor 1).
    pub topics: Vec<String>,
    pub partitions: i32,
}

/// A mock cluster of `brokers` brokers with every topic of `topics` created with `partitions`
/// partitions (replication factor 1). It runs on librdkafka's own threads until dropped.
pub fn cluster<S: AsRef<str>>(
    brokers: i32,
    topics: &[S],
    partitions: i32,
) -> Result<Cluster, KafkaError> {
    let cluster = MockCluster::new(brokers)?;
    for topic in topics {
        cluster.create_topic(topic.as_ref(), partitions, 1)?;
    }
    Ok(cluster)
}

/// Starts the cluster, prints its bootstrap servers as the first line on stdout, and serves
/// until `shutdown` completes or standard input is closed (a test harness that dies, or drops
/// the pipe, takes the broker with it).
pub async fn run(
    opts: &MockBrokerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), MockBrokerError> {
    let cluster = cluster(opts.brokers, &opts.topics, opts.partitions)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", cluster.bootstrap_servers())
        .and_then(|()| stdout.flush())
        .map_err(MockBrokerError::Stdout)?;
    drop(stdout);
    eprintln!(
        "callpulse mock-broker: {} broker(s) at {}; topics {:?} ({} partitions each); \
         stops on SIGINT, SIGTERM or when stdin closes",
        opts.brokers,
        cluster.bootstrap_servers(),
        opts.topics,
        opts.partitions
    );
    tokio::select! {
        () = shutdown => {}
        () = stdin_closed() => {}
    }
    drop(cluster);
    Ok(())
}

/// Completes when standard input reaches its end (or fails). The reading thread is detached:
/// a blocked read never holds the runtime's shutdown.
fn stdin_closed() -> impl Future<Output = ()> {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 512];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = closed.send(());
        });
    async move {
        match spawned {
            Ok(_) => {
                let _ = on_close.await;
            }
            // no watcher: only the signals stop the broker
            Err(_) => std::future::pending::<()>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::time::Duration;

    #[test]
    fn every_topic_gets_its_partitions() {
        let cluster = cluster(1, &["a", "b"], 3).unwrap();
        let probe: BaseConsumer = crate::kafka::plain_config(&cluster.bootstrap_servers())
            .create()
            .unwrap();
        let metadata = probe.fetch_metadata(None, Duration::from_secs(10)).unwrap();
        let mut topics: Vec<(String, usize)> = metadata
            .topics()
            .iter()
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect();
        topics.sort();
        assert_eq!(topics, [("a".to_string(), 3), ("b".to_string(), 3)]);
    }
}
