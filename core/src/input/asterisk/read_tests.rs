//! Unit tests of reading queue_log records: the malformed cases and their reject reasons, agent
//! names, the realtime row spelling and the time zones of its datetime strings.

use chrono_tz::Tz;
use serde_json::json;

use super::tests::{line, of_type, reject, run, run_with, T};
use super::*;
use crate::event::RejectReason;

#[test]
fn malformed_records_are_rejected_with_their_reason() {
    use RejectReason::*;
    let cases = [
        ("", MalformedJson),
        ("{\"time\":", MalformedJson),
        ("[1,2]", BadTimestamp),
        ("notatime|c1|sales|NONE|ENTERQUEUE|", BadTimestamp),
        ("1795428000.5|c1|sales|NONE|ENTERQUEUE|", BadTimestamp),
        ("-5|c1|sales|NONE|ENTERQUEUE|", BadTimestamp),
        ("99999999999999|c1|sales|NONE|ENTERQUEUE|", BadTimestamp),
        ("|c1|sales|NONE|ENTERQUEUE|", MissingField),
        ("1795424400|c1|sales", MissingField),
        ("1795424400|c1|sales|NONE|", MissingField),
        ("1795424400|NONE|sales|NONE|ENTERQUEUE|", MissingField),
        ("1795424400|c1|NONE|NONE|ENTERQUEUE|", MissingField),
        ("1795424400|c1|sales|NONE|CONNECT|1|x|1", MissingField),
        ("1795424400|NONE|NONE|SIP/1|ADDMEMBER|", MissingField),
        ("1795424400|NONE|q|SIP/1|WRAPUPSTART|", MissingField),
        ("1795424400|NONE|q|SIP/1|WRAPUPSTART|ten", InvalidValue),
        ("1795424400|NONE|q|SIP/1|WRAPUPSTART|-1", InvalidValue),
        ("1795424400|NONE|q|SIP/1|WRAPUPSTART|99999999", InvalidValue),
        ("1795424400|c1|sales|SIP/|CONNECT|", InvalidValue),
        (
            r#"{"time":true,"callid":"c1","queuename":"q","event":"ENTERQUEUE"}"#,
            BadTimestamp,
        ),
        (
            r#"{"callid":"c1","queuename":"q","event":"ENTERQUEUE"}"#,
            MissingField,
        ),
        (
            r#"{"time":1,"callid":["c1"],"queuename":"q","event":"ENTERQUEUE"}"#,
            InvalidValue,
        ),
        (
            r#"{"time":"2026-02-30 10:00:00","callid":"c1","queuename":"q","event":"ENTERQUEUE"}"#,
            BadTimestamp,
        ),
    ];
    for (record, reason) in cases {
        assert_eq!(reject(record), reason, "{record}");
    }
    let long = "x".repeat(129);
    assert_eq!(
        reject(&format!("1795424400|{long}|sales|NONE|ENTERQUEUE|")),
        InvalidValue
    );
    assert_eq!(
        reject(&format!(
            "1795424400|c1|sales|NONE|ENTERQUEUE|{}",
            "y".repeat(70_000)
        )),
        TooLarge
    );
    let mut out = Vec::new();
    let invalid_utf8 = b"1795424400|c\xff|q|NONE|ENTERQUEUE|";
    assert_eq!(
        Asterisk::new(AsteriskSettings::default())
            .map(invalid_utf8, &mut out)
            .map_err(|r| r.reason),
        Err(MalformedJson)
    );
}

#[test]
fn agent_names_lose_technology_and_context() {
    for (member, agent) in [
        ("SIP/1127", "1127"),
        ("PJSIP/1127", "1127"),
        ("IAX2/1127", "1127"),
        ("Agent/1127", "1127"),
        ("Local/1127@from-queue", "1127"),
        ("Local/1127@from-queue/n", "1127"),
        ("John Smith", "John Smith"),
        ("1127@ctx", "1127@ctx"),
    ] {
        assert_eq!(agent_name(member), agent, "{member}");
    }
    // ADDMEMBER as Local/…@context and CONNECT as Agent/… are one agent
    let ev = run(&[
        line(0, "NONE", "sales", "Local/1127@from-queue", "ADDMEMBER", ""),
        line(9, "c1", "sales", "Agent/1127", "CONNECT", "9|x|3"),
    ]);
    let st = of_type(&ev, "agent.state");
    assert_eq!(st.len(), 2);
    assert!(st.iter().all(|e| e["agent"] == "1127"));
    assert!(st[1].get("queues").is_none(), "the list did not change");
}

fn row(secs: i64, callid: &str, queue: &str, agent: &str, verb: &str, data: &str) -> String {
    let mut v = json!({"time": T + secs, "callid": callid, "queuename": queue,
        "agent": agent, "event": verb});
    for (i, d) in data.split('|').enumerate() {
        v[format!("data{}", i + 1)] = json!(d);
    }
    v.to_string()
}

