//! `/api/v1/agents` and `/api/v1/waiting` on a running service reading two partitions: the view
//! is whole over the partitions, ordered, paged, free of customer numbers, and contact ids hide
//! by configuration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::config::Config;
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use crate::kafka::{http_get, start, TOPIC};

pub(crate) fn wall_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Events of a small team a few minutes back: keyed so they land on both partitions.
fn team_events(now: i64) -> Vec<(String, String)> {
    let m = 60_000;
    let agent = |key: &str, ts: i64, name: &str, state: &str, reason: &str| {
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(r#","reason":"{reason}""#)
        };
        (
            key.to_string(),
            format!(
                r#"{{"type":"agent.state","ts":{ts},"agent":"{name}","state":"{state}","queues":["sales"]{reason}}}"#
            ),
        )
    };
    let contact =
        |key: &str, ts: i64, body: &str| (key.to_string(), format!(r#"{{"ts":{ts},{body}}}"#));
    vec![
        agent("a", now - 20 * m, "ann", "available", ""),
        agent("a", now - 19 * m, "ann", "not_ready", "lunch"),
        agent("b", now - 10 * m, "bob", "available", ""),
        agent("b", now - 5 * m, "bob", "busy", ""),
        contact(
            "x",
            now - 6 * m,
            r#""type":"contact.offered","contact_id":"call-1","queue":"sales","customer":"+15551234567""#,
        ),
        contact(
            "x",
            now - 5 * m,
            r#""type":"contact.answered","contact_id":"call-1","agent":"bob""#,
        ),
        contact(
            "y",
            now - 3 * m,
            r#""type":"contact.offered","contact_id":"call-2","queue":"sales","channel":"chat","priority":3,"customer":"+15557654321""#,
        ),
        contact(
            "z",
            now - 4 * m,
            r#""type":"contact.offered","contact_id":"call-3","queue":"sales""#,
        ),
    ]
}

fn produce(brokers: &str, events: &[(String, String)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (key, json) in events {
        producer
            .send(BaseRecord::to(TOPIC).key(key).payload(json))
            .map_err(|(e, _)| e)
            .unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

async fn get_json(addr: std::net::SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(addr, path))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_api_shows_every_partitions_agents_and_waiting_contacts() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 2, 1).unwrap();
    let mut c = Config::parse("[queues.sales]\n[http]\nshow_contact_ids = true\n").unwrap();
    c.kafka.brokers = cluster.bootstrap_servers();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = "it-live".into();
    let service = start(Arc::new(c)).await;
    let now = wall_now();
    produce(&cluster.bootstrap_servers(), &team_events(now));
    // wait until both agents and both waiting contacts are in the view
    let deadline = Instant::now() + Duration::from_secs(60);
    let (agents, waiting) = loop {
        let (sa, agents) = get_json(service.addr, "/api/v1/agents?order=state").await;
        let (sw, waiting) = get_json(service.addr, "/api/v1/waiting?queue=sales").await;
        if sa == 200 && sw == 200 {
            let a: Value = serde_json::from_str(&agents).unwrap();
            let w: Value = serde_json::from_str(&waiting).unwrap();
            if a["total"] == 2 && w["total"] == 2 {
                break (a, w);
            }
        }
        assert!(Instant::now() < deadline, "{agents}\n{waiting}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(agents["version"], 1);
    assert_eq!(
        agents["partitions"],
        serde_json::json!(["events/0", "events/1"])
    );
    let ann = &agents["agents"][0];
    assert_eq!(ann["agent"], "ann", "not ready sorts first: {agents}");
    assert_eq!(ann["state"], "not_ready");
    assert_eq!(ann["reason"], "lunch");
    assert_eq!(ann["since_ms"], now - 19 * 60_000);
    assert_eq!(
        ann["level"], "warn",
        "19 minutes of lunch is past the 15-minute warning"
    );
    let bob = &agents["agents"][1];
    assert_eq!(bob["conversation"]["queue"], "sales");
    assert_eq!(bob["conversation"]["since_ms"], now - 5 * 60_000);
    let ids: Vec<&str> = (waiting["waiting"].as_array().unwrap().iter())
        .map(|w| w["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["call-3", "call-2"], "oldest first across partitions");
    assert_eq!(waiting["waiting"][1]["position"], 2);
    assert_eq!(waiting["waiting"][1]["channel"], "chat");
    assert_eq!(waiting["waiting"][1]["priority"], 3);
    let (_, body) = get_json(service.addr, "/api/v1/waiting").await;
    // (digits alone could stand in a timestamp: look for the numbers themselves)
    for number in ["15551234567", "15557654321"] {
        assert!(!body.contains(number), "no caller number: {body}");
    }
    let (status, body) = get_json(service.addr, "/api/v1/agents?limit=1&offset=1").await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, page["total"].clone()), (200, 2.into()));
    assert_eq!(page["agents"].as_array().unwrap().len(), 1);
    assert_eq!(page["agents"][0]["agent"], "bob", "by name by default");
    let (status, _) = get_json(service.addr, "/api/v1/agents?page=2").await;
    assert_eq!(status, 400);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_ids_are_left_out_when_configured() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let mut c = Config::parse("[queues.sales]\n[http]\nshow_contact_ids = false\n").unwrap();
    c.kafka.brokers = cluster.bootstrap_servers();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = "it-live-hidden".into();
    let service = start(Arc::new(c)).await;
    produce(&cluster.bootstrap_servers(), &team_events(wall_now()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let (status, body) = get_json(service.addr, "/api/v1/waiting").await;
        if status == 200 && serde_json::from_str::<Value>(&body).unwrap()["total"] == 2 {
            break body;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        !body.contains("contact_id") && !body.contains("call-"),
        "{body}"
    );
    service.stop().await;
}
