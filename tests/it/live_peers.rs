//! The live view of a scaled-out group: two `callpulse run` processes in one consumer group on
//! a tansu broker, each naming the other in `[http] peers`, with agents and waiting contacts
//! spread over four partitions. Either instance's `/api/v1/agents` and `/api/v1/waiting`
//! answer with every agent and every waiting contact (the same pages from both), paged as
//! asked; and once one instance stops, the other refuses (503, naming it) rather than show
//! half the floor.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use crate::kafka::http_get;
use crate::support::{eventually, free_port, start_run, start_tansu};

const TOPIC: &str = "callcenter.events";
const PARTITIONS: i32 = 4;
const AGENTS: usize = 30;
const WAITING: usize = 12;

fn wall_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Agents keyed by name and contacts by id (so they spread over the partitions), a few minutes
/// back: every third agent on a call from a contact in another partition, the rest available
/// or on a break; and `WAITING` contacts waiting, one a second. With the expected state of
/// each agent and the waiting contacts oldest first.
#[allow(clippy::type_complexity)]
fn floor(
    now: i64,
) -> (
    Vec<(String, String)>,
    BTreeMap<String, &'static str>,
    Vec<String>,
) {
    let m = 60_000;
    let mut events = Vec::new();
    let mut states = BTreeMap::new();
    for a in 0..AGENTS {
        let name = format!("agent-{a:02}");
        let state = ["available", "not_ready", "busy"][a % 3];
        let reason = if state == "not_ready" {
            r#","reason":"break""#
        } else {
            ""
        };
        events.push((
            name.clone(),
            format!(
                r#"{{"type":"agent.state","ts":{},"agent":"{name}","state":"{state}","queues":["sales"]{reason}}}"#,
                now - 10 * m + a as i64
            ),
        ));
        if state == "busy" {
            let id = format!("talk-{a:02}");
            events.push((
                id.clone(),
                format!(
                    r#"{{"type":"contact.offered","ts":{},"contact_id":"{id}","queue":"sales"}}"#,
                    now - 8 * m + a as i64
                ),
            ));
            events.push((
                id.clone(),
                format!(
                    r#"{{"type":"contact.answered","ts":{},"contact_id":"{id}","agent":"{name}"}}"#,
                    now - 7 * m + a as i64
                ),
            ));
        }
        states.insert(name, state);
    }
    let mut waiting = Vec::new();
    for w in 0..WAITING {
        let id = format!("wait-{w:02}");
        events.push((
            id.clone(),
            format!(
                r#"{{"type":"contact.offered","ts":{},"contact_id":"{id}","queue":"sales"}}"#,
                now - 5 * m + w as i64 * 1_000
            ),
        ));
        waiting.push(id);
    }
    // in time order, as a platform writes them (within the allowed lateness in every partition)
    events.sort_by_key(|(_, json)| {
        let v: Value = serde_json::from_str(json).unwrap();
        v["ts"].as_i64().unwrap()
    });
    (events, states, waiting)
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

fn json(addr: SocketAddr, path: &str) -> Result<Value, String> {
    match http_get(addr, path) {
        (200, body) => serde_json::from_str(&body).map_err(|e| format!("{e}: {body}")),
        (status, body) => Err(format!("{path}: {status} {body}")),
    }
}

/// The page without its instant (two reads a moment apart differ only there).
fn timeless(mut page: Value) -> Value {
    page["at"] = Value::Null;
    page["at_ms"] = Value::Null;
    for list in ["agents", "waiting"] {
        for row in page[list].as_array_mut().into_iter().flatten() {
            row["seconds_in_state"] = Value::Null;
            row["seconds"] = Value::Null;
            row["waiting_seconds"] = Value::Null;
            if let Some(c) = row.get_mut("conversation").filter(|c| c.is_object()) {
                c["seconds"] = Value::Null;
            }
        }
    }
    page
}

#[test]
#[ignore = "needs a tansu broker process: run by scripts/test with CALLPULSE_TANSU set"]
fn either_instance_of_a_group_shows_every_agent_and_waiting_contact() {
    let (_broker, brokers) = start_tansu();
    callpulse::tools::bench::create_topic(&brokers, TOPIC, PARTITIONS).expect("create topic");
    let dir = std::env::temp_dir().join(format!("callpulse-live-peers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let addrs: Vec<SocketAddr> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()).parse().unwrap())
        .collect();
    let mut procs = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let peer = addrs[1 - i];
        let config = dir.join(format!("{i}.toml"));
        std::fs::write(
            &config,
            format!(
                "[queues.sales]\n\
                 [kafka]\nbrokers = \"{brokers}\"\ntopics = [\"{TOPIC}\"]\ngroup_id = \"it-live-peers\"\n\
                 [kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"\n\
                 [http]\nlisten = \"{addr}\"\npeers = [\"http://{peer}\"]\npeer_timeout = \"3s\"\n"
            ),
        )
        .unwrap();
        procs.push(start_run(&config, *addr, &dir.join(format!("{i}.log"))));
    }
    let now = wall_now();
    let (events, states, waiting) = floor(now);
    produce(&brokers, &events);
    let all_partitions: Vec<String> = (0..PARTITIONS).map(|p| format!("{TOPIC}/{p}")).collect();
    // both own some partitions, and either answers with the whole floor
    let pages = eventually(Duration::from_secs(120), || {
        let mut pages = Vec::new();
        for addr in &addrs {
            let agents = json(*addr, "/api/v1/agents?limit=1000")?;
            let waiting = json(*addr, "/api/v1/waiting?limit=1000")?;
            let own = json(*addr, "/api/v1/local")?;
            let own = own["partitions"].as_array().map_or(0, Vec::len);
            if agents["partitions"] != serde_json::json!(all_partitions)
                || own == 0
                || own == PARTITIONS as usize
                || agents["total"] != AGENTS
                || waiting["total"] != WAITING
            {
                return Err(format!(
                    "{addr}: own partitions {own}, {} agents over {}, {} waiting",
                    agents["total"], agents["partitions"], waiting["total"]
                ));
            }
            pages.push((agents, waiting));
        }
        Ok(pages)
    });
    for (agents, waiting_page) in &pages {
        let shown: BTreeMap<String, &str> = (agents["agents"].as_array().unwrap().iter())
            .map(|a| {
                (
                    a["agent"].as_str().unwrap().to_string(),
                    a["state"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(shown, states);
        for a in agents["agents"].as_array().unwrap() {
            if a["state"] == "busy" {
                assert_eq!(a["conversation"]["queue"], "sales", "{a}");
            }
        }
        let ids: Vec<&str> = (waiting_page["waiting"].as_array().unwrap().iter())
            .map(|w| w["contact_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, waiting, "oldest first over both instances");
    }
    assert_eq!(timeless(pages[0].0.clone()), timeless(pages[1].0.clone()));
    assert_eq!(timeless(pages[0].1.clone()), timeless(pages[1].1.clone()));
    // paging holds over the merged view
    let page = json(addrs[0], "/api/v1/agents?limit=7&offset=7").unwrap();
    assert_eq!(page["total"], AGENTS);
    let names: Vec<&str> = (page["agents"].as_array().unwrap().iter())
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = states.keys().skip(7).take(7).map(String::as_str).collect();
    assert_eq!(names, expected);
    // the second instance stops: the first names it rather than show half the floor
    procs[1].terminate(Duration::from_secs(30));
    let (status, body) = http_get(addrs[0], "/api/v1/agents");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&format!("http://{}", addrs[1])), "{body}");
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A peer behind TLS and basic auth: asked over HTTPS with the configured CA and credentials,
/// its waiting contact is in the asking instance's view; with a wrong password, a 503 names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_behind_tls_and_basic_auth_is_asked_with_the_configured_ca_and_credentials() {
    use callpulse::config::Config;
    use rdkafka::mocking::MockCluster;
    use std::sync::Arc;

    let d = crate::tls::dir("live-peer-tls");
    let (ca, cert, key) = crate::tls::certificates(&d);
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = d.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  wall: '{hash}'\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("floor-a", 1, 1).unwrap();
    cluster.create_topic("floor-b", 1, 1).unwrap();
    let service = |topic: &str, http: &str| {
        let mut c = Config::parse(&format!("[queues.sales]\n[http]\n{http}")).unwrap();
        c.kafka.brokers = cluster.bootstrap_servers();
        c.kafka.topics = vec![topic.into()];
        c.kafka.group_id = format!("it-peer-{topic}");
        Arc::new(c)
    };
    let mut protected = (*service("floor-a", "")).clone();
    protected.http.web_config_file = Some(web);
    let a = crate::kafka::start(Arc::new(protected)).await;
    let now = wall_now();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let offered = format!(
        r#"{{"type":"contact.offered","ts":{},"contact_id":"behind-tls","queue":"sales"}}"#,
        now - 60_000
    );
    producer
        .send(BaseRecord::to("floor-a").key("k").payload(&offered))
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
    let password = d.join("peer-password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let wrong = d.join("wrong-password");
    std::fs::write(&wrong, "guess\n").unwrap();
    let peer = format!("https://localhost:{}", a.addr.port());
    let asking = |file: &std::path::Path| {
        format!(
            "peers = [\"{peer}\"]\npeer_ca_file = \"{}\"\npeer_username = \"wall\"\npeer_password_file = \"{}\"\n",
            ca.display(),
            file.display()
        )
    };
    let b = crate::kafka::start(service("floor-b", &asking(&password))).await;
    let c = crate::kafka::start(service("floor-b", &asking(&wrong))).await;
    let (b_addr, c_addr) = (b.addr, c.addr);
    let (seen, refused) = tokio::task::spawn_blocking(move || {
        let seen = eventually(Duration::from_secs(60), || {
            let page = json(b_addr, "/api/v1/waiting")?;
            let ids: Vec<String> = (page["waiting"].as_array().into_iter().flatten())
                .filter_map(|w| w["contact_id"].as_str().map(String::from))
                .collect();
            (ids == ["behind-tls"])
                .then_some(page)
                .ok_or_else(|| format!("waiting: {ids:?}"))
        });
        (seen, http_get(c_addr, "/api/v1/waiting"))
    })
    .await
    .unwrap();
    assert!(
        seen["partitions"]
            .as_array()
            .unwrap()
            .contains(&"floor-a/0".into()),
        "{seen}"
    );
    assert_eq!(refused.0, 503, "{}", refused.1);
    assert!(refused.1.contains(&peer), "{}", refused.1);
    for s in [a, b, c] {
        s.stop().await;
    }
    let _ = std::fs::remove_dir_all(&d);
}
