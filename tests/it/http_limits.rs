//! The HTTP face under real load: many concurrent scrapes share one whole picture (never a
//! partial or zero one), and a flood of idle or stalled connections cannot starve `/healthz`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;

use crate::kafka::{config, history, http_get, produce, start, TOPIC};
use crate::support::sample;

/// The sum of the `_total` offered counters over queues.
fn offered_total(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("callcenter_contacts_offered_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_scrapes_each_get_the_whole_picture() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 4, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let (events, bad) = history();
    produce(&brokers, &events, &bad);
    let service = start(config(&brokers, "it-concurrent-scrapes", false)).await;
    let settled = service.wait_for((events.len() + bad.len()) as f64).await;
    let expected = offered_total(&settled);
    assert!(expected > 100.0, "{expected} offered");
    let addr = service.addr;
    for round in 0..4 {
        let scrapes: Vec<_> = (0..50)
            .map(|_| std::thread::spawn(move || http_get(addr, "/metrics")))
            .collect();
        for s in scrapes {
            let (status, text) = s.join().unwrap();
            assert_eq!(status, 200, "round {round}: {text}");
            assert_eq!(
                offered_total(&text),
                expected,
                "round {round}: a scrape showed a partial picture"
            );
        }
    }
    let text = service.metrics().await;
    let shared = sample(&text, "callpulse_scrapes_total{outcome=\"shared\"}").unwrap_or(0.0);
    let incomplete = sample(&text, "callpulse_scrapes_total{outcome=\"incomplete\"}");
    assert!(shared > 0.0, "no scrape shared a gather:\n{text}");
    assert_eq!(incomplete, Some(0.0));
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_leaves_healthz_answering() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let mut c = (*config(&cluster.bootstrap_servers(), "it-idle-flood", false)).clone();
    c.http.max_connections = 64;
    let service = start(Arc::new(c)).await;
    let addr = service.addr;
    let flood = tokio::task::spawn_blocking(move || {
        let idle: Vec<TcpStream> = (0..2_000)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect();
        let started = Instant::now();
        let (status, body) = http_get(addr, "/healthz");
        (idle, status, body, started.elapsed())
    });
    let (idle, status, body, took) = flood.await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert!(took < Duration::from_secs(5), "/healthz took {took:?}");
    let text = service.metrics().await;
    let evicted = sample(
        &text,
        "callpulse_http_connections_closed_total{reason=\"evicted\"}",
    )
    .unwrap_or(0.0);
    assert!(evicted >= 1_900.0, "{evicted} evicted of 2,000 idle");
    let open = sample(&text, "callpulse_http_connections").unwrap_or(f64::MAX);
    assert!(open <= 64.0, "{open} connections open");
    drop(idle);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_never_finished_is_cut_off_after_header_read_timeout() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let mut c = (*config(&cluster.bootstrap_servers(), "it-slow-header", false)).clone();
    c.http.header_read_timeout = "1s".parse().unwrap();
    let service = start(Arc::new(c)).await;
    let addr = service.addr;
    let closed_after = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        // the server closes (0 bytes, or an error response then 0) or resets
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        started.elapsed()
    })
    .await
    .unwrap();
    assert!(
        closed_after < Duration::from_secs(10),
        "still open after {closed_after:?}"
    );
    let text = service.metrics().await;
    let timeouts = sample(
        &text,
        "callpulse_http_connections_closed_total{reason=\"timeout\"}",
    )
    .unwrap_or(0.0);
    assert!(timeouts >= 1.0, "{timeouts} timeouts counted");
    service.stop().await;
}
