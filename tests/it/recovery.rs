//! Recovery through Kafka (librdkafka's mock cluster): a restarted instance resumes from its
//! partitions' checkpoints, so a contact older than the rebuild horizon still takes its late
//! survey and the cumulative counters go on; without checkpoints (the control) both are lost;
//! a damaged checkpoint is counted and the partition is rebuilt from the horizon instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::clock::wall_now;
use callpulse::config::Config;
use callpulse::time::{Millis, Span, MINUTE};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::kafka::{start, Running, TOPIC};
use crate::support::{answered, ended, ev, offered, sample};

const CHECKPOINTS: &str = "callpulse.checkpoints";

fn produce(brokers: &str, records: &[(&str, Vec<u8>)], topic: &str) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (key, payload) in records {
        producer
            .send(BaseRecord::to(topic).key(*key).payload(payload))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn events(brokers: &str, lines: &[String]) {
    let records: Vec<(&str, Vec<u8>)> = lines.iter().map(|l| ("c1", l.clone().into())).collect();
    produce(brokers, &records, TOPIC);
}

fn config(brokers: &str, group: &str, rebuild: Option<Span>, checkpoints: bool) -> Arc<Config> {
    let mut c = Config::parse("[queues.sales]\n").unwrap();
    c.kafka.brokers = brokers.into();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = group.into();
    c.kafka.rebuild = rebuild;
    c.kafka.checkpoint_interval = Span::from_secs(1);
    if !checkpoints {
        c.kafka.checkpoint_topic = String::new();
    }
    Arc::new(c)
}

/// Waits until `series` reaches `at_least`; returns the page.
async fn wait_until(running: &Running, series: &str, at_least: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = running.metrics().await;
        if sample(&text, series).unwrap_or(0.0) >= at_least {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never reached {at_least}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A contact answered and ended 40 minutes ago, the agent's later state (moving the
/// watermark), then its survey 5 minutes ago and a later event that makes the survey final.
fn contact_and_survey(now: Millis) -> (Vec<String>, Vec<String>) {
    let t0 = now - 40 * MINUTE;
    let contact = vec![
        offered(t0, "c1", "sales"),
        answered(t0 + 20_000, "c1"),
        ended(t0 + 180_000, "c1"),
        ev(
            t0 + 10 * MINUTE,
            "agent.state",
            serde_json::json!({"agent": "a1", "state": "available", "queues": ["sales"]}),
        ),
    ];
    let survey = vec![
        ev(
            now - 5 * MINUTE,
            "survey.submitted",
            serde_json::json!({"contact_id": "c1", "csat": 4}),
        ),
        ev(
            now,
            "agent.state",
            serde_json::json!({"agent": "a1", "state": "available", "queues": ["sales"]}),
        ),
    ];
    (contact, survey)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_survey_counts_after_a_restart_beyond_the_rebuild_horizon() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    cluster.create_topic(CHECKPOINTS, 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let (contact, survey) = contact_and_survey(wall_now());
    events(&brokers, &contact);

    // the first instance reads the contact live, checkpoints, and stops
    let first = start(config(&brokers, "it-recover", None, true)).await;
    let before = first.wait_for(contact.len() as f64).await;
    wait_until(&first, "callpulse_checkpoints_written_total", 1.0).await;
    first.stop().await;
    assert_eq!(
        sample(
            &before,
            "callcenter_contacts_offered_total{queue=\"sales\"}"
        ),
        Some(1.0)
    );

    // the survey comes while no instance runs; the next ones re-read only 10 minutes
    events(&brokers, &survey);
    let horizon = Some(Span::from_secs(600));
    let resumed = start(config(&brokers, "it-recover", horizon, true)).await;
    let after = resumed
        .wait_for((contact.len() + survey.len()) as f64)
        .await;
    resumed.stop().await;
    let control = start(config(&brokers, "it-recover-control", horizon, false)).await;
    let rebuilt = control.wait_for(survey.len() as f64).await;
    control.stop().await;

    let restored = "callpulse_checkpoint_loads_total{outcome=\"restored\"}";
    assert_eq!(sample(&after, restored), Some(1.0), "{after}");
    for (series, with, without) in [
        // the survey found the contact older than the horizon
        ("callcenter_csat_responses_total{queue=\"sales\"}", 1.0, 0.0),
        ("callcenter_csat_points_total{queue=\"sales\"}", 4.0, 0.0),
        // the counters went on from where the first instance left them
        (
            "callcenter_contacts_offered_total{queue=\"sales\"}",
            1.0,
            0.0,
        ),
        (
            "callcenter_contacts_answered_total{queue=\"sales\"}",
            1.0,
            0.0,
        ),
        ("callpulse_events_accepted_total", 6.0, 2.0),
    ] {
        assert_eq!(
            sample(&after, series),
            Some(with),
            "{series} resumed:\n{after}"
        );
        assert_eq!(
            sample(&rebuilt, series),
            Some(without),
            "{series} rebuilt:\n{rebuilt}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_checkpoint_is_counted_and_the_partition_rebuilt() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    cluster.create_topic(CHECKPOINTS, 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    // a manifest whose only chunk does not match its CRC
    let chunk = b"not what the manifest says".to_vec();
    let mut manifest = b"CPMF".to_vec();
    manifest.extend_from_slice(&5u64.to_le_bytes());
    manifest.extend_from_slice(&1u32.to_le_bytes());
    manifest.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
    manifest.extend_from_slice(&0u32.to_le_bytes());
    let chunk_key = format!("it-damaged/{TOPIC}/0/5/0");
    let manifest_key = format!("it-damaged/{TOPIC}/0");
    produce(
        &brokers,
        &[
            (chunk_key.as_str(), chunk),
            (manifest_key.as_str(), manifest),
        ],
        CHECKPOINTS,
    );
    let now = wall_now();
    let lines = vec![
        offered(now - 3 * MINUTE, "c1", "sales"),
        answered(now - 2 * MINUTE, "c1"),
        ended(now - MINUTE, "c1"),
    ];
    events(&brokers, &lines);

    let running = start(config(&brokers, "it-damaged", None, true)).await;
    let text = running.wait_for(lines.len() as f64).await;
    running.stop().await;
    let unreadable = "callpulse_checkpoint_loads_total{outcome=\"unreadable\"}";
    assert_eq!(sample(&text, unreadable), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "callcenter_contacts_answered{queue=\"sales\",window=\"15m\"}"
        ),
        Some(1.0),
        "{text}"
    );
}
