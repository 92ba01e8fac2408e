//! The platform writers on hand-made events, and on a simulated day through the input adapter
//! of the same format.

use std::collections::BTreeMap;

use super::*;
use crate::input::asterisk::{Asterisk, AsteriskSettings};
use crate::time::{HOUR, SECOND};
use crate::tools::sim::{SimConfig, Simulator};

/// 2026-11-23T10:00:00Z.
const T0: i64 = 1_795_428_000_000;

fn event(ts_ms: i64, json: serde_json::Value) -> SimEvent {
    SimEvent {
        key: json["queue"].as_str().unwrap_or("sales").to_string(),
        ts_ms,
        json: json.to_string(),
        wrapup_ms: None,
    }
}

fn write_all(events: &[SimEvent]) -> Vec<String> {
    let mut w = AsteriskWriter::new(PBX_KEY);
    let mut out = Vec::new();
    for e in events {
        w.write(e, &mut out);
    }
    w.flush(Millis::MAX, &mut out);
    assert!(out.iter().all(|r| r.key == PBX_KEY));
    assert!(out.windows(2).all(|p| p[0].ts_ms <= p[1].ts_ms));
    out.into_iter().map(|r| r.json).collect()
}

#[test]
fn formats_parse_by_name_and_say_which_input_reads_them() {
    for f in SimFormat::ALL {
        assert_eq!(f.as_str().parse::<SimFormat>(), Ok(f));
        assert_eq!(f.input().as_str(), f.as_str());
        assert_eq!(f.writer().is_none(), f == SimFormat::Callpulse);
    }
    assert_eq!(" Asterisk ".parse::<SimFormat>(), Ok(SimFormat::Asterisk));
    let err = "fax".parse::<SimFormat>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown format \"fax\" (expected callpulse, asterisk, connect, freeswitch, taskrouter)"
    );
}

