//! The service on a compressed clock (the soak tool's): its windows slide by simulated time,
//! not by the wall clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::clock::{wall_now, Clock};
use callpulse::config::Config;
use callpulse::tools::sim::{SimConfig, Simulator};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::kafka::http_get;
use crate::support::sample;

/// The sum of `family`'s samples in `window`.
fn in_window(text: &str, family: &str, window: &str) -> f64 {
    let label = format!("window=\"{window}\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_on_a_compressed_clock_slides_its_windows_by_simulated_time() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    // two minutes of traffic ending at t0, and nothing after it
    let t0 = wall_now();
    let mut sim = Simulator::new(SimConfig {
        queues: 2,
        agents: 40,
        rate: 1.0,
        start_ms: t0 - 2 * 60_000,
        flat: true,
        ..SimConfig::default()
    });
    let mut events = Vec::new();
    sim.advance(t0, &mut events);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for e in &events {
        producer
            .send(BaseRecord::to("events").key(&e.key).payload(&e.json))
            .map_err(|(e, _)| e)
            .unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let mut config = Config::parse("[export]\nprofile = \"full\"\n").expect("config");
    config.kafka.brokers = brokers;
    config.kafka.topics = vec!["events".into()];
    config.kafka.group_id = "it-compressed-clock".into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    // two simulated minutes per wall second, from t0
    let started = Instant::now();
    let served = tokio::spawn(callpulse::service::serve_clocked(
        Arc::new(config),
        Clock::compressed(t0, 120.0),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = started + Duration::from_secs(60);
    let text = loop {
        let text = tokio::task::spawn_blocking(move || http_get(addr, "/metrics").1)
            .await
            .unwrap();
        let accepted = sample(&text, "callpulse_events_accepted_total").unwrap_or(0.0);
        let offered_5m = in_window(&text, "callcenter_contacts_offered", "5m");
        if accepted as usize == events.len() && offered_5m == 0.0 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "{accepted} of {} events accepted, {offered_5m} offered in the 5m window after {:?}",
            events.len(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Every event is at or before t0: the 5-minute window is empty once the service's clock is
    // 3+ minutes past t0 — on the wall clock that takes 3 minutes, on this one 1.5 s.
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        in_window(&text, "callcenter_contacts_offered", "1h") > 0.0,
        "the hour still holds the contacts"
    );
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
