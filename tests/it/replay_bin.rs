//! The real `callpulse` binary on fixture files.

use std::process::Command;

use crate::support::{sample, succeed};

fn callpulse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callpulse"))
}

#[test]
fn replay_prints_the_exposition_and_reports_rejects_on_stderr() {
    let out = succeed(callpulse().args([
        "replay",
        "--config",
        "tests/fixtures/replay.toml",
        "tests/fixtures/replay.jsonl",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    // 4 offered in sales, 1 in care; c2 abandoned after 40 s, c3 short-abandoned, c4 still waiting
    let s = |series: &str| {
        sample(&text, series).unwrap_or_else(|| panic!("no sample {series}\n{text}"))
    };
    assert_eq!(
        s("callcenter_contacts_offered{queue=\"sales\",window=\"15m\"}"),
        4.0
    );
    assert_eq!(
        s("callcenter_contacts_answered{queue=\"sales\",window=\"15m\"}"),
        1.0
    );
    assert_eq!(
        s("callcenter_contacts_abandoned{queue=\"sales\",window=\"15m\"}"),
        1.0
    );
    assert_eq!(
        s("callcenter_contacts_abandoned_short{queue=\"sales\",window=\"15m\"}"),
        1.0
    );
    // SL: c1 answered in 10 s (within 30 s), c2 abandoned at 40 s (missed), c4 waiting since 10:05 -> missed at 10:05:30
    assert_eq!(
        s("callcenter_sl_offered{queue=\"sales\",window=\"15m\"}"),
        3.0
    );
    assert!(
        (s("callcenter_service_level_ratio{queue=\"sales\",window=\"15m\"}") - 1.0 / 3.0).abs()
            < 1e-9
    );
    assert_eq!(
        s("callcenter_asa_seconds{queue=\"sales\",window=\"15m\"}"),
        10.0
    );
    // handle = 100 s talk + 20 s hold + 30 s wrap-up
    assert_eq!(
        s("callcenter_aht_seconds{queue=\"sales\",window=\"15m\"}"),
        150.0
    );
    assert_eq!(
        s("callcenter_hold_seconds_sum{queue=\"sales\",window=\"15m\"}"),
        20.0
    );
    assert_eq!(s("callcenter_contacts_waiting{queue=\"sales\"}"), 1.0);
    // --at defaults to the latest event (10:06:00) rounded up to the next second
    assert_eq!(s("callcenter_oldest_wait_seconds{queue=\"sales\"}"), 61.0);
    assert_eq!(s("callcenter_agents{queue=\"sales\",state=\"busy\"}"), 1.0);
    assert_eq!(
        s("callcenter_csat_score{queue=\"sales\",window=\"15m\"}"),
        5.0
    );
    assert_eq!(s("callcenter_sl_threshold_seconds{queue=\"sales\"}"), 30.0);
    // min_volume 2 in the fixture config: SL 33 % < 80 % with 3 decisions is a breach
    assert_eq!(
        s("callcenter_breach{queue=\"sales\",kpi=\"service_level\",window=\"15m\"}"),
        1.0
    );
    assert_eq!(
        s("callcenter_breach{queue=\"care\",kpi=\"service_level\",window=\"15m\"}"),
        0.0
    );
    assert!(
        err.contains("rejected malformed_json") && err.contains("rejected unknown_type"),
        "{err}"
    );
    for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(text.contains(&format!("# HELP {name} ")), "HELP for {name}");
    }
}

#[test]
fn replay_at_an_earlier_instant_ignores_later_events() {
    let out = callpulse()
        .args([
            "replay",
            "--config",
            "tests/fixtures/replay.toml",
            "--at",
            "2026-11-23T10:00:30Z",
            "--format",
            "json",
            "tests/fixtures/replay.jsonl",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let w = &v["queues"]["sales"]["windows"]["5m"];
    assert_eq!(w["contacts_offered"], 2);
    assert_eq!(w["contacts_answered"], 1);
    assert_eq!(v["queues"]["sales"]["contacts_waiting"], 1);
    assert_eq!(v["queues"]["sales"]["oldest_wait_seconds"], 10.0);
}

#[test]
fn check_config_names_the_line_of_a_bad_key() {
    let dir = std::env::temp_dir().join(format!("callpulse-cc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[engine]\nwindows = [\"5m\"]\n\n[queues.sales]\nsl_threshold = \"thirty\"\n",
    )
    .unwrap();
    let out = callpulse().arg("check-config").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 5") && err.contains("thirty"), "{err}");
    succeed(callpulse().args(["check-config", "config/callpulse.toml"]));
}

#[test]
fn shipped_rules_file_equals_the_generated_rules() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = succeed(
        Command::new(env!("CARGO_BIN_EXE_callpulse"))
            .args(["rules", "--config"])
            .arg(format!("{root}/config/callpulse.toml")),
    );
    let shipped = std::fs::read_to_string(format!("{root}/deploy/prometheus/callpulse-rules.yml"))
        .expect("deploy/prometheus/callpulse-rules.yml");
    assert!(
        String::from_utf8_lossy(&out.stdout) == shipped,
        "deploy/prometheus/callpulse-rules.yml is stale: regenerate it with \
         `callpulse rules --config config/callpulse.toml > deploy/prometheus/callpulse-rules.yml`"
    );
}

#[test]
fn convert_prints_the_valid_events_and_counts_rejects() {
    let out = succeed(callpulse().args([
        "convert",
        "--input",
        "callpulse",
        "tests/fixtures/replay.jsonl",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    let fixture = std::fs::read_to_string("tests/fixtures/replay.jsonl").unwrap();
    let valid: Vec<&str> = fixture
        .lines()
        .filter(|l| {
            let limits = callpulse::event::Limits::default();
            callpulse::input::callpulse::decode(l.as_bytes(), &limits).is_ok()
        })
        .collect();
    assert!(!valid.is_empty() && valid.len() < fixture.lines().count());
    assert_eq!(text.lines().collect::<Vec<_>>(), valid);
    assert!(err.contains("convert: rejected"), "{err}");
    // piped back into replay, the converted events give the same KPIs as the original
    let converted =
        std::env::temp_dir().join(format!("callpulse-convert-{}.jsonl", std::process::id()));
    std::fs::write(&converted, &text).unwrap();
    let at = [
        "--at",
        "2026-11-23T10:30:00Z",
        "--config",
        "tests/fixtures/replay.toml",
    ];
    let a = succeed(
        callpulse()
            .arg("replay")
            .args(at)
            .arg("tests/fixtures/replay.jsonl"),
    );
    let b = succeed(
        callpulse()
            .arg("replay")
            .args(at)
            .arg("--input")
            .arg("callpulse")
            .arg(&converted),
    );
    let _ = std::fs::remove_file(&converted);
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
}

#[test]
fn replay_input_asterisk_equals_the_same_calls_in_events_json_in_both_spellings() {
    let fixtures = "tests/fixtures/asterisk";
    let at = ["--at", "2026-11-23T10:10:00Z"];
    let replay = |args: &[&str]| {
        let out = succeed(callpulse().arg("replay").args(at).args(args));
        String::from_utf8(out.stdout).unwrap()
    };
    let by_hand = replay(&[&format!("{fixtures}/calls.events.jsonl")]);
    let file = replay(&["--input", "asterisk", &format!("{fixtures}/calls.log")]);
    let rows = replay(&[
        "--input",
        "asterisk",
        "--timezone",
        "Europe/Berlin",
        &format!("{fixtures}/calls.realtime.jsonl"),
    ]);
    assert!(
        by_hand.contains("callcenter_contacts_offered{queue=\"sales\""),
        "{by_hand}"
    );
    assert_eq!(file, by_hand, "queue_log file lines");
    assert_eq!(rows, by_hand, "realtime rows");
    // convert prints the mapped events; replayed, they give the same numbers
    let out = succeed(callpulse().args([
        "convert",
        "--input",
        "asterisk",
        &format!("{fixtures}/calls.log"),
    ]));
    let converted =
        std::env::temp_dir().join(format!("callpulse-ast-{}.jsonl", std::process::id()));
    std::fs::write(&converted, &out.stdout).unwrap();
    let again = replay(&[converted.to_str().unwrap()]);
    let _ = std::fs::remove_file(&converted);
    assert_eq!(again, by_hand, "convert | replay");
}

#[test]
fn replay_input_connect_equals_the_same_calls_in_events_json() {
    let fixtures = "tests/fixtures/connect";
    let dir = std::env::temp_dir().join(format!("callpulse-cx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // contact records come when a contact is over: the lateness must cover the longest contact
    let config = dir.join("late.toml");
    std::fs::write(&config, "[engine]\nallowed_lateness = \"15m\"\n").unwrap();
    let records = dir.join("records.jsonl");
    let mut text = String::new();
    for name in ["agent-events.jsonl", "contact-records.jsonl"] {
        text += &std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap();
    }
    std::fs::write(&records, text).unwrap();
    let replay = |args: &[&str]| {
        let out = succeed(
            callpulse()
                .arg("replay")
                .args(["--at", "2026-11-23T10:15:00Z", "--config"])
                .arg(&config)
                .args(args),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let by_hand = replay(&[&format!("{fixtures}/calls.events.jsonl")]);
    let named = [
        "--input",
        "connect",
        "--queue-name",
        "5e2c8f6a-0d1b-4c3a-9e8f-00000000a001=sales",
        "--queue-name",
        "5e2c8f6a-0d1b-4c3a-9e8f-00000000a002=support",
    ];
    let mapped = replay(&[&named[..], &[records.to_str().unwrap()]].concat());
    // without a mapping the queues are called by the names the agent records give them
    let by_name = replay(&["--input", "connect", records.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        by_hand.contains("callcenter_contacts_offered{queue=\"sales\""),
        "{by_hand}"
    );
    assert_eq!(mapped, by_hand);
    assert_eq!(
        by_name
            .replace("queue=\"Sales\"", "queue=\"sales\"")
            .replace("queue=\"Support\"", "queue=\"support\""),
        by_hand,
        "{by_name}"
    );
}

/// Customer ids are personal data: `replay`'s metrics, JSON and logs (at trace level), with
/// accepted and rejected events that carry them, never show one.
#[test]
fn customer_ids_never_leave_the_engine_in_output_or_logs() {
    let ids = ["+15550123456", "crm-ann-007"];
    let lines = [
        format!(
            r#"{{"type":"contact.offered","ts":"2026-11-23T10:00:00Z","contact_id":"a","queue":"sales","customer":"{}"}}"#,
            ids[0]
        ),
        r#"{"type":"contact.abandoned","ts":"2026-11-23T10:00:30Z","contact_id":"a"}"#.into(),
        format!(
            r#"{{"type":"contact.offered","ts":"2026-11-23T10:01:00Z","contact_id":"b","queue":"sales","customer":"{}"}}"#,
            ids[1]
        ),
        // rejected: a bad timestamp, and a customer that is not a string
        format!(
            r#"{{"type":"contact.offered","ts":"soon","contact_id":"c","queue":"sales","customer":"{}"}}"#,
            ids[0]
        ),
        format!(
            r#"{{"type":"contact.offered","ts":"2026-11-23T10:02:00Z","contact_id":"d","queue":"sales","customer":["{}"]}}"#,
            ids[1]
        ),
    ];
    let file = std::env::temp_dir().join(format!("callpulse-pii-{}.jsonl", std::process::id()));
    std::fs::write(&file, lines.join("\n")).unwrap();
    for format in ["prometheus", "json"] {
        let out = callpulse()
            .env("RUST_LOG", "trace")
            .args(["replay", "--format", format])
            .arg(&file)
            .output()
            .expect("callpulse replay");
        assert!(out.status.success());
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains("callcenter_contacts_identified") || all.contains("contacts_identified")
        );
        for id in ids {
            assert!(!all.contains(id), "{format}: {id} in the output:\n{all}");
        }
    }
    let _ = std::fs::remove_file(&file);
}

/// A running service never logs a customer id: `callpulse demo` (the simulator's callers carry
/// phone numbers `+1555…` and CRM ids `crm-…`) with trace logging, through a backfill and live
/// traffic. (Its exports are checked by the test above on the same engine.)
#[test]
fn a_running_service_logs_no_customer_id() {
    use std::io::Read;
    let mut child = callpulse()
        .env("RUST_LOG", "trace")
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--backfill",
            "20m",
            "--seed",
            "4",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("callpulse demo");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    // the address is in the log; give the demo time to backfill and serve
    std::thread::sleep(std::time::Duration::from_secs(12));
    let _ = child.kill();
    let _ = child.wait();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.join().unwrap()),
        String::from_utf8_lossy(&err.join().unwrap())
    );
    assert!(logs.contains("serving http://"), "{logs}");
    assert!(logs.len() > 1_000, "trace logging wrote little: {logs}");
    for pattern in ["+1555", "crm-"] {
        assert!(!logs.contains(pattern), "{pattern} in the service's logs");
    }
}

#[test]
fn replay_and_convert_input_freeswitch_and_taskrouter_equal_the_same_calls_in_events_json() {
    let dir = std::env::temp_dir().join(format!("callpulse-fstr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // the FreeSWITCH fixture's agent 1001 has a wrap-up-time of 30 s: a platform setting the
    // config file's input of that format gives replay and convert
    let config = dir.join("platforms.toml");
    std::fs::write(
        &config,
        "[engine]\nallowed_lateness = \"10m\"\n\n[[kafka.inputs]]\ntopic = \"fs1\"\n\
         format = \"freeswitch\"\n[kafka.inputs.agent_wrapup_seconds]\n\
         \"1001@cc.example.com\" = 30\n\n[[kafka.inputs]]\ntopic = \"tr\"\nformat = \"taskrouter\"\n",
    )
    .unwrap();
    let late = dir.join("late.toml");
    std::fs::write(&late, "[engine]\nallowed_lateness = \"10m\"\n").unwrap();
    let replay = |config: &std::path::Path, args: &[&str]| {
        let out = succeed(
            callpulse()
                .arg("replay")
                .args(["--at", "2026-11-23T10:10:00Z", "--config"])
                .arg(config)
                .args(args),
        );
        // the KPIs (a platform's duplicate delivery shows in callpulse_* only)
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("callcenter_"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    for (format, fixtures, records, by_hand) in [
        (
            "freeswitch",
            "tests/fixtures/freeswitch",
            "calls.jsonl",
            "calls.events.jsonl",
        ),
        (
            "taskrouter",
            "tests/fixtures/taskrouter",
            "events.jsonl",
            "events.events.jsonl",
        ),
    ] {
        let records = format!("{fixtures}/{records}");
        let by_hand = replay(&config, &[&format!("{fixtures}/{by_hand}")]);
        assert!(
            by_hand.contains("callcenter_contacts_answered{queue="),
            "{by_hand}"
        );
        let mapped = replay(&config, &["--input", format, &records]);
        assert_eq!(mapped, by_hand, "replay --input {format}");
        let out = succeed(
            callpulse()
                .args(["convert", "--config"])
                .arg(&config)
                .args(["--input", format, &records]),
        );
        let converted = dir.join(format!("{format}.jsonl"));
        std::fs::write(&converted, &out.stdout).unwrap();
        let again = replay(&config, &[converted.to_str().unwrap()]);
        assert_eq!(again, by_hand, "convert --input {format} | replay");
    }
    // the flag gives the wrap-up time as well; without it the calls end without wrap-up
    let fs = "tests/fixtures/freeswitch";
    let by_hand = replay(&late, &[&format!("{fs}/calls.events.jsonl")]);
    let flag = [
        "--input",
        "freeswitch",
        "--agent-wrapup",
        "1001@cc.example.com=30",
    ];
    let records = format!("{fs}/calls.jsonl");
    assert_eq!(replay(&late, &[&flag[..], &[&records]].concat()), by_hand);
    assert_ne!(replay(&late, &["--input", "freeswitch", &records]), by_hand);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_platform_deploy_configs_pass_check_config_and_convert_takes_their_settings() {
    for file in [
        "deploy/freeswitch/callpulse.toml",
        "deploy/taskrouter/callpulse.toml",
    ] {
        succeed(callpulse().args(["check-config", file]));
    }
    // the example's activities: "Lunch" is not ready with its name as reason (as by default),
    // "Callback Duty" available (by default it would be not ready)
    let update = |sid: u32, s: u32, activity: &str| {
        format!(
            "{{\"EventType\":\"worker.activity.update\",\"Sid\":\"EV{sid:032x}\",\
             \"TimestampMs\":\"{}\",\"WorkerName\":\"worker-a\",\"WorkerActivityName\":\"{activity}\"}}\n",
            1_795_428_000_000_u64 + u64::from(s) * 1000
        )
    };
    let file =
        std::env::temp_dir().join(format!("callpulse-trdeploy-{}.jsonl", std::process::id()));
    std::fs::write(&file, update(1, 0, "Callback Duty")).unwrap();
    let convert = |config: Option<&str>| {
        let mut c = callpulse();
        c.arg("convert");
        if let Some(config) = config {
            c.args(["--config", config]);
        }
        let out = succeed(c.args(["--input", "taskrouter"]).arg(&file));
        String::from_utf8(out.stdout).unwrap()
    };
    let configured = convert(Some("deploy/taskrouter/callpulse.toml"));
    let by_default = convert(None);
    let _ = std::fs::remove_file(&file);
    assert!(
        configured.contains("\"state\":\"available\""),
        "{configured}"
    );
    // the example's agent queues go out with the worker's first state
    assert!(configured.contains("\"Support\""), "{configured}");
    assert!(
        by_default.contains("\"state\":\"not_ready\""),
        "{by_default}"
    );
}
