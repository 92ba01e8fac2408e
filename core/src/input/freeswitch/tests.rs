//! Unit tests of the `freeswitch` adapter: each action's events, the agent memory (status,
//! `Idle`, silent wrap-up), malformed events, and the checkpoint of its memory.

use serde_json::{json, Value};

use super::*;
use crate::input::callpulse::decode;

const T_US: i64 = 1_795_428_000_000_000; // 2026-11-23T10:00:00Z in µs
const T: Millis = 1_795_428_000_000;

/// An event of `action` at `T + ms`, with the extra headers.
fn event(seq: u32, ms: i64, action: &str, extra: Value) -> String {
    let mut e = json!({
        "Event-Name": "CUSTOM",
        "Event-Subclass": "callcenter::info",
        "Core-UUID": "core-1",
        "Event-Sequence": seq.to_string(),
        "Event-Date-Timestamp": (T_US + ms * 1000 + 7).to_string(),
        "CC-Action": action,
        "variable_sip_user_agent": "ExamplePhone/5.0",
    });
    if let (Some(e), Value::Object(extra)) = (e.as_object_mut(), extra) {
        e.extend(extra);
    }
    e.to_string()
}

fn call(session: &str, queue: &str) -> Value {
    json!({"CC-Member-Session-UUID": session, "CC-Queue": queue, "CC-Member-CID-Number": "+15550100"})
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Some(o), Value::Object(extra)) = (v.as_object_mut(), extra) {
        o.extend(extra);
    }
    v
}

