//! End to end against a real Kafka-protocol broker process (`tansu`): the real `callpulse
//! simulate` and `callpulse run` binaries, their HTTP endpoints, graceful stop, kill -9 and
//! restart. Needs `CALLPULSE_TANSU` (the broker binary); `scripts/test` builds it once into a
//! cache and runs these with `--include-ignored`.

use std::net::SocketAddr;
use std::time::Duration;

use callpulse::clock::wall_now;
use callpulse::time::format_rfc3339;

use crate::kafka::http_get;
use crate::support::{
    callpulse, free_port, moves_with_now, sample, start_run, start_tansu, succeed, wait_until,
};

/// The 1h-window lines: all traffic ended a minute ago and began 31 minutes ago.
fn hour_window(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| {
            l.starts_with("callcenter_") && l.contains("window=\"1h\"") && !moves_with_now(l)
        })
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn wait_for_all(http: SocketAddr, n: f64) -> String {
    let mut text = String::new();
    wait_until(
        "every event applied and /readyz",
        Duration::from_secs(120),
        || {
            text = http_get(http, "/metrics").1;
            sample(&text, "callpulse_events_accepted_total") == Some(n)
                && http_get(http, "/readyz").0 == 200
        },
    );
    std::thread::sleep(callpulse::service::PUBLISH_EVERY * 3);
    http_get(http, "/metrics").1
}

#[test]
#[ignore = "needs a tansu broker process: run by scripts/test with CALLPULSE_TANSU set"]
fn e2e_tansu_run_simulate_stop_kill_restart() {
    let (_broker, brokers) = start_tansu();
    callpulse::tools::bench::create_topic(&brokers, "callcenter.events", 3).expect("create topic");
    let dir = std::env::temp_dir().join(format!("callpulse-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let now = wall_now() / 1000 * 1000;
    let (start, until) = (
        format_rfc3339(now - 31 * 60_000),
        format_rfc3339(now - 60_000),
    );
    let sim_args = [
        "--start", &start, "--until", &until, "--seed", "7", "--queues", "4", "--rate", "1",
        "--flat",
    ];

    // the same simulated half hour to Kafka and to a file
    succeed(
        callpulse()
            .args([
                "simulate",
                "--brokers",
                &brokers,
                "--topic",
                "callcenter.events",
                "--speed",
                "0",
            ])
            .args(sim_args),
    );
    let file = dir.join("events.jsonl");
    let written = callpulse()
        .args(["simulate", "--out"])
        .arg(&file)
        .args(sim_args)
        .output()
        .unwrap();
    assert!(written.status.success());
    let n = std::fs::read_to_string(&file).unwrap().lines().count();
    assert!(n > 1000, "{n} events");

    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("callpulse.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"callcenter.events\"]\ngroup_id = \"e2e\"\n[http]\nlisten = \"{http}\"\n[queues.sales]\nwrapup = true\n[export]\nprofile = \"full\"\n"
        ),
    )
    .unwrap();

    // 1. the live service equals replay of the same events
    let run = start_run(&config, http, &dir.join("run1.log"));
    let live = wait_for_all(http, n as f64);
    let replayed = callpulse()
        .args(["replay", "--config"])
        .arg(&config)
        .args(["--at", &format_rfc3339(wall_now())])
        .arg(&file)
        .output()
        .unwrap();
    assert!(replayed.status.success());
    let expected = String::from_utf8(replayed.stdout).unwrap();
    assert!(hour_window(&live).len() > 100);
    assert_eq!(
        hour_window(&live),
        hour_window(&expected),
        "run over tansu == replay of the same events"
    );
    assert!(live.contains("# TYPE callpulse_consumer_lag_messages gauge"));
    let page = http_get(http, "/").1;
    assert!(
        page.contains("<html") || page.contains("<!doctype") || page.contains("<!DOCTYPE"),
        "wallboard page at /"
    );

    // 2. SIGTERM: finish, commit, leave the group, exit 0
    let mut run = run;
    let status = run.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM");
    let log = std::fs::read_to_string(dir.join("run1.log")).unwrap();
    assert!(log.contains("offsets committed"), "{log}");

    // 3. restart, then kill -9 mid-flight, restart again: the same numbers every time
    let second = start_run(&config, http, &dir.join("run2.log"));
    let again = wait_for_all(http, n as f64);
    assert_eq!(
        hour_window(&again),
        hour_window(&live),
        "after a graceful restart"
    );
    drop(second); // SIGKILL
    let _third = start_run(&config, http, &dir.join("run3.log"));
    let after_kill = wait_for_all(http, n as f64);
    assert_eq!(
        hour_window(&after_kill),
        hour_window(&live),
        "after kill -9"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An Asterisk queue_log topic on a real broker through `callpulse run` equals
/// `callpulse replay --input asterisk` of the same records.
#[test]
#[ignore = "needs a tansu broker process: run by scripts/test with CALLPULSE_TANSU set"]
fn e2e_tansu_asterisk_topic_equals_replay_input_asterisk() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let (_broker, brokers) = start_tansu();
    callpulse::tools::bench::create_topic(&brokers, "pbx1.queue_log", 1).expect("create topic");
    let dir = std::env::temp_dir().join(format!("callpulse-e2e-ast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let records = crate::support::queue_log_ending_ago(120);
    let file = dir.join("queue_log");
    std::fs::write(&file, records.join("\n") + "\n").unwrap();
    let producer: BaseProducer = callpulse::kafka::plain_config(&brokers).create().unwrap();
    for r in &records {
        producer
            .send(
                BaseRecord::<str, str>::to("pbx1.queue_log")
                    .key("pbx1")
                    .payload(r),
            )
            .map_err(|(e, _)| e)
            .unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("callpulse.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = []\ngroup_id = \"e2e-ast\"\n[[kafka.inputs]]\ntopic = \"pbx1.queue_log\"\nformat = \"asterisk\"\n[http]\nlisten = \"{http}\"\n[export]\nprofile = \"full\"\n"
        ),
    )
    .unwrap();
    let _run = start_run(&config, http, &dir.join("run.log"));
    let mut text = String::new();
    wait_until(
        "every record read and /readyz",
        Duration::from_secs(120),
        || {
            text = http_get(http, "/metrics").1;
            crate::support::input_records(&text) >= records.len() as f64
                && http_get(http, "/readyz").0 == 200
        },
    );
    // idle: what the reorder allowance held back (59 s under the default lateness; the
    // records ended 2 minutes ago) is flushed and published
    std::thread::sleep(callpulse::service::PUBLISH_EVERY * 6);
    let live = http_get(http, "/metrics").1;
    let replayed = succeed(
        callpulse()
            .args(["replay", "--input", "asterisk", "--config"])
            .arg(&config)
            .args(["--at", &format_rfc3339(wall_now())])
            .arg(&file),
    );
    let expected = String::from_utf8(replayed.stdout).unwrap();
    assert!(hour_window(&live).len() > 50, "{live}");
    assert_eq!(hour_window(&live), hour_window(&expected));
    let _ = std::fs::remove_dir_all(&dir);
}
