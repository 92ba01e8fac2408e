//! Protected endpoints: a web configuration file in the exporter-toolkit format turns on TLS
//! and basic auth; a real Prometheus scrapes over TLS with the right password, and is refused
//! with a wrong one or none; plain HTTP gets nothing; what callpulse cannot honour is refused
//! by name instead of ignored.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpulse::config::Config;
use callpulse::service::web::{Web, WebError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rdkafka::mocking::MockCluster;

use crate::kafka::{http_get, start, TOPIC};
use crate::support::{free_port, Proc};

pub(crate) fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A CA, and a certificate it signed for localhost / 127.0.0.1: (ca.pem, cert.pem, key.pem).
pub(crate) fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "callpulse test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn web_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("web.yml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn what_callpulse_cannot_honour_in_a_web_config_is_refused_by_name() {
    let d = dir("web-refused");
    let (_, cert, key) = certificates(&d);
    let tls = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        cert.display(),
        key.display()
    );
    assert!(Web::load(&web_config(&d, &tls)).is_ok_and(|w| w.tls.is_some()));
    for (extra, named) in [
        (
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "cipher_suites",
        ),
        ("  min_version: TLS10\n", "TLS versions"),
        (
            "  client_auth_type: RequireAnyClientCert\n",
            "client_auth_type",
        ),
    ] {
        let err = Web::load(&web_config(&d, &format!("{tls}{extra}"))).err();
        assert!(
            matches!(&err, Some(WebError::Unsupported(what)) if what.contains(named)),
            "{extra}: {err:?}"
        );
    }
    let err = Web::load(&web_config(&d, "http_server_config:\n  http2: false\n")).err();
    assert!(
        matches!(err, Some(WebError::Unsupported("http_server_config"))),
        "{err:?}"
    );
    let err = Web::load(&web_config(&d, "basic_auth_users:\n  prom: plaintext\n")).err();
    assert!(matches!(err, Some(WebError::NotBcrypt(u)) if u == "prom"));
    let err = Web::load(&web_config(&d, "tls_server_confg: {}\n")).err();
    assert!(
        matches!(err, Some(WebError::Yaml { .. })),
        "a misspelt key: {err:?}"
    );
}

#[test]
fn auth_that_cannot_work_or_costs_too_much_is_refused_at_start() {
    let d = dir("web-auth-refused");
    let users = |hash: &str| format!("basic_auth_users:\n  prom: '{hash}'\n");
    // a real hash of cost 4 is taken; malformed ones and costs outside 4..=14 are not
    let good = bcrypt::hash("s3cret", 4).unwrap();
    assert!(Web::load(&web_config(&d, &users(&good))).is_ok_and(|w| w.auth.is_some()));
    for malformed in [
        "$2y$10$short",
        "$2b$xx$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi",
    ] {
        let err = Web::load(&web_config(&d, &users(malformed))).err();
        assert!(
            matches!(err, Some(WebError::NotBcrypt(_))),
            "{malformed}: {err:?}"
        );
    }
    for cost in [3, 15, 31, 99] {
        let hash = format!("$2y${cost:02}$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi");
        let err = Web::load(&web_config(&d, &users(&hash))).err();
        assert!(
            matches!(&err, Some(WebError::Cost { cost: c, .. }) if *c == cost)
                || matches!(&err, Some(WebError::NotBcrypt(_))),
            "cost {cost}: {err:?}"
        );
    }
    // an empty section would serve plain HTTP without auth: refused
    for (text, key) in [
        ("tls_server_config:\n", "tls_server_config"),
        ("basic_auth_users:\n", "basic_auth_users"),
        ("basic_auth_users: {}\n", "basic_auth_users"),
    ] {
        let err = Web::load(&web_config(&d, text)).err();
        assert!(
            matches!(err, Some(WebError::Empty(k)) if k == key),
            "{text}: {err:?}"
        );
    }
}

