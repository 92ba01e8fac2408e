//! A wrong clock costs only its own events (docs/metrics.md): an event far ahead of the wall clock
//! (live) or a lone jump ahead of its partition's time (replay) is `bad_timestamp` and moves
//! nothing; a real jump (a quiet night, then the morning) still moves time.

use std::sync::Arc;

use callpulse::config::Config;
use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::replay::replay;
use callpulse::time::Millis;
use serde_json::json;

use crate::support::{answered, at, config, ended, exposition, of, offered, Feed};

/// `n` calls of one queue, one offered every 3 s, each answered 5 s later and ended 60 s after.
fn calls(start: Millis, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..n {
        let t = start + i as Millis * 3_000;
        let c = format!("c{i}");
        lines.push(offered(t, &c, "sales"));
        lines.push(answered(t + 5_000, &c));
        lines.push(ended(t + 65_000, &c));
    }
    crate::support::sorted_by_ts(&lines)
}

fn replayed(cfg: &Arc<Config>, lines: &[String]) -> (String, u64) {
    let text = lines.join("\n");
    let r = replay(cfg.clone(), text.as_bytes(), None).unwrap();
    (
        exposition(&r.snapshot),
        r.stats.rejected(RejectReason::BadTimestamp),
    )
}

#[test]
fn replay_one_event_an_hour_ahead_among_20000_costs_nothing_else() {
    let cfg = config("[queues.sales]\n");
    let start = at("2026-11-23T08:00:00Z");
    let lines = calls(start, 6_667); // 20,001 events over 5.5 hours
    let (clean, none) = replayed(&cfg, &lines);
    assert_eq!(none, 0);
    // inserted half-way (10,000 s in): an hour ahead of its neighbours, and year 9999
    for outlier_at in [start + 13_600_000, at("9999-01-01T00:00:00Z")] {
        let mut poisoned = lines.clone();
        poisoned.insert(lines.len() / 2, offered(outlier_at, "x", "sales"));
        let (with_outlier, bad) = replayed(&cfg, &poisoned);
        assert_eq!(bad, 1, "the outlier alone is bad_timestamp");
        assert_eq!(
            clean, with_outlier,
            "an outlier at {outlier_at} changed a KPI"
        );
    }
}

#[test]
fn replay_a_quiet_night_followed_by_morning_traffic_still_advances() {
    let cfg = config("[queues.sales]\n");
    let evening = calls(at("2026-11-23T21:00:00Z"), 20);
    let morning = calls(at("2026-11-24T08:00:00Z"), 20);
    let lines: Vec<String> = evening.iter().chain(&morning).cloned().collect();
    let text = lines.join("\n");
    let r = replay(cfg, text.as_bytes(), None).unwrap();
    assert_eq!(r.stats.rejected_total(), 0, "{:?}", r.stats);
    let snap = exposition(&r.snapshot);
    let line = "callcenter_contacts_offered_total{queue=\"sales\"} 40";
    assert!(snap.lines().any(|l| l == line), "{line} in\n{snap}");
    assert!(r.snapshot.at > at("2026-11-24T08:01:00Z"));
}

#[test]
fn replay_a_history_ending_after_a_quiet_spell_keeps_its_last_events() {
    let cfg = config("[queues.sales]\n");
    let start = at("2026-11-23T10:00:00Z");
    let lines = [
        offered(start, "c1", "sales"),
        answered(start + 2_000, "c1"),
        // ten minutes later, the history's last call
        offered(start + 600_000, "c2", "sales"),
    ];
    let r = replay(cfg, lines.join("\n").as_bytes(), None).unwrap();
    assert_eq!(r.stats.rejected_total(), 0, "{:?}", r.stats);
    assert_eq!(r.snapshot.at, start + 601_000);
}

