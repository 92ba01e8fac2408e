//! Unit tests of the `asterisk` adapter: every verb, both spellings, the malformed cases, agent
//! names, time zones, the hold-back and the order independence within an instant.

use serde_json::{json, Value};

use super::*;
use crate::event::{Limits, RejectReason};
use crate::input::callpulse::decode;

pub(super) const T: i64 = 1_795_428_000; // 2026-11-23T10:00:00Z

/// Maps records (and flushes everything), checking each event passes the docs/events.md decoder.
pub(super) fn run_with(adapter: &mut Asterisk, records: &[String]) -> Vec<Value> {
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

pub(super) fn run(records: &[String]) -> Vec<Value> {
    run_with(&mut Asterisk::new(AsteriskSettings::default()), records)
}

/// A file line at `T + secs`.
pub(super) fn line(
    secs: i64,
    callid: &str,
    queue: &str,
    agent: &str,
    verb: &str,
    data: &str,
) -> String {
    format!("{}|{callid}|{queue}|{agent}|{verb}|{data}", T + secs)
}

pub(super) fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn states(events: &[Value]) -> Vec<(i64, String, String)> {
    of_type(events, "agent.state")
        .iter()
        .map(|e| {
            (
                e["ts"].as_i64().unwrap_or_default(),
                e["agent"].as_str().unwrap_or_default().to_owned(),
                e["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(super) fn reject(record: &str) -> RejectReason {
    let mut out = Vec::new();
    Asterisk::new(AsteriskSettings::default())
        .map(record.as_bytes(), &mut out)
        .expect_err(record)
        .reason
}

#[test]
fn kinds_are_the_verbs_of_the_table_and_unknown() {
    let mut expected: Vec<&str> = record::VERBS.iter().map(|v| v.1).collect();
    expected.push("unknown");
    assert_eq!(KINDS, expected.as_slice());
    for (verb, kind, _) in record::VERBS {
        assert_eq!(verb.to_ascii_lowercase(), *kind);
    }
}

#[test]
fn enterqueue_offers_the_call_with_its_caller_id() {
    let ev = run(&[line(
        0,
        "1700.1",
        "sales",
        "NONE",
        "ENTERQUEUE",
        "|5551234|1",
    )]);
    assert_eq!(
        ev,
        vec![
            json!({"id": format!("ast-1700.1-{}-enterqueue-sales-0", T * 1000),
            "type": "contact.offered", "ts": T * 1000, "contact_id": "1700.1",
            "queue": "sales", "channel": "voice", "customer": "5551234"})
        ]
    );
    // no caller id: no customer
    let ev = run(&[line(0, "1700.1", "sales", "NONE", "ENTERQUEUE", "|")]);
    assert!(ev[0].get("customer").is_none());
    // a caller id past the 128-character limit is left out, the call still offered
    let long = "5".repeat(129);
    let ev = run(&[line(
        0,
        "1700.1",
        "sales",
        "NONE",
        "ENTERQUEUE",
        &format!("|{long}|1"),
    )]);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].get("customer").is_none());
}

#[test]
fn connect_answers_and_makes_the_agent_busy_in_that_queue() {
    let ev = run(&[line(
        9,
        "1700.1",
        "sales",
        "SIP/1127",
        "CONNECT",
        "9|1700.2|3",
    )]);
    let answered = of_type(&ev, "contact.answered");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["agent"], "1127");
    assert_eq!(answered[0]["queue"], "sales");
    let st = of_type(&ev, "agent.state");
    assert_eq!(st[0]["state"], "busy");
    assert_eq!(st[0]["queues"], json!(["sales"]));
}

#[test]
fn complete_ends_the_call_without_wrapup_and_frees_the_agent() {
    for verb in ["COMPLETECALLER", "COMPLETEAGENT"] {
        let ev = run(&[
            line(9, "c1", "sales", "PJSIP/1127", "CONNECT", "9|x|3"),
            line(60, "c1", "sales", "PJSIP/1127", verb, "9|51|1"),
        ]);
        let ended = of_type(&ev, "contact.ended");
        assert_eq!(ended.len(), 1, "{verb}");
        assert_eq!(ended[0]["wrapup"], false);
        assert_eq!(ended[0]["agent"], "1127");
        assert_eq!(
            states(&ev),
            vec![
                ((T + 9) * 1000, "1127".into(), "busy".into()),
                ((T + 60) * 1000, "1127".into(), "available".into())
            ]
        );
    }
}

#[test]
fn wrapupstart_at_the_same_instant_sets_wrapup_and_ends_it_later() {
    let complete = line(60, "c1", "sales", "SIP/1127", "COMPLETEAGENT", "9|51|1");
    let wrapup = line(60, "NONE", "sales", "SIP/1127", "WRAPUPSTART", "15");
    for records in [
        vec![complete.clone(), wrapup.clone()],
        vec![wrapup.clone(), complete.clone()],
    ] {
        let mut all = vec![line(9, "c1", "sales", "SIP/1127", "CONNECT", "9|x|3")];
        all.extend(records);
        let ev = run(&all);
        assert_eq!(of_type(&ev, "contact.ended")[0]["wrapup"], true);
        let end = of_type(&ev, "contact.wrapup_ended");
        assert_eq!(end.len(), 1);
        assert_eq!(end[0]["ts"], (T + 75) * 1000);
        assert_eq!(end[0]["contact_id"], "c1");
        assert_eq!(
            states(&ev),
            vec![
                ((T + 9) * 1000, "1127".into(), "busy".into()),
                ((T + 60) * 1000, "1127".into(), "wrapup".into()),
                ((T + 75) * 1000, "1127".into(), "available".into())
            ]
        );
    }
}

#[test]
fn a_wrapupstart_a_second_later_does_not_belong_to_the_call() {
    let ev = run(&[
        line(9, "c1", "sales", "SIP/1127", "CONNECT", "9|x|3"),
        line(60, "c1", "sales", "SIP/1127", "COMPLETEAGENT", "9|51|1"),
        line(61, "NONE", "sales", "SIP/1127", "WRAPUPSTART", "15"),
    ]);
    assert_eq!(of_type(&ev, "contact.ended")[0]["wrapup"], false);
    assert!(of_type(&ev, "contact.wrapup_ended").is_empty());
}

/// An adapter whose records never arrive out of order (no reorder allowance).
pub(super) fn in_time_order() -> Asterisk {
    Asterisk::new(AsteriskSettings {
        reorder: 0,
        ..AsteriskSettings::default()
    })
}

#[test]
fn a_complete_is_held_until_its_instant_and_the_reorder_allowance_are_past() {
    let complete = line(60, "c1", "sales", "SIP/1127", "COMPLETEAGENT", "9|51|1");
    let mut a = in_time_order();
    let mut out = Vec::new();
    let kind = a.map(complete.as_bytes(), &mut out);
    assert_eq!(kind, Ok("completeagent"));
    assert!(out.is_empty());
    a.flush((T + 60) * 1000, &mut out);
    assert!(out.is_empty(), "the instant itself is not past");
    a.flush((T + 60) * 1000 + 1, &mut out);
    assert_eq!(out.len(), 2, "{out:?}");
    // with the default allowance, a record up to 59 s late may still pair with it
    let mut a = Asterisk::new(AsteriskSettings::default());
    let mut out = Vec::new();
    a.map(complete.as_bytes(), &mut out).ok();
    a.flush((T + 60 + 59) * 1000, &mut out);
    assert!(out.is_empty(), "{out:?}");
    a.flush((T + 60 + 59) * 1000 + 1, &mut out);
    assert_eq!(out.len(), 2, "{out:?}");
    // a record's own contact events go out at once; a later record lets a held second go
    let mut a = in_time_order();
    let mut out = Vec::new();
    a.map(
        line(0, "c2", "sales", "NONE", "ENTERQUEUE", "|").as_bytes(),
        &mut out,
    )
    .ok();
    assert_eq!(out.len(), 1, "the offer at once");
    a.map(complete.as_bytes(), &mut out).ok();
    assert_eq!(out.len(), 1);
    a.map(
        line(61, "NONE", "NONE", "NONE", "QUEUESTART", "").as_bytes(),
        &mut out,
    )
    .ok();
    assert_eq!(out.len(), 3, "{out:?}");
}

#[test]
fn a_wrapup_end_waits_for_its_time() {
    let mut a = in_time_order();
    let mut out = Vec::new();
    for r in [
        line(60, "c1", "sales", "SIP/1127", "COMPLETEAGENT", "9|51|1"),
        line(60, "NONE", "sales", "SIP/1127", "WRAPUPSTART", "30"),
        line(70, "c9", "sales", "NONE", "ENTERQUEUE", "|"),
    ] {
        a.map(r.as_bytes(), &mut out).ok();
    }
    a.flush((T + 89) * 1000, &mut out);
    assert!(!out.iter().any(|e| e.contains("wrapup_ended")));
    a.flush((T + 90) * 1000 + 1, &mut out);
    assert!(out.iter().any(|e| e.contains("wrapup_ended")));
}

#[test]
fn queue_leaving_verbs_map_to_their_outcome() {
    for (verb, kind, reason) in [
        ("ABANDON", "contact.abandoned", None),
        ("EXITWITHTIMEOUT", "contact.overflowed", Some("timeout")),
        ("EXITEMPTY", "contact.overflowed", Some("no_agents")),
        ("EXITWITHKEY", "contact.overflowed", Some("key")),
        ("WITHDRAW", "contact.overflowed", Some("other")),
        ("SYSCOMPAT", "contact.overflowed", Some("other")),
    ] {
        let ev = run(&[line(5, "c1", "sales", "NONE", verb, "1|1|5")]);
        assert_eq!(ev.len(), 1, "{verb}");
        assert_eq!(ev[0]["type"], kind, "{verb}");
        assert_eq!(ev[0]["queue"], "sales");
        assert_eq!(
            ev[0].get("reason").and_then(Value::as_str),
            reason,
            "{verb}"
        );
    }
}

#[test]
fn full_and_joinempty_offer_and_overflow_at_once() {
    for (verb, reason) in [("FULL", "full"), ("JOINEMPTY", "no_agents")] {
        let ev = run(&[line(5, "c1", "sales", "NONE", verb, "")]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0]["type"], "contact.offered");
        assert_eq!(ev[1]["type"], "contact.overflowed");
        assert_eq!(ev[1]["reason"], reason);
        assert_eq!(ev[0]["ts"], ev[1]["ts"]);
        assert_ne!(ev[0]["id"], ev[1]["id"]);
    }
}

#[test]
fn transfers_hand_the_call_on() {
    for verb in ["TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"] {
        let ev = run(&[
            line(9, "c1", "sales", "SIP/1127", "CONNECT", "9|x|3"),
            line(30, "c1", "sales", "SIP/1127", verb, "200|default|9|21|1"),
        ]);
        let t = of_type(&ev, "contact.transferred");
        assert_eq!(t.len(), 1, "{verb}");
        assert_eq!(t[0]["agent"], "1127");
        assert_eq!(t[0]["wrapup"], false);
        assert!(t[0].get("to_queue").is_none());
        assert_eq!(states(&ev)[1].2, "available");
    }
}

#[test]
fn members_keep_their_queue_list() {
    let ev = run(&[
        line(
            0,
            "NONE",
            "sales",
            "Local/1127@from-queue/n",
            "ADDMEMBER",
            "",
        ),
        line(
            1,
            "NONE",
            "support",
            "Local/1127@from-queue/n",
            "ADDMEMBER",
            "PAUSED",
        ),
        line(
            2,
            "NONE",
            "sales",
            "Local/1127@from-queue/n",
            "REMOVEMEMBER",
            "",
        ),
        line(
            3,
            "NONE",
            "support",
            "Local/1127@from-queue/n",
            "REMOVEMEMBER",
            "",
        ),
    ]);
    let st = of_type(&ev, "agent.state");
    let got: Vec<(Value, Value)> = st
        .iter()
        .map(|e| (e["state"].clone(), e["queues"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!("available"), json!(["sales"])),
            (json!("not_ready"), json!(["sales", "support"])),
            (json!("not_ready"), json!(["support"])),
            (json!("logged_out"), json!([])),
        ]
    );
    assert!(st.iter().all(|e| e["agent"] == "1127"));
}

#[test]
fn logins_pauses_and_their_reasons() {
    let ev = run(&[
        line(0, "NONE", "NONE", "Agent/1001", "AGENTLOGIN", "SIP/1001"),
        line(1, "NONE", "NONE", "Agent/1001", "PAUSEALL", "lunch"),
        line(2, "NONE", "NONE", "Agent/1001", "UNPAUSEALL", ""),
        line(3, "NONE", "sales", "Agent/1001", "PAUSE", ""),
        line(4, "NONE", "sales", "Agent/1001", "UNPAUSE", ""),
        line(5, "NONE", "NONE", "Agent/1001", "AGENTLOGOFF", "SIP/1001|5"),
        line(
            6,
            "NONE",
            "NONE",
            "Agent/1002",
            "AGENTCALLBACKLOGIN",
            "1002@ctx",
        ),
        line(
            7,
            "NONE",
            "NONE",
            "Agent/1002",
            "AGENTCALLBACKLOGOFF",
            "1002@ctx|1|",
        ),
    ]);
    let got: Vec<(String, String, Option<String>)> = of_type(&ev, "agent.state")
        .iter()
        .map(|e| {
            (
                e["agent"].as_str().unwrap_or_default().into(),
                e["state"].as_str().unwrap_or_default().into(),
                e.get("reason").and_then(Value::as_str).map(Into::into),
            )
        })
        .collect();
    let s = |a: &str, st: &str, r: Option<&str>| (a.into(), st.into(), r.map(Into::into));
    assert_eq!(
        got,
        vec![
            s("1001", "available", None),
            s("1001", "not_ready", Some("lunch")),
            s("1001", "available", None),
            s("1001", "not_ready", None),
            s("1001", "available", None),
            s("1001", "logged_out", None),
            s("1002", "available", None),
            s("1002", "logged_out", None),
        ]
    );
}

#[test]
fn a_pause_during_a_call_takes_effect_when_it_ends() {
    let ev = run(&[
        line(0, "NONE", "sales", "SIP/1127", "ADDMEMBER", ""),
        line(9, "c1", "sales", "SIP/1127", "CONNECT", "9|x|3"),
        line(20, "NONE", "NONE", "SIP/1127", "PAUSEALL", "break"),
        line(60, "c1", "sales", "SIP/1127", "COMPLETECALLER", "9|51|1"),
    ]);
    let st: Vec<String> = states(&ev).into_iter().map(|s| s.2).collect();
    assert_eq!(st, ["available", "busy", "not_ready"]);
}

#[test]
fn ignored_and_unknown_verbs_produce_nothing_and_are_counted() {
    let mut a = Asterisk::new(AsteriskSettings::default());
    let mut out = Vec::new();
    for verb in [
        "RINGNOANSWER",
        "RINGCANCELED",
        "AGENTDUMP",
        "PENALTY",
        "RINGINUSE",
        "QUEUESTART",
        "CONFIGRELOAD",
        "DID",
        "INFO",
        "OUTDIAL",
        "OUTANSWER",
        "OUTCANCEL",
        "OUTCHANUNAVAIL",
        "OUTCONGESTION",
        "OUTTRANSFER",
    ] {
        let kind = a.map(
            line(1, "c1", "sales", "SIP/1", verb, "1000").as_bytes(),
            &mut out,
        );
        assert_eq!(kind.map(str::to_owned), Ok(verb.to_ascii_lowercase()));
    }
    let kind = a.map(
        line(1, "c1", "sales", "SIP/1", "SOMETHINGNEW", "").as_bytes(),
        &mut out,
    );
    assert_eq!(kind, Ok("unknown"));
    a.flush(Millis::MAX, &mut out);
    assert!(out.is_empty(), "{out:?}");
}

/// Every order of `records` (after `prefix`) gives the same events.
fn same_in_any_order(prefix: &[String], records: &[String]) {
    let with_prefix = |rs: &[String]| {
        let mut all = prefix.to_vec();
        all.extend_from_slice(rs);
        run(&all)
    };
    let first = with_prefix(records);
    let n = records.len();
    let mut idx: Vec<usize> = (0..n).collect();
    // Heap's algorithm over every permutation
    let mut c = vec![0; n];
    let mut i = 0;
    while i < n {
        if c[i] < i {
            idx.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
            let perm: Vec<String> = idx.iter().map(|&k| records[k].clone()).collect();
            let mut got = with_prefix(&perm);
            let mut want = first.clone();
            let key = |v: &Value| v.to_string();
            got.sort_by_key(key);
            want.sort_by_key(key);
            assert_eq!(got, want, "{perm:#?}");
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

#[test]
fn one_instant_maps_the_same_in_any_order() {
    // a short call and the next one at the same second, a pause, a wrap-up
    let mut records = vec![
        line(0, "NONE", "sales", "SIP/1127", "ADDMEMBER", ""),
        line(5, "c0", "sales", "SIP/1127", "CONNECT", "5|x|1"),
    ];
    let same_second = [
        line(60, "c0", "sales", "SIP/1127", "COMPLETECALLER", "5|55|1"),
        line(60, "c1", "sales", "SIP/1127", "CONNECT", "2|x|1"),
        line(60, "c1", "sales", "SIP/1127", "COMPLETEAGENT", "2|0|1"),
        line(60, "NONE", "sales", "SIP/1127", "WRAPUPSTART", "10"),
        line(60, "c2", "support", "NONE", "ENTERQUEUE", "|555|1"),
        line(60, "NONE", "NONE", "SIP/2000", "PAUSEALL", "meeting"),
    ];
    let prefix = records.clone();
    records.extend(same_second.iter().cloned());
    let ev = run(&records);
    // the short call c1 ended last: it is the one wrapped up
    let ended = of_type(&ev, "contact.ended");
    let c1 = ended
        .iter()
        .find(|e| e["contact_id"] == "c1")
        .map(|e| &e["wrapup"]);
    assert_eq!(c1, Some(&json!(true)));
    assert_eq!(
        states(&ev)
            .into_iter()
            .filter(|s| s.1 == "1127")
            .map(|s| s.2)
            .collect::<Vec<_>>(),
        ["available", "busy", "wrapup", "available"]
    );
    // the permutations of the same second, after the same prefix
    same_in_any_order(&prefix, &same_second);
}

#[test]
fn a_repeated_record_gives_the_same_ids() {
    let r = line(9, "c1", "sales", "SIP/1127", "CONNECT", "9|x|3");
    let once = run(std::slice::from_ref(&r));
    let twice = run(&[r.clone(), r.clone()]);
    assert_eq!(once, twice, "a repeat in the same instant is mapped once");
    let ids: Vec<&Value> = once.iter().map(|e| &e["id"]).collect();
    assert_eq!(
        ids,
        [
            &json!(format!("ast-c1-{}-connect-sales-0", (T + 9) * 1000)),
            &json!(format!("ast-agent-1127-{}-busy", (T + 9) * 1000)),
        ]
    );
    // a repeat after its time is mapped in full is too late: nothing again
    let mut a = Asterisk::new(AsteriskSettings::default());
    let mut out = Vec::new();
    a.map(r.as_bytes(), &mut out).ok();
    a.flush(Millis::MAX, &mut out);
    let before = out.len();
    let again = a.map(r.as_bytes(), &mut out).map_err(|e| e.reason);
    assert_eq!(again, Err(RejectReason::TooLate));
    assert_eq!(out.len(), before);
}

#[test]
fn long_ids_are_hashed_within_the_limit() {
    let callid = "c".repeat(128);
    let ev = run(&[line(0, &callid, "sales", "NONE", "ENTERQUEUE", "|")]);
    let id = ev[0]["id"].as_str().unwrap_or_default();
    assert!(id.starts_with("ast-h") && id.len() <= 128, "{id}");
    let again = run(&[line(0, &callid, "sales", "NONE", "ENTERQUEUE", "|")]);
    assert_eq!(again[0]["id"], ev[0]["id"]);
}
