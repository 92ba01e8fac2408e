//! Tests of the `callpulse` format decoder: spellings, borrowing, and one reject reason per
//! bad message.

use super::*;

fn dec(s: &str) -> Result<Event<'_>, Reject> {
    decode(s.as_bytes(), &Limits::default())
}

fn reason(s: &str) -> RejectReason {
    dec(s).expect_err(s).reason
}

#[test]
fn both_timestamp_spellings_decode_to_the_same_instant() {
    let a = dec(r#"{"type":"contact.offered","ts":"2026-11-23T10:00:00.250+03:00","contact_id":"c1","queue":"sales"}"#).unwrap();
    let b =
        dec(r#"{"type":"contact.offered","ts":1795417200250,"contact_id":"c1","queue":"sales"}"#)
            .unwrap();
    assert_eq!(a.ts, b.ts);
    assert_eq!(a.ts, 1_795_417_200_250);
}

#[test]
fn strings_borrow_from_the_input() {
    let e = dec(
        r#"{"type":"contact.answered","ts":1,"contact_id":"c1","queue":"sales","agent":"ann"}"#,
    )
    .unwrap();
    let Body::Contact(c) = e.body else { panic!() };
    assert!(matches!(c.contact_id, Cow::Borrowed(_)));
    assert_eq!(c.agent.as_deref(), Some("ann"));
    // escapes are honoured
    let e =
        dec(r#"{"type":"contact.offered","ts":1,"contact_id":"c\u00e91","queue":"q"}"#).unwrap();
    let Body::Contact(c) = e.body else { panic!() };
    assert_eq!(c.contact_id, "c\u{e9}1");
}

#[test]
fn every_reject_reason_of_decoding() {
    assert_eq!(reason("{not json"), RejectReason::MalformedJson);
    assert_eq!(reason("[1,2]"), RejectReason::MalformedJson);
    assert_eq!(reason(""), RejectReason::MalformedJson);
    assert_eq!(
        reason(r#"{"ts":1,"contact_id":"c","queue":"q"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","contact_id":"c","queue":"q"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":1,"queue":"q"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":1,"contact_id":"c"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.answered","ts":1,"contact_id":"c"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":"yesterday","contact_id":"c","queue":"q"}"#),
        RejectReason::BadTimestamp
    );
    assert_eq!(
        reason(
            r#"{"type":"contact.offered","ts":"2026-11-23T10:00:00","contact_id":"c","queue":"q"}"#
        ),
        RejectReason::BadTimestamp
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":-5,"contact_id":"c","queue":"q"}"#),
        RejectReason::BadTimestamp
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":true,"contact_id":"c","queue":"q"}"#),
        RejectReason::BadTimestamp
    );
    assert_eq!(
        reason(r#"{"type":"contact.poked","ts":1,"contact_id":"c","queue":"q"}"#),
        RejectReason::UnknownType
    );
    assert_eq!(
        reason(r#"{"v":2,"type":"contact.offered","ts":1,"contact_id":"c","queue":"q"}"#),
        RejectReason::UnsupportedVersion
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":1,"contact_id":"","queue":"q"}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":1,"contact_id":7,"queue":"q"}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q","channel":"fax"}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"survey.submitted","ts":1,"contact_id":"c","csat":6}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"survey.submitted","ts":1,"contact_id":"c","nps":11}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"contact.ended","ts":1,"contact_id":"c","agent":"a","wrapup":"yes"}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"agent.state","ts":1,"agent":"a","state":"sleeping"}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"agent.state","ts":1,"agent":"a","state":"busy","queues":"sales"}"#),
        RejectReason::InvalidValue
    );
    let long = "x".repeat(129);
    assert_eq!(
        reason(&format!(
            r#"{{"type":"contact.offered","ts":1,"contact_id":"{long}","queue":"q"}}"#
        )),
        RejectReason::InvalidValue
    );
    let big = format!(
        r#"{{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q","pad":"{}"}}"#,
        "x".repeat(70_000)
    );
    assert_eq!(reason(&big), RejectReason::TooLarge);
}

#[test]
fn transferred_carries_its_wrapup_flag() {
    let flag_of = |s: &str| match dec(s).map(|e| e.body) {
        Ok(Body::Contact(c)) => c.wrapup,
        other => panic!("{other:?}"),
    };
    let t =
        r#"{"type":"contact.transferred","ts":1,"contact_id":"c","agent":"a","to_queue":"care""#;
    assert_eq!(flag_of(&format!("{t},\"wrapup\":true}}")), Some(true));
    assert_eq!(flag_of(&format!("{t},\"wrapup\":false}}")), Some(false));
    assert_eq!(
        flag_of(&format!("{t}}}")),
        None,
        "absent: the queue decides"
    );
    assert_eq!(
        reason(&format!("{t},\"wrapup\":1}}")),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(&format!("{t},\"wrapup\":\"true\"}}")),
        RejectReason::InvalidValue
    );
    // the reject-reason order holds: a missing agent is reported before a bad flag
    assert_eq!(
        reason(r#"{"type":"contact.transferred","ts":1,"contact_id":"c","wrapup":"x"}"#),
        RejectReason::MissingField
    );
}

#[test]
fn responded_needs_contact_and_agent() {
    let e = dec(r#"{"type":"contact.responded","ts":7,"contact_id":"c","agent":"ann"}"#).unwrap();
    let Body::Contact(c) = e.body else { panic!() };
    assert_eq!(c.step, ContactStep::Responded);
    assert_eq!(
        (c.contact_id.as_ref(), c.agent.as_deref()),
        ("c", Some("ann"))
    );
    assert_eq!(
        reason(r#"{"type":"contact.responded","ts":7,"contact_id":"c"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.responded","ts":7,"agent":"ann"}"#),
        RejectReason::MissingField
    );
    assert_eq!(
        reason(r#"{"type":"contact.responded","ts":7,"contact_id":"c","agent":""}"#),
        RejectReason::InvalidValue
    );
    assert_eq!(
        reason(r#"{"type":"contact.responded","ts":"soon","contact_id":"c","agent":"a"}"#),
        RejectReason::BadTimestamp
    );
}

#[test]
fn limits_count_characters_not_bytes() {
    let name: String = "\u{e9}".repeat(128); // 256 bytes, 128 chars
    let ok = format!(r#"{{"type":"contact.offered","ts":1,"contact_id":"{name}","queue":"q"}}"#);
    assert!(dec(&ok).is_ok());
}

#[test]
fn unknown_fields_are_ignored_and_version_defaults_to_one() {
    let e = dec(r#"{"type":"agent.state","ts":5,"agent":"a","state":"available","queues":["sales","care"],"x":{"nested":[1]}}"#).unwrap();
    let Body::Agent(a) = e.body else { panic!() };
    assert_eq!(a.state, AgentState::Available);
    assert_eq!(a.queues.unwrap(), vec!["sales", "care"]);
    assert!(dec(
        r#"{"v":1,"type":"survey.submitted","ts":5,"contact_id":"c","csat":5,"nps":10,"ces":1}"#
    )
    .is_ok());
}

#[test]
fn invalid_utf8_in_a_field_no_reader_looks_at_is_malformed() {
    let mut bytes =
        br#"{"type":"contact.offered","ts":1,"contact_id":"c1","queue":"sales","note":"xx"}"#
            .to_vec();
    let at = bytes.len() - 4;
    bytes[at] = 0xff;
    let err = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(err.reason, RejectReason::MalformedJson);
    // the same message with valid text in that field decodes
    bytes[at] = b'x';
    assert!(decode(&bytes, &Limits::default()).is_ok());
}

#[test]
fn invalid_utf8_in_an_ignored_field_the_fast_path_leaves_to_serde_is_malformed() {
    // an escape in a known field sends the message to the general path
    let mut bytes =
        br#"{"type":"contact.offered","ts":1,"contact_id":"c\u0031","queue":"sales","note":"xx"}"#
            .to_vec();
    let at = bytes.len() - 4;
    bytes[at] = 0xff;
    assert_eq!(
        decode(&bytes, &Limits::default()).unwrap_err().reason,
        RejectReason::MalformedJson
    );
}
