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
    let body = raw.get(split + 4..).unwrap_or_default();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunked(body)
    } else {
        body.to_vec()
    };
    (status, head, body)
}

/// A chunked transfer's body without its chunk-size lines.
fn dechunked(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&raw[..eol]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        let data = &raw[eol + 2..];
        out.extend_from_slice(&data[..n.min(data.len())]);
        raw = data.get(n + 2..).unwrap_or_default();
    }
    out
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
    // a window or family this instance does not write is refused, not answered empty
    let (status, body) = get("/metrics?window=6m").await.unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, body) = get("/metrics?family=callcenter_agent").await.unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, _) = get("/metrics?window=now&family=callpulse_up")
        .await
        .unwrap();
    assert_eq!(status, 200);

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

/// A scrape of a few hundred queues is streamed in many chunks (gzipped or not), and both are
/// the exposition the service renders in one piece; the standard profile writes only its
/// windows and families.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_scrape_streams_the_same_exposition_gzipped_or_plain() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let queues: String = (0..400).map(|i| format!("[queues.q{i:03}]\n")).collect();
    let mut c = Config::parse(&queues).unwrap();
    c.kafka.brokers = cluster.bootstrap_servers();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = "it-scrape-stream".into();
    let service = start(Arc::new(c)).await;
    let addr = service.addr;
    let (plain, zipped) = tokio::task::spawn_blocking(move || {
        let (_, _, plain) = http_get_raw(addr, "/metrics", "");
        let (_, head, body) = http_get_raw(addr, "/metrics", "Accept-Encoding: gzip\r\n");
        assert!(head.contains("content-encoding: gzip"), "{head}");
        let mut zipped = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut zipped)
            .expect("gzip");
        (String::from_utf8(plain).expect("utf-8"), zipped)
    })
    .await
    .unwrap();
    // the KPI families do not move between the two scrapes (no traffic); self-metrics may
    let kpis = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("callcenter_") || l.starts_with("# TYPE callcenter_"))
            .map(String::from)
            .collect()
    };
    assert!(
        plain.len() > 1 << 20,
        "{} bytes: several chunks",
        plain.len()
    );
    assert_eq!(kpis(&plain), kpis(&zipped));
    let windows: std::collections::BTreeSet<&str> = plain
        .lines()
        .filter_map(|l| l.split_once("window=\"").map(|(_, r)| r))
        .filter_map(|r| r.split_once('"').map(|(w, _)| w))
        .collect();
    assert_eq!(
        windows,
        ["15m", "now", "today"].into(),
        "the standard profile's windows"
    );
    assert!(!plain.contains("callcenter_talk_seconds{"));
    assert!(plain.contains("callcenter_talk_duration_seconds_count{queue=\"q399\"} 0"));
    service.stop().await;
}

/// Series of each queue under the standard and the full profile, from a replay of an hour of
/// simulated traffic with customers, surveys and chats: the standard profile is a fraction of
/// the full one, writes only its windows and families, and keeps every cumulative family.
#[test]
fn the_standard_profile_writes_a_fraction_of_the_full_series() {
    use callpulse::config::STANDARD_LEFT_OUT;
    use callpulse::export::{render, Exposition};
    use callpulse::rules::needs::windowed_family;
    use callpulse::tools::sim::{SimConfig, Simulator};

    let start = 1_795_428_000_000;
    let mut sim = Simulator::new(SimConfig {
        queues: 4,
        agents: 40,
        rate: 1.0,
        start_ms: start,
        flat: true,
        ..SimConfig::default()
    });
    let mut events = Vec::new();
    sim.advance(start + 3_600_000, &mut events);
    let input: Vec<&str> = events.iter().map(|e| e.json.as_str()).collect();
    let series = |profile: &str| -> (String, usize) {
        let config =
            Arc::new(Config::parse(&format!("[export]\nprofile = \"{profile}\"\n")).unwrap());
        let r =
            callpulse::replay::replay(config.clone(), input.join("\n").as_bytes(), None).unwrap();
        let mut out = Exposition::new();
        render(&r.snapshot, &config.center.export, &mut out);
        let text = out.finish();
        let queues = r.snapshot.queues.len();
        let n = text.lines().filter(|l| !l.starts_with('#')).count();
        (text, n / queues)
    };
    let (standard, per_queue) = series("standard");
    let (full, per_queue_full) = series("full");
    eprintln!("series per queue: standard {per_queue}, full {per_queue_full}");
    assert!(
        per_queue * 2 < per_queue_full,
        "{per_queue} vs {per_queue_full}"
    );
    for line in standard.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        let window = line
            .split_once("window=\"")
            .and_then(|(_, r)| r.split_once('"'));
        if let Some((w, _)) = window.filter(|(w, _)| *w != "now") {
            assert!(["15m", "today"].contains(&w), "{line}");
            let family = windowed_family(name).unwrap_or_else(|| panic!("{line}"));
            assert!(!STANDARD_LEFT_OUT.contains(&family), "{line}");
        }
    }
    // the cumulative families are the same in both, bar the histograms' bounds
    let cumulative = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.contains("_total{") || (l.contains("_duration_seconds_") && !l.contains("le="))
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(cumulative(&standard), cumulative(&full));
    assert!(cumulative(&full).len() > 100);
}

