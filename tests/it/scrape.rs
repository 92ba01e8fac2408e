//! `/metrics` slices (`?queue=`, `?shard=`, `?window=`, `?family=`) and gzip, on a running
//! service.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use callpulse::config::Config;
use rdkafka::mocking::MockCluster;

use crate::kafka::{http_get, start, TOPIC};

/// A raw GET with extra header lines; the status, the response head and the body bytes.
fn http_get_raw(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        head,
        raw.get(split + 4..).unwrap_or_default().to_vec(),
    )
}

/// `/metrics` slices by queue, shard, window and family, refuses what it does not know, and
/// is gzipped when the scraper accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_sliced_by_query_and_gzipped_on_request() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let mut c =
        Config::parse("[queues.sales]\n[queues.support]\n[queues.billing]\n[queues.care]\n")
            .unwrap();
    c.kafka.brokers = cluster.bootstrap_servers();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = "it-scrape".into();
    let service = start(Arc::new(c)).await;
    let addr = service.addr;
    let get = |path: &'static str| tokio::task::spawn_blocking(move || http_get(addr, path));
    let queues_in = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.split_once("queue=\"").map(|(_, r)| r))
            .filter_map(|r| r.split_once('"').map(|(q, _)| q.to_string()))
            .collect()
    };
    let (_, all) = get("/metrics").await.unwrap();
    assert_eq!(queues_in(&all).len(), 4, "{all}");

    let (status, sales) = get("/metrics?queue=sales").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(queues_in(&sales), ["sales".to_string()].into());
    assert!(
        sales.contains("callpulse_up 1"),
        "self-metrics in a queue slice"
    );

    let (_, s0) = get("/metrics?shard=0/2").await.unwrap();
    let (_, s1) = get("/metrics?shard=1/2").await.unwrap();
    let (q0, q1) = (queues_in(&s0), queues_in(&s1));
    assert!(q0.is_disjoint(&q1));
    assert_eq!(q0.len() + q1.len(), 4);
    assert!(
        s0.contains("callpulse_up 1") && !s1.contains("callpulse_up"),
        "self-metrics once"
    );

    let (_, w) = get("/metrics?window=15m").await.unwrap();
    assert!(w.contains("window=\"15m\"") && !w.contains("window=\"5m\""));

    let (_, f) = get("/metrics?family=callcenter_agents").await.unwrap();
    assert_eq!(
        f.lines().filter(|l| l.starts_with("# TYPE")).count(),
        1,
        "{f}"
    );
    assert_eq!(
        f.lines().filter(|l| !l.starts_with('#')).count(),
        16,
        "4 queues x 4 states"
    );

    let (status, _) = get("/metrics?collect=x").await.unwrap();
    assert_eq!(status, 400);

    let (status, head, body) = tokio::task::spawn_blocking(move || {
        http_get_raw(addr, "/metrics?queue=sales", "Accept-Encoding: gzip\r\n")
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .expect("gzip");
    assert!(
        text.contains("callcenter_contacts_offered{queue=\"sales\",window=\"15m\"} 0"),
        "{text}"
    );
    assert!(
        body.len() * 4 < text.len(),
        "{} bytes for {}",
        body.len(),
        text.len()
    );
    service.stop().await;
}