fn run_with(adapter: &mut Freeswitch, records: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for r in records {
        adapter
            .map(r.as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    adapter.flush(Millis::MAX, &mut out);
    out.iter()
        .map(|e| {
            decode(e.as_bytes(), &Limits::default()).unwrap_or_else(|r| panic!("{e}: {r}"));
            serde_json::from_str(e).unwrap_or_else(|_| panic!("{e}"))
        })
        .collect()
}

fn states(events: &[Value]) -> Vec<(i64, String, String)> {
    events
        .iter()
        .filter(|e| e["type"] == "agent.state")
        .map(|e| {
            (
                e["ts"].as_i64().unwrap_or_default() - T,
                e["state"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn cancel(seq: u32, ms: i64, session: &str, reason: &str, extra: Value) -> String {
    let fields = with(
        call(session, "q@d"),
        json!({"CC-Cause": "Cancel", "CC-Cancel-Reason": reason}),
    );
    event(seq, ms, "member-queue-end", with(fields, extra))
}

#[test]
fn each_cancel_reason_is_its_outcome_and_a_break_out_is_an_abandon_only_when_the_caller_is_gone() {
    let records = [
        cancel(1, 0, "a", "TIMEOUT", json!({})),
        cancel(2, 0, "b", "NO_AGENT_TIMEOUT", json!({})),
        cancel(3, 0, "c", "EXIT_WITH_KEY", json!({})),
        cancel(4, 0, "d", "BREAK_OUT", json!({"Answer-State": "hangup"})),
        cancel(
            5,
            0,
            "e",
            "BREAK_OUT",
            json!({"Hangup-Cause": "NORMAL_CLEARING"}),
        ),
        cancel(6, 0, "f", "BREAK_OUT", json!({"Answer-State": "answered"})),
        cancel(7, 0, "g", "NONE", json!({})),
    ];
    let events = run_with(
        &mut Freeswitch::new(FreeswitchSettings::default()),
        &records,
    );
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = [
        ("contact.overflowed", "timeout"),
        ("contact.overflowed", "no_agents"),
        ("contact.overflowed", "key"),
        ("contact.abandoned", ""),
        ("contact.abandoned", ""),
        ("contact.overflowed", "other"),
        ("contact.overflowed", "other"),
    ]
    .map(|(t, r)| (t.to_owned(), r.to_owned()));
    assert_eq!(got, want);
}

#[test]
fn a_configured_wrapup_ends_the_call_in_wrapup_and_returns_the_agent_after_its_seconds() {
    let settings = FreeswitchSettings {
        wrapup_seconds: 10,
        agent_wrapup_seconds: [("b@d".to_owned(), 0)].into(),
        ..FreeswitchSettings::default()
    };
    let agent = |a: &str| json!({"CC-Agent": a});
    let records = [
        event(1, 0, "member-queue-start", call("c1", "q@d")),
        event(
            2,
            1_000,
            "bridge-agent-start",
            with(call("c1", "q@d"), agent("a@d")),
        ),
        event(
            3,
            60_000,
            "member-queue-end",
            with(
                call("c1", "q@d"),
                json!({"CC-Cause": "Terminated", "CC-Agent": "a@d"}),
            ),
        ),
        event(4, 61_000, "member-queue-start", call("c2", "q@d")),
        event(
            5,
            62_000,
            "bridge-agent-start",
            with(call("c2", "q@d"), agent("b@d")),
        ),
        event(
            6,
            90_000,
            "member-queue-end",
            with(
                call("c2", "q@d"),
                json!({"CC-Cause": "Terminated", "CC-Agent": "b@d"}),
            ),
        ),
    ];
    let mut adapter = Freeswitch::new(settings);
    let mut out = Vec::new();
    for r in &records[..3] {
        adapter.map(r.as_bytes(), &mut out).expect("valid");
    }
    // the wrap-up end waits for its time
    assert!(!out.iter().any(|e| e.contains("contact.wrapup_ended")));
    adapter.flush(T + 70_000, &mut out);
    assert!(!out.iter().any(|e| e.contains("contact.wrapup_ended")));
    adapter.flush(T + 70_001, &mut out);
    assert!(out.iter().any(|e| e.contains("contact.wrapup_ended")));
    let mut adapter = Freeswitch::new(adapter.settings.clone());
    let events = run_with(&mut adapter, &records);
    let ends: Vec<(&str, bool)> = events
        .iter()
        .filter(|e| e["type"] == "contact.ended")
        .map(|e| (e["agent"].as_str().unwrap_or_default(), e["wrapup"] == true))
        .collect();
    assert_eq!(ends, [("a@d", true), ("b@d", false)]);
    let wrapup_end = events
        .iter()
        .find(|e| e["type"] == "contact.wrapup_ended")
        .expect("a wrap-up end");
    assert_eq!(wrapup_end["ts"], T + 70_000);
    assert_eq!(
        states(&events),
        [
            (1_000, "busy".into(), "".into()),
            (60_000, "wrapup".into(), "".into()),
            (62_000, "busy".into(), "".into()),
            (70_000, "available".into(), "".into()),
            (90_000, "available".into(), "".into()),
        ]
    );
}

#[test]
fn status_break_idle_and_waiting_move_the_agent() {
    let status = |seq, ms, s: &str| {
        event(
            seq,
            ms,
            "agent-status-change",
            json!({"CC-Agent": "a@d", "CC-Agent-Status": s}),
        )
    };
    let state = |seq, ms, s: &str| {
        event(
            seq,
            ms,
            "agent-state-change",
            json!({"CC-Agent": "a@d", "CC-Agent-State": s}),
        )
    };
    let records = [
        status(1, 0, "Available (On Demand)"),
        state(2, 1_000, "Receiving"),
        state(3, 2_000, "Idle"),
        state(4, 3_000, "Waiting"),
        status(5, 4_000, "On Break"),
        state(6, 4_500, "Reserved"),
        status(7, 5_000, "Logged Out"),
    ];
    let events = run_with(
        &mut Freeswitch::new(FreeswitchSettings::default()),
        &records,
    );
    assert_eq!(
        states(&events),
        [
            (0, "available".into(), "".into()),
            (2_000, "not_ready".into(), "Idle".into()),
            (3_000, "available".into(), "".into()),
            (4_000, "not_ready".into(), "On Break".into()),
            (5_000, "logged_out".into(), "".into()),
        ]
    );
}

#[test]
fn configured_agent_queues_go_out_with_the_first_state_and_are_not_learned_over() {
    let settings = FreeswitchSettings {
        agent_queues: [("a@d".to_owned(), vec!["x@d".to_owned(), "y@d".to_owned()])].into(),
        ..FreeswitchSettings::default()
    };
    let records = [
        event(
            1,
            0,
            "agent-status-change",
            json!({"CC-Agent": "a@d", "CC-Agent-Status": "Available"}),
        ),
        event(
            2,
            1_000,
            "bridge-agent-start",
            with(call("c1", "z@d"), json!({"CC-Agent": "a@d"})),
        ),
    ];
    let events = run_with(&mut Freeswitch::new(settings), &records);
    let queues: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "agent.state")
        .map(|e| &e["queues"])
        .collect();
    assert_eq!(queues, [&json!(["x@d", "y@d"]), &Value::Null]);
}

#[test]
fn malformed_and_foreign_events_are_rejected_or_counted_as_seen() {
    let mut adapter = Freeswitch::new(FreeswitchSettings::default());
    let mut out = Vec::new();
    let mut map = |r: &str| adapter.map(r.as_bytes(), &mut out);
    assert_eq!(map("{").unwrap_err().reason, RejectReason::MalformedJson);
    assert_eq!(map("{}").unwrap_err().reason, RejectReason::MissingField);
    assert_eq!(
        map(r#"{"Event-Name":"CUSTOM","CC-Action":5}"#)
            .unwrap_err()
            .reason,
        RejectReason::InvalidValue
    );
    let no_cause = event(1, 0, "member-queue-end", call("c", "q@d"));
    assert_eq!(
        map(&no_cause).unwrap_err().reason,
        RejectReason::MissingField
    );
    let odd_cause = event(
        2,
        0,
        "member-queue-end",
        with(call("c", "q@d"), json!({"CC-Cause": "Gone"})),
    );
    assert_eq!(
        map(&odd_cause).unwrap_err().reason,
        RejectReason::InvalidValue
    );
    let long = event(3, 0, "member-queue-start", call(&"c".repeat(129), "q@d"));
    assert_eq!(map(&long).unwrap_err().reason, RejectReason::InvalidValue);
    let bad_time = event(4, 0, "members-count", json!({})).replace("1795428000000007", "-5");
    assert_eq!(
        map(&bad_time).unwrap_err().reason,
        RejectReason::BadTimestamp
    );
    assert_eq!(map(r#"{"Event-Name":"CHANNEL_ANSWER"}"#), Ok("other_event"));
    assert_eq!(
        map(r#"{"Event-Name":"CUSTOM","Event-Subclass":"sofia::register"}"#),
        Ok("other_event")
    );
    assert_eq!(
        map(&event(5, 0, "agent-status-get", json!({}))),
        Ok("administrative")
    );
    assert_eq!(
        map(&event(6, 0, "queue-exploded", json!({}))),
        Ok("unknown_action")
    );
    assert_eq!(
        map(&event(7, 0, "bridge-agent-end", json!({}))),
        Ok("bridge_agent_end")
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_re_sent_event_keeps_its_ids() {
    let offer = event(9, 0, "member-queue-start", call("c", "q@d"));
    let mut adapter = Freeswitch::new(FreeswitchSettings::default());
    let twice = run_with(&mut adapter, &[offer.clone(), offer]);
    assert_eq!(twice.len(), 2);
    assert_eq!(twice[0], twice[1]);
    assert_eq!(twice[0]["id"], "fs-core-1-9-offered");
}

#[test]
fn the_memory_survives_a_checkpoint() {
    let settings = FreeswitchSettings {
        wrapup_seconds: 30,
        ..FreeswitchSettings::default()
    };
    let first = [
        event(1, 0, "member-queue-start", call("c1", "q@d")),
        event(
            2,
            1_000,
            "bridge-agent-start",
            with(call("c1", "q@d"), json!({"CC-Agent": "a@d"})),
        ),
        event(3, 9_000, "member-queue-start", call("c1", "r@d")),
    ];
    let rest = [event(
        4,
        10_000,
        "member-queue-end",
        with(
            call("c1", "q@d"),
            json!({"CC-Cause": "Terminated", "CC-Agent": "a@d"}),
        ),
    )];
    let mut straight = Freeswitch::new(settings.clone());
    let all: Vec<String> = first.iter().chain(&rest).cloned().collect();
    let expected = run_with(&mut straight, &all);

    let mut before = Freeswitch::new(settings.clone());
    let mut out = Vec::new();
    for r in &first {
        before.map(r.as_bytes(), &mut out).expect("valid");
    }
    let saved = before.save_state().expect("saved");
    let mut after = Freeswitch::new(settings);
    after.restore_state(&saved).expect("restored");
    let mut got: Vec<Value> = out
        .iter()
        .map(|e| serde_json::from_str(e).expect("JSON"))
        .collect();
    got.extend(run_with(&mut after, &rest));
    assert_eq!(got, expected);
    // the transfer (found from memory: the end names no current queue) and the wrap-up end
    assert!(got
        .iter()
        .any(|e| e["type"] == "contact.transferred" && e["to_queue"] == "r@d"));
    assert!(got.iter().any(|e| e["type"] == "contact.wrapup_ended"));
}

#[test]
fn a_late_status_record_takes_its_own_time_and_never_overwrites_a_newer_status() {
    let status = |seq, ms, s: &str| {
        event(
            seq,
            ms,
            "agent-status-change",
            json!({"CC-Agent": "a@d", "CC-Agent-Status": s}),
        )
    };
    let leg = call("s1", "q@d");
    // in time order: On Break at 1 s, Available at 5 s, a call from 8 s to 20 s. Delivered: the
    // Available first, the On Break after it.
    let records = [
        status(2, 5_000, "Available"),
        status(1, 1_000, "On Break"),
        event(3, 7_000, "member-queue-start", leg.clone()),
        event(
            4,
            8_000,
            "bridge-agent-start",
            with(leg.clone(), json!({"CC-Agent": "a@d"})),
        ),
        // late again, but the call came after it: which came first is not known, it says
        // nothing
        status(5, 3_000, "Logged Out"),
        event(
            6,
            20_000,
            "member-queue-end",
            with(leg, json!({"CC-Agent": "a@d", "CC-Cause": "Terminated"})),
        ),
        // newer than the newest status but older than the call's end, delivered after it: in
        // force after the call for sure
        status(7, 15_000, "On Break"),
    ];
    let events = run_with(
        &mut Freeswitch::new(FreeswitchSettings::default()),
        &records,
    );
    assert_eq!(
        states(&events),
        [
            (5_000, "available".into(), "".into()),
            (1_000, "not_ready".into(), "On Break".into()),
            (5_000, "available".into(), "".into()),
            (8_000, "busy".into(), "".into()),
            // back to the newer status, not to the late On Break
            (20_000, "available".into(), "".into()),
            (20_000, "not_ready".into(), "On Break".into()),
        ]
    );
    let ids: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "ids are unique");
}