#[test]
fn a_call_and_its_agent_become_queue_log_lines() {
    use serde_json::json;
    let agent = |ts, state: &str, reason: Option<&str>| {
        let mut v = json!({"type": "agent.state", "agent": "a-1", "state": state,
            "queues": ["sales", "support"]});
        if let Some(r) = reason {
            v["reason"] = json!(r);
        }
        event(ts, v)
    };
    let mut ended = event(
        T0 + 95_400,
        json!({"type": "contact.ended", "contact_id": "c1", "agent": "a-1", "wrapup": true}),
    );
    // the wrap-up ends at T0 + 130.1 s: in second 130
    ended.wrapup_ms = Some(34_700);
    let events = [
        agent(T0, "available", None),
        event(
            T0 + 10_250,
            json!({"type": "contact.offered", "contact_id": "c1", "queue": "sales",
                "customer": "+15550001"}),
        ),
        event(
            T0 + 10_900,
            json!({"type": "contact.offered", "contact_id": "c2", "queue": "sales"}),
        ),
        event(
            T0 + 14_100,
            json!({"type": "contact.answered", "contact_id": "c1", "queue": "sales",
                "agent": "a-1"}),
        ),
        agent(T0 + 14_100, "busy", None),
        event(
            T0 + 50_000,
            json!({"type": "contact.held", "contact_id": "c1", "agent": "a-1"}),
        ),
        event(
            T0 + 60_000,
            json!({"type": "contact.abandoned", "contact_id": "c2", "queue": "sales"}),
        ),
        ended,
        agent(T0 + 95_400, "wrapup", None),
        event(
            T0 + 130_100,
            json!({"type": "contact.wrapup_ended", "contact_id": "c1", "agent": "a-1"}),
        ),
        agent(T0 + 130_100, "not_ready", Some("lunch")),
        agent(T0 + 2_000_000, "available", None),
        event(
            T0 + 2_000_500,
            json!({"type": "survey.submitted", "contact_id": "c1", "csat": 5}),
        ),
        agent(T0 + 2_100_000, "logged_out", None),
    ];
    let s = T0 / SECOND;
    let lines = write_all(&events);
    let expected = [
        format!("{s}|NONE|sales|PJSIP/a-1|ADDMEMBER|"),
        format!("{s}|NONE|support|PJSIP/a-1|ADDMEMBER|"),
        format!("{}|{}.1|sales|NONE|ENTERQUEUE||+15550001|1", s + 10, s + 10),
        format!("{}|{}.2|sales|NONE|ENTERQUEUE|||2", s + 10, s + 10),
        format!("{}|{}.1|sales|PJSIP/a-1|CONNECT|4", s + 14, s + 10),
        format!("{}|{}.2|sales|NONE|ABANDON|1|2|50", s + 60, s + 10),
        format!(
            "{}|{}.1|sales|PJSIP/a-1|COMPLETEAGENT|4|81|1",
            s + 95,
            s + 10
        ),
        format!("{}|{}.1|sales|PJSIP/a-1|WRAPUPSTART|35", s + 95, s + 10),
        format!("{}|NONE|sales|PJSIP/a-1|PAUSE|lunch", s + 130),
        format!("{}|NONE|support|PJSIP/a-1|PAUSE|lunch", s + 130),
        format!("{}|NONE|sales|PJSIP/a-1|UNPAUSE|", s + 2000),
        format!("{}|NONE|support|PJSIP/a-1|UNPAUSE|", s + 2000),
        format!("{}|NONE|sales|PJSIP/a-1|REMOVEMEMBER|", s + 2100),
        format!("{}|NONE|support|PJSIP/a-1|REMOVEMEMBER|", s + 2100),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn overflows_transfers_and_callbacks_keep_the_call_id() {
    use serde_json::json;
    let ev = |ts: i64, v: serde_json::Value| event(T0 + ts, v);
    let events = [
        ev(
            0,
            json!({"type": "contact.offered", "contact_id": "k", "queue": "sales"}),
        ),
        ev(
            120_000,
            json!({"type": "contact.overflowed", "contact_id": "k", "queue": "sales",
                "reason": "key"}),
        ),
        ev(
            122_000,
            json!({"type": "contact.offered", "contact_id": "k", "queue": "sales",
                "channel": "callback"}),
        ),
        ev(
            125_000,
            json!({"type": "contact.answered", "contact_id": "k", "agent": "b"}),
        ),
        ev(
            185_000,
            json!({"type": "contact.transferred", "contact_id": "k", "agent": "b",
                "to_queue": "billing", "wrapup": false}),
        ),
        ev(
            187_000,
            json!({"type": "contact.offered", "contact_id": "k", "queue": "billing"}),
        ),
        ev(
            787_000,
            json!({"type": "contact.overflowed", "contact_id": "k", "queue": "billing",
                "reason": "timeout"}),
        ),
        // refused at the door: the overflow at the offer's instant
        ev(
            800_000,
            json!({"type": "contact.offered", "contact_id": "f", "queue": "support"}),
        ),
        ev(
            800_000,
            json!({"type": "contact.overflowed", "contact_id": "f", "queue": "support",
                "reason": "full"}),
        ),
        ev(
            801_000,
            json!({"type": "contact.offered", "contact_id": "e", "queue": "support"}),
        ),
        ev(
            806_000,
            json!({"type": "contact.overflowed", "contact_id": "e", "queue": "support",
                "reason": "no_agents"}),
        ),
    ];
    let s = T0 / SECOND;
    let lines = write_all(&events);
    let id = format!("{s}.1");
    let expected = [
        format!("{s}|{id}|sales|NONE|ENTERQUEUE|||1"),
        format!("{}|{id}|sales|NONE|EXITWITHKEY|1|1|1|120", s + 120),
        format!("{}|{id}|sales|NONE|ENTERQUEUE|||1", s + 122),
        format!("{}|{id}|sales|PJSIP/b|CONNECT|3", s + 125),
        format!(
            "{}|{id}|sales|PJSIP/b|BLINDTRANSFER|billing|from-queue|3|60|1",
            s + 185
        ),
        format!("{}|{id}|billing|NONE|ENTERQUEUE|||1", s + 187),
        format!("{}|{id}|billing|NONE|EXITWITHTIMEOUT|1|1|600", s + 787),
        format!("{}|{}.2|support|NONE|FULL|", s + 800, s + 800),
        format!("{}|{}.3|support|NONE|ENTERQUEUE|||1", s + 801, s + 801),
        format!("{}|{}.3|support|NONE|EXITEMPTY|1|1|5", s + 806, s + 801),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn a_logout_and_login_in_one_second_write_no_removal() {
    use serde_json::json;
    let agent = |ts: i64, state: &str| {
        let mut v = json!({"type": "agent.state", "agent": "a-2", "state": state,
            "queues": ["sales", "support"]});
        if state == "not_ready" {
            v["reason"] = json!("break");
        }
        event(T0 + ts, v)
    };
    let events = [
        agent(0, "available"),
        agent(100_000, "not_ready"),
        // out and back within second 200: the adapter would order the ADDMEMBERs first
        agent(200_100, "logged_out"),
        agent(200_900, "available"),
        agent(300_000, "logged_out"),
        agent(301_000, "available"),
    ];
    let s = T0 / SECOND;
    let lines = write_all(&events);
    let expected = [
        format!("{s}|NONE|sales|PJSIP/a-2|ADDMEMBER|"),
        format!("{s}|NONE|support|PJSIP/a-2|ADDMEMBER|"),
        format!("{}|NONE|sales|PJSIP/a-2|PAUSE|break", s + 100),
        format!("{}|NONE|support|PJSIP/a-2|PAUSE|break", s + 100),
        // still a member, still paused: back as available
        format!("{}|NONE|sales|PJSIP/a-2|UNPAUSE|", s + 200),
        format!("{}|NONE|support|PJSIP/a-2|UNPAUSE|", s + 200),
        format!("{}|NONE|sales|PJSIP/a-2|REMOVEMEMBER|", s + 300),
        format!("{}|NONE|support|PJSIP/a-2|REMOVEMEMBER|", s + 300),
        format!("{}|NONE|sales|PJSIP/a-2|ADDMEMBER|", s + 301),
        format!("{}|NONE|support|PJSIP/a-2|ADDMEMBER|", s + 301),
    ];
    assert_eq!(lines, expected);
    // a removal is held only until its second is over
    let mut w = AsteriskWriter::new(PBX_KEY);
    let mut out = Vec::new();
    for e in &events[..5] {
        w.write(e, &mut out);
    }
    let before = out.len();
    w.flush(T0 + 300_999, &mut out);
    assert_eq!(out.len(), before);
    w.flush(T0 + 301_000, &mut out);
    assert_eq!(out.len(), before + 2);
}

/// A simulated day written as queue_log and mapped back by the adapter: no record rejected or
/// unknown, and every conversation with wrap-up comes back with its wrap-up.
#[test]
fn a_simulated_day_maps_back_with_every_wrapup() {
    let mut c = SimConfig {
        rate: 0.3,
        start_ms: T0 - 10 * HOUR,
        seed: 7,
        ..SimConfig::default()
    };
    c.agents = c.recommended_agents();
    let mut sim = Simulator::new(c.clone());
    let mut events = Vec::new();
    sim.advance(c.start_ms + 24 * HOUR, &mut events);
    let lines = write_all(&events);

    let mut adapter = Asterisk::new(AsteriskSettings::default());
    let mut mapped = Vec::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &lines {
        let kind = adapter
            .map(l.as_bytes(), &mut mapped)
            .unwrap_or_else(|r| panic!("{r}: {l}"));
        *kinds.entry(kind).or_default() += 1;
    }
    adapter.flush(Millis::MAX, &mut mapped);
    assert_eq!(kinds.get("unknown"), None, "{kinds:?}");
    let count = |texts: &[String], pat: &str| texts.iter().filter(|t| t.contains(pat)).count();
    let json: Vec<String> = events.iter().map(|e| e.json.clone()).collect();
    for (kind, verbs) in [
        ("enterqueue", "\"contact.offered\""),
        ("connect", "\"contact.answered\""),
        ("abandon", "\"contact.abandoned\""),
    ] {
        assert_eq!(
            kinds.get(kind).copied(),
            Some(count(&json, verbs)),
            "{kind}"
        );
    }
    let wrapups = count(&json, "\"wrapup\":true");
    assert!(wrapups > 100, "{wrapups}");
    assert_eq!(kinds.get("wrapupstart").copied(), Some(wrapups));
    assert_eq!(count(&mapped, "\"wrapup\":true"), wrapups);
    assert_eq!(count(&mapped, "contact.wrapup_ended"), wrapups);
    assert!(kinds.get("pause").copied().unwrap_or(0) > 10, "{kinds:?}");
}