#[test]
fn replay_a_repeated_outlier_does_not_confirm_itself() {
    let cfg = config("[queues.sales]\n");
    let start = at("2026-11-23T10:00:00Z");
    let mut lines = calls(start, 100);
    let outlier = of(
        "x",
        start + 7_200_000,
        "contact.offered",
        json!({"id": "ev-9", "queue": "sales"}),
    );
    lines.insert(50, outlier.clone());
    lines.insert(51, outlier);
    let (clean, _) = replayed(&cfg, &calls(start, 100));
    let (poisoned, bad) = replayed(&cfg, &lines);
    assert_eq!(clean, poisoned);
    assert_eq!(bad, 1, "the outlier once, its repeat a duplicate");
}

#[test]
fn live_an_event_beyond_max_clock_skew_is_bad_timestamp_and_moves_nothing() {
    let cfg = config("[engine]\nmax_clock_skew = \"5m\"\n[queues.sales]\n");
    let now = at("2026-11-23T10:00:00Z");
    let mut engine = Engine::new(cfg.center.clone());
    engine.observe_wall_clock(now);
    engine
        .ingest(offered(now - 1_000, "c1", "sales").as_bytes())
        .unwrap();
    // a clock a little fast is believed
    engine
        .ingest(offered(now + 50_000, "c2", "sales").as_bytes())
        .unwrap();
    let before = engine.watermark();
    for ahead in [301_000, 3_600_000, at("9999-01-01T00:00:00Z") - now] {
        let err = engine
            .ingest(offered(now + ahead, "x", "sales").as_bytes())
            .unwrap_err();
        assert_eq!(err.reason, RejectReason::BadTimestamp);
    }
    assert_eq!(engine.watermark(), before);
    // events of the right time after it still count
    engine
        .ingest(answered(now + 1_000, "c1").as_bytes())
        .unwrap();
    assert_eq!(engine.stats().rejected(RejectReason::BadTimestamp), 3);
    assert_eq!(engine.stats().rejected(RejectReason::TooLate), 0);
}

#[test]
fn live_a_checkpoint_never_stores_a_rejected_time() {
    let cfg = config("[queues.sales]\n");
    let now = at("2026-11-23T10:00:00Z");
    let mut engine = Engine::new(cfg.center.clone());
    engine.observe_wall_clock(now);
    engine
        .ingest(offered(now - 1_000, "c1", "sales").as_bytes())
        .unwrap();
    let _ = engine.ingest(offered(at("9999-01-01T00:00:00Z"), "x", "sales").as_bytes());
    let bytes = engine.save_state().unwrap();
    let mut restored = Engine::restore_state(cfg.center.clone(), &bytes).unwrap();
    assert_eq!(restored.watermark(), Some(now - 1_000));
    restored.observe_wall_clock(now + 2_000);
    restored
        .ingest(answered(now + 1_000, "c1").as_bytes())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_one_future_dated_message_among_live_traffic_costs_nothing_else() {
    use crate::kafka::{config, history, produce, start, TOPIC};
    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let (events, _) = history();
    let offers = events
        .iter()
        .filter(|e| e.json.contains("\"contact.offered\""))
        .count();
    let future = offered(callpulse::clock::wall_now() + 3_600_000, "x", "sales");
    let half = events.len() / 2;
    produce(&brokers, &events[..half], &[]);
    produce(&brokers, &[], &[]);
    let producer: rdkafka::producer::BaseProducer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    producer
        .send(
            rdkafka::producer::BaseRecord::<str, str>::to(TOPIC)
                .key("x")
                .payload(&future),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    rdkafka::producer::Producer::flush(&producer, std::time::Duration::from_secs(10)).unwrap();
    produce(&brokers, &events[half..], &[]);
    let service = start(config(&brokers, "it-future-dated", false)).await;
    let text = service.wait_for((events.len() + 1) as f64).await;
    let rejected = |reason: &str| {
        crate::support::sample(
            &text,
            &format!("callpulse_events_rejected_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(rejected("bad_timestamp"), Some(1.0));
    assert_eq!(rejected("too_late"), Some(0.0));
    // every offer of the history (12 to 2 minutes ago) is in the hour's window
    let offered_hour: f64 = text
        .lines()
        .filter(|l| l.starts_with("callcenter_contacts_offered{") && l.contains("window=\"1h\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(offered_hour, offers as f64);
    service.stop().await;
}