#[test]
fn the_realtime_row_spelling_maps_like_the_file_line() {
    let call = [
        (0, "c1", "sales", "NONE", "ENTERQUEUE", "|5551234|1"),
        (9, "c1", "sales", "SIP/1127", "CONNECT", "9|x|3"),
        (60, "c1", "sales", "SIP/1127", "COMPLETEAGENT", "9|51|1"),
        (60, "NONE", "sales", "SIP/1127", "WRAPUPSTART", "15"),
    ];
    let lines: Vec<String> = call
        .iter()
        .map(|c| line(c.0, c.1, c.2, c.3, c.4, c.5))
        .collect();
    let rows: Vec<String> = call
        .iter()
        .map(|c| row(c.0, c.1, c.2, c.3, c.4, c.5))
        .collect();
    let joined: Vec<String> = call
        .iter()
        .map(|c| {
            json!({"time": (T + c.0).to_string(), "callid": c.1, "queuename": c.2,
                "agent": c.3, "event": c.4, "data": c.5})
            .to_string()
        })
        .collect();
    let from_lines = run(&lines);
    assert_eq!(from_lines.len(), 7);
    assert_eq!(run(&rows), from_lines);
    assert_eq!(run(&joined), from_lines);
}

#[test]
fn datetime_strings_are_read_in_the_configured_zone() {
    let at = |time: &str, tz: Tz| {
        let r = json!({"time": time, "callid": "c1", "queuename": "q", "agent": "NONE",
            "event": "ENTERQUEUE"})
        .to_string();
        let ev = run_with(
            &mut Asterisk::new(AsteriskSettings {
                timezone: tz,
                ..AsteriskSettings::default()
            }),
            &[r],
        );
        ev[0]["ts"].as_i64().unwrap_or_default()
    };
    let utc = T * 1000;
    assert_eq!(at("2026-11-23 10:00:00", Tz::UTC), utc);
    assert_eq!(at("2026-11-23T10:00:00", Tz::UTC), utc);
    assert_eq!(at("2026-11-23 10:00:00.896208", Tz::UTC), utc + 896);
    assert_eq!(at("2026-11-23 11:00:00", Tz::Europe__Berlin), utc);
    assert_eq!(
        at("2026-11-23 05:00:00.5", Tz::America__New_York),
        utc + 500
    );
    // an offset in the string wins over the zone
    assert_eq!(at("2026-11-23T12:00:00+02:00", Tz::America__New_York), utc);
    assert_eq!(
        at("2026-11-23 11:00:00.25+01", Tz::America__New_York),
        utc + 250
    );
    // epoch seconds as text, with a fraction
    assert_eq!(at(&format!("{T}.25"), Tz::Europe__Berlin), utc + 250);
    // the repeated hour when clocks go back: the earlier instant
    let fall = at("2026-10-25 02:30:00", Tz::Europe__Berlin);
    assert_eq!(fall, at("2026-10-25T00:30:00Z", Tz::UTC));
    // the skipped hour does not exist
    let r = json!({"time": "2026-03-29 02:30:00", "callid": "c1", "queuename": "q",
        "event": "ENTERQUEUE"})
    .to_string();
    let mut out = Vec::new();
    let got = Asterisk::new(AsteriskSettings {
        timezone: Tz::Europe__Berlin,
        ..AsteriskSettings::default()
    })
    .map(r.as_bytes(), &mut out);
    assert_eq!(got.map_err(|r| r.reason), Err(RejectReason::BadTimestamp));
}

/// A realtime row at `T + ms` milliseconds, as a datetime string with a fraction.
fn row_ms(ms: i64, callid: &str, agent: &str, verb: &str, data1: &str) -> String {
    let t = chrono::DateTime::from_timestamp_millis(T * 1000 + ms)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_default();
    json!({"time": t, "callid": callid, "queuename": "sales", "agent": agent,
        "event": verb, "data1": data1})
    .to_string()
}

#[test]
fn rows_with_fractions_pair_and_order_within_their_second() {
    let rows = [
        row_ms(9_500, "c1", "SIP/7", "CONNECT", "9"),
        row_ms(60_120, "c1", "SIP/7", "COMPLETECALLER", "9"),
        row_ms(60_125, "NONE", "SIP/7", "WRAPUPSTART", "15"),
        row_ms(60_100, "NONE", "SIP/8", "PAUSEALL", "break"),
        row_ms(60_900, "NONE", "SIP/8", "UNPAUSEALL", ""),
    ];
    let ev = run(&rows);
    // the WRAPUPSTART 5 ms later is the same second's: the call is wrapped up
    let ended = of_type(&ev, "contact.ended");
    assert_eq!(ended[0]["wrapup"], true);
    assert_eq!(ended[0]["ts"], T * 1000 + 60_120);
    let end = of_type(&ev, "contact.wrapup_ended");
    assert_eq!(
        end[0]["ts"],
        T * 1000 + 75_125,
        "WRAPUPSTART's time + data1"
    );
    let st: Vec<(i64, String, String)> = of_type(&ev, "agent.state")
        .iter()
        .map(|e| {
            (
                e["ts"].as_i64().unwrap_or_default() - T * 1000,
                e["agent"].as_str().unwrap_or_default().to_owned(),
                e["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let s = |ms: i64, a: &str, st: &str| (ms, a.to_owned(), st.to_owned());
    assert_eq!(
        st,
        vec![
            s(9_500, "7", "busy"),
            // one state per agent for the second, at its latest record that moves it
            s(60_120, "7", "wrapup"),
            // paused, then unpaused 800 ms later: the later one holds
            s(60_900, "8", "available"),
            s(75_125, "7", "available"),
        ]
    );
    // the second's rows in another order: the same events
    let mut shuffled = rows.to_vec();
    shuffled[1..].reverse();
    assert_eq!(run(&shuffled), ev);
}