/// A raw request with an `Authorization` header; the status.
fn status_with(addr: std::net::SocketAddr, authorization: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_takes_the_scheme_in_any_case_and_checks_one_hash_at_a_time() {
    use base64::Engine as _;
    let d = dir("web-auth-case");
    let hash = bcrypt::hash("s3cret", 10).unwrap();
    let web = web_config(&d, &format!("basic_auth_users:\n  prom: '{hash}'\n"));
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let mut c = Config::parse("").unwrap();
    c.kafka.brokers = cluster.bootstrap_servers();
    c.kafka.topics = vec![TOPIC.into()];
    c.kafka.group_id = "it-auth-case".into();
    c.http.web_config_file = Some(web);
    let service = start(Arc::new(c)).await;
    let addr = service.addr;
    let right = base64::engine::general_purpose::STANDARD.encode("prom:s3cret");
    let wrong = base64::engine::general_purpose::STANDARD.encode("prom:guess");
    let statuses = tokio::task::spawn_blocking(move || {
        let cases = [
            status_with(addr, &format!("Basic {right}")),
            status_with(addr, &format!("basic {right}")),
            status_with(addr, &format!("BASIC {right}")),
            status_with(addr, &format!("Bearer {right}")),
        ];
        // 40 clients with a wrong password at once: one hash at a time, each wrong header
        // checked once; every client refused (401) or told the checks are busy (503)
        let wrong_clients: Vec<_> = (0..40)
            .map(|i| {
                let header = format!("Basic {}", if i % 2 == 0 { &wrong } else { &right });
                std::thread::spawn(move || status_with(addr, &header))
            })
            .collect();
        let answers: Vec<u16> = wrong_clients
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        (cases, answers)
    })
    .await
    .unwrap();
    assert_eq!(statuses.0, [200, 200, 200, 401]);
    for (i, s) in statuses.1.iter().enumerate() {
        let expected: &[u16] = if i % 2 == 0 { &[401, 503] } else { &[200] };
        assert!(expected.contains(s), "client {i}: {s}");
    }
    let text = tokio::task::spawn_blocking(move || {
        let auth = format!("Basic {right_}", right_ = base64::engine::general_purpose::STANDARD.encode("prom:s3cret"));
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n").unwrap();
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        raw
    })
    .await
    .unwrap();
    let verified = crate::support::sample(&text, "callpulse_http_auth_total{outcome=\"verified\"}");
    // the right header is hashed once, then remembered; the wrong one at most once more
    // than the check that refused it first
    assert_eq!(verified, Some(1.0), "{text}");
    let refused = crate::support::sample(&text, "callpulse_http_auth_total{outcome=\"refused\"}")
        .unwrap_or(0.0);
    assert!(refused >= 1.0);
    service.stop().await;
}

/// The value of `query` per `job` label, from Prometheus' HTTP API.
fn query(prometheus: u16, query: &str) -> Vec<(String, f64)> {
    let addr = format!("127.0.0.1:{prometheus}").parse().unwrap();
    if std::net::TcpStream::connect(addr).is_err() {
        return Vec::new(); // not listening yet
    }
    let path = format!(
        "/api/v1/query?query={}",
        query
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace('=', "%3D")
    );
    let (status, body) = http_get(addr, &path);
    if status != 200 {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|s| {
                    let job = s["metric"]["job"].as_str()?.to_string();
                    let value = s["value"][1].as_str()?.parse().ok()?;
                    Some((job, value))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Prometheus (scripts/test installs Debian's prometheus)"]
async fn prometheus_scrapes_over_tls_with_basic_auth_and_a_wrong_password_is_refused() {
    let d = dir("web-prometheus");
    let (ca, cert, key) = certificates(&d);
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = web_config(
        &d,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  min_version: TLS12\nbasic_auth_users:\n  prom: '{hash}'\n",
            cert.display(),
            key.display()
        ),
    );
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 1, 1).unwrap();
    let mut config = Config::default();
    config.kafka.brokers = cluster.bootstrap_servers();
    config.kafka.topics = vec![TOPIC.into()];
    config.kafka.checkpoint_topic = String::new();
    config.http.web_config_file = Some(web);
    let running = start(Arc::new(config)).await;
    let target = running.addr;

    // plain HTTP gets no page: the TLS server answers a plaintext request with no HTTP at all
    let plain = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(target).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).to_string()
    })
    .await
    .unwrap();
    assert!(
        !plain.contains("callpulse_up"),
        "served over plain HTTP: {plain}"
    );
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");

    let job = |name: &str, auth: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {}\n      server_name: localhost\n{auth}    static_configs:\n      - targets: ['{target}']\n",
            ca.display()
        )
    };
    let prom_config = d.join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}",
            job(
                "right",
                "    basic_auth:\n      username: prom\n      password: s3cret\n"
            ),
            job(
                "wrong",
                "    basic_auth:\n      username: prom\n      password: guess\n"
            ),
            job("none", ""),
        ),
    )
    .unwrap();
    let port = free_port();
    let prometheus = Proc(
        Command::new("prometheus")
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!("--storage.tsdb.path={}", d.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus)"),
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let ups = loop {
        let ups = tokio::task::spawn_blocking(move || query(port, "up"))
            .await
            .unwrap();
        if ups.len() == 3 {
            break ups;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped all three jobs: {ups:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let up = |job: &str| ups.iter().find(|(j, _)| j == job).map(|(_, v)| *v);
    assert_eq!(up("right"), Some(1.0), "{ups:?}");
    assert_eq!(up("wrong"), Some(0.0), "{ups:?}");
    assert_eq!(up("none"), Some(0.0), "{ups:?}");
    // the right job brought callpulse's own series through
    let served = tokio::task::spawn_blocking(move || query(port, "callpulse_up"))
        .await
        .unwrap();
    assert_eq!(served, vec![("right".to_string(), 1.0)]);
    drop(prometheus);
    running.stop().await;
}