/// The engine keeps the windows the profile exports and the forecast's, no other: a window
/// nobody reads costs no memory; the forecast still has its window when it is not exported.
#[test]
fn the_engine_keeps_only_the_exported_windows_and_the_forecasts() {
    use callpulse::engine::Engine;
    let labels = |text: &str| {
        let config = Arc::new(Config::parse(text).unwrap());
        Engine::new(config.center.clone()).snapshot().window_labels
    };
    assert_eq!(labels(""), ["15m", "today"]);
    assert_eq!(
        labels("[engine]\nforecast_window = \"1h\"\n[export]\nwindows = [\"5m\"]\n"),
        ["5m", "1h"]
    );
    assert_eq!(
        labels("[export]\nprofile = \"full\"\n"),
        ["5m", "15m", "1h", "interval", "today"]
    );
    // the forecast reads its window though the profile does not export it
    let config = Arc::new(
        Config::parse("[engine]\nforecast_window = \"1h\"\n[export]\nwindows = [\"5m\"]\n")
            .unwrap(),
    );
    let start = 1_795_428_000_000;
    let mut sim = callpulse::tools::sim::Simulator::new(callpulse::tools::sim::SimConfig {
        queues: 1,
        agents: 10,
        rate: 1.0,
        start_ms: start,
        flat: true,
        ..callpulse::tools::sim::SimConfig::default()
    });
    let mut events = Vec::new();
    sim.advance(start + 1_800_000, &mut events);
    let input: Vec<&str> = events.iter().map(|e| e.json.as_str()).collect();
    let r = callpulse::replay::replay(config.clone(), input.join("\n").as_bytes(), None).unwrap();
    let mut out = callpulse::export::Exposition::new();
    callpulse::export::render(&r.snapshot, &config.center.export, &mut out);
    let text = out.finish();
    assert!(
        text.contains("callcenter_forecast_agents_required{"),
        "{text}"
    );
    assert!(!text.contains("window=\"1h\""));
}

/// With `[export] agents` a scrape writes the per-agent families of every partition merged (an
/// agent's state from one partition, its handled contacts from the other), the first agents by
/// name up to `max_agents_exported`, and counts the agents left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_agent_export_merges_the_partitions_and_counts_the_agents_left_out() {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 2, 1).unwrap();
    let mut c = Config::parse(
        "[queues.sales]\nwrapup = false\n[export]\nagents = true\nmax_agents_exported = 2\n",
    )
    .unwrap();
    c.kafka.brokers = cluster.bootstrap_servers();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = "it-scrape-agents".into();
    let service = start(Arc::new(c)).await;
    let now = crate::live_api::wall_now();
    let m = 60_000;
    let state = |ts: i64, agent: &str, state: &str, reason: &str| {
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(r#","reason":"{reason}""#)
        };
        format!(
            r#"{{"type":"agent.state","ts":{ts},"agent":"{agent}","state":"{state}"{reason},"queues":["sales"]}}"#
        )
    };
    let contact = |ts: i64, step: &str, id: &str, rest: &str| {
        format!(r#"{{"type":"contact.{step}","ts":{ts},"contact_id":"{id}"{rest}}}"#)
    };
    let events = [
        (0, state(now - 20 * m, "ann", "available", "")),
        (0, state(now - 19 * m, "ann", "not_ready", "lunch")),
        (0, state(now - 10 * m, "bob", "available", "")),
        (0, state(now - 5 * m, "bob", "busy", "")),
        (
            1,
            contact(now - 6 * m, "offered", "c1", r#","queue":"sales""#),
        ),
        (
            1,
            contact(now - 5 * m, "answered", "c1", r#","agent":"bob""#),
        ),
        (1, contact(now - 3 * m, "ended", "c1", r#","agent":"bob""#)),
        (
            1,
            contact(now - 4 * m, "offered", "c2", r#","queue":"sales""#),
        ),
        (
            1,
            contact(now - 4 * m, "answered", "c2", r#","agent":"cy""#),
        ),
    ];
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    for (partition, json) in &events {
        producer
            .send(
                BaseRecord::<(), str>::to(TOPIC)
                    .partition(*partition)
                    .payload(json.as_str()),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let addr = service.addr;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (status, text) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
            .await
            .unwrap();
        if status == 200 && text.contains("callpulse_agent_export_left_out 1") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let agent_lines: Vec<&str> = (text.lines())
        .filter(|l| l.starts_with("callpulse_agent_"))
        .collect();
    for want in [
        "callpulse_agent_state{agent=\"ann\",state=\"not_ready\",reason=\"lunch\"} 1",
        "callpulse_agent_state{agent=\"bob\",state=\"busy\",reason=\"\"} 1",
        "callpulse_agent_handled_today{agent=\"bob\",queue=\"sales\"} 1",
        "callpulse_agent_handle_time_today_seconds{agent=\"bob\",queue=\"sales\"} 120",
    ] {
        assert!(agent_lines.contains(&want), "{want}: {agent_lines:#?}");
    }
    assert!(
        !agent_lines.iter().any(|l| l.contains("agent=\"cy\"")),
        "cy is third by name: {agent_lines:#?}"
    );
    let ann_in_state: f64 = (agent_lines.iter())
        .find_map(|l| l.strip_prefix("callpulse_agent_time_in_state_seconds{agent=\"ann\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        (19.0 * 60.0..25.0 * 60.0).contains(&ann_in_state),
        "{ann_in_state}"
    );
    service.stop().await;
}
