//! The `connect` adapter on single records: each spelling AWS has published, rejects with the
//! usual reasons, queue naming and the mapping of agent snapshots.

use serde_json::{json, Value};

use super::*;

const INST: &str = "arn:aws:connect:eu-west-1:111122223333:instance/9b1f0c2e";

fn map(record: &Value) -> (Result<&'static str, Reject>, Vec<Value>) {
    map_with(ConnectSettings::default(), record)
}

fn map_with(
    settings: ConnectSettings,
    record: &Value,
) -> (Result<&'static str, Reject>, Vec<Value>) {
    let mut out = Vec::new();
    let kind = Connect::new(settings).map(record.to_string().as_bytes(), &mut out);
    let events = out
        .iter()
        .map(|e| serde_json::from_str(e).expect("events.md JSON"))
        .collect();
    (kind, events)
}

fn reason(bytes: &[u8]) -> RejectReason {
    Connect::default()
        .map(bytes, &mut Vec::new())
        .expect_err("rejected")
        .reason
}

#[test]
fn malformed_records_are_rejected_with_the_usual_reasons() {
    assert_eq!(reason(b"not json"), RejectReason::MalformedJson);
    assert_eq!(reason(b"[1,2]"), RejectReason::MalformedJson);
    assert_eq!(reason(br#"{"hello":"world"}"#), RejectReason::UnknownType);
    assert_eq!(
        reason(&vec![b' '; 70 * 1024]),
        RejectReason::TooLarge,
        "over the message limit"
    );
    let queued = json!({"eventType": "QUEUED", "contactId": "c1",
        "queueInfo": {"queueArn": format!("{INST}/queue/q1"), "enqueueTimestamp": "soon"}});
    assert_eq!(
        reason(queued.to_string().as_bytes()),
        RejectReason::BadTimestamp
    );
    let no_time = json!({"eventType": "QUEUED", "contactId": "c1",
        "queueInfo": {"queueArn": format!("{INST}/queue/q1")}});
    assert_eq!(
        reason(no_time.to_string().as_bytes()),
        RejectReason::MissingField
    );
    let agent = json!({"EventType": "STATE_CHANGE", "AgentARN": format!("{INST}/agent/a1")});
    assert_eq!(
        reason(agent.to_string().as_bytes()),
        RejectReason::MissingField
    );
}

#[test]
fn the_2021_pascal_case_spelling_of_a_contact_event_maps_like_the_current_one() {
    let current = json!({"detail-type": "Amazon Connect Contact Event", "time": "2026-11-23T10:00:19Z",
        "detail": {"eventType": "CONNECTED_TO_AGENT", "contactId": "c1", "channel": "VOICE",
            "agentInfo": {"agentArn": format!("{INST}/agent/a1"),
                "connectedToAgentTimestamp": "2026-11-23T10:00:18.000Z"},
            "queueInfo": {"queueArn": format!("{INST}/queue/q1"),
                "enqueueTimestamp": "2026-11-23T10:00:10.000Z"}}});
    let old = json!({"EventType": "CONNECTED_TO_AGENT", "ContactId": "c1", "Channel": "Voice",
        "AgentInfo": {"AgentArn": format!("{INST}/agent/a1"),
            "ConnectedToAgentTimestamp": "2026-11-23T10:00:18Z"},
        "QueueInfo": {"QueueArn": format!("{INST}/queue/q1"),
            "EnqueueTimestamp": "2026-11-23T10:00:10Z"}});
    let (kind, a) = map(&current);
    assert_eq!(kind, Ok("contact_event_connected_to_agent"));
    let (_, b) = map(&old);
    assert_eq!(a, b);
    assert_eq!(
        a,
        vec![
            json!({"id": "cx-c1-answered", "type": "contact.answered", "ts": 1_795_428_018_000_i64,
            "contact_id": "c1", "queue": "q1", "agent": "a1"})
        ]
    );
}

#[test]
fn queues_are_named_by_the_settings_else_by_their_id_and_agent_queues_are_skipped() {
    let queued = |queue: &str| {
        json!({"eventType": "QUEUED", "contactId": "c1", "initialContactId": "c0", "channel": "TASK",
            "queueInfo": {"queueArn": format!("{INST}/queue/{queue}"),
                "enqueueTimestamp": "2026-11-23T10:00:10.000Z"}})
    };
    let (_, events) = map(&queued("q1"));
    assert_eq!(events[0]["queue"], "q1");
    assert_eq!(
        events[0]["contact_id"], "c0",
        "the initial contact is the contact"
    );
    assert_eq!(
        events[0]["channel"], "email",
        "a task is worked like an e-mail"
    );
    let named = ConnectSettings {
        queue_names: [("q1".to_owned(), "billing".to_owned())].into(),
    };
    let (_, events) = map_with(named, &queued("q1"));
    assert_eq!(events[0]["queue"], "billing");
    let (kind, events) = map(&queued("agent/a7"));
    assert_eq!((kind, events.len()), (Ok("contact_event_queued"), 0));
}

fn agent_record(kind: &str, status: Value, contacts: Value) -> Value {
    json!({"AgentARN": format!("{INST}/agent/a1"), "EventId": "e1", "EventType": kind,
        "EventTimestamp": "2026-11-23T10:00:00.250Z",
        "CurrentAgentSnapshot": {"AgentStatus": status, "Contacts": contacts,
            "Configuration": {"RoutingProfile": {"InboundQueues": [
                {"ARN": format!("{INST}/queue/q2"), "Name": "Two", "Channels": ["VOICE"]},
                {"ARN": format!("{INST}/queue/q1"), "Name": "One", "Channels": ["CHAT"]},
                {"ARN": format!("{INST}/queue/agent/a1"), "Name": null}]}}}})
}

#[test]
fn agent_snapshots_map_onto_one_state_with_the_routing_profile_queues() {
    let available = json!({"Name": "Available", "Type": "ROUTABLE"});
    let contact = |state: &str| json!([{"ContactId": "c1", "State": state}]);
    let cases = [
        (
            "STATE_CHANGE",
            available.clone(),
            json!([]),
            "available",
            None,
        ),
        (
            "STATE_CHANGE",
            available.clone(),
            contact("CONNECTING"),
            "available",
            None,
        ),
        (
            "STATE_CHANGE",
            available.clone(),
            contact("CONNECTED"),
            "busy",
            None,
        ),
        (
            "HEART_BEAT",
            available.clone(),
            contact("CONNECTED_ONHOLD"),
            "busy",
            None,
        ),
        (
            "STATE_CHANGE",
            available.clone(),
            contact("ENDED"),
            "wrapup",
            None,
        ),
        (
            "STATE_CHANGE",
            json!({"Name": "Lunch", "Type": "CUSTOM"}),
            json!([]),
            "not_ready",
            Some("Lunch"),
        ),
        (
            "STATE_CHANGE",
            json!({"Name": "Offline", "Type": "OFFLINE"}),
            json!([]),
            "logged_out",
            None,
        ),
        // the docs' samples carry no Type: the status name decides
        (
            "STATE_CHANGE",
            json!({"Name": "Available"}),
            json!([]),
            "available",
            None,
        ),
        (
            "STATE_CHANGE",
            json!({"Name": "Offline"}),
            json!([]),
            "logged_out",
            None,
        ),
        ("LOGOUT", available.clone(), json!([]), "logged_out", None),
    ];
    for (kind, status, contacts, state, reason) in cases {
        let (_, events) = map(&agent_record(kind, status, contacts.clone()));
        let e = &events[0];
        assert_eq!(e["type"], "agent.state");
        assert_eq!(e["state"], state, "{kind} {contacts}");
        assert_eq!(e["reason"].as_str(), reason);
        assert_eq!(e["agent"], "a1");
        assert_eq!(e["ts"], 1_795_428_000_250_i64);
        assert_eq!(
            e["queues"],
            json!(["One", "Two"]),
            "named by the routing profile"
        );
    }
}

#[test]
fn a_record_that_is_not_a_contact_event_or_of_no_queue_maps_to_nothing() {
    let lens = json!({"detail-type": "Contact Lens Realtime Rules Matched", "detail": {}});
    assert_eq!(map(&lens), (Ok("eventbridge_other"), vec![]));
    let updated = json!({"eventType": "CONTACT_DATA_UPDATED", "contactId": "c1"});
    assert_eq!(map(&updated), (Ok("contact_event_other"), vec![]));
    let outbound = json!({"eventType": "CONNECTED_TO_AGENT", "contactId": "c1",
        "initiationMethod": "OUTBOUND", "agentInfo": {"agentArn": format!("{INST}/agent/a1"),
            "connectedToAgentTimestamp": "2026-11-23T10:00:18.000Z"}});
    assert_eq!(
        map(&outbound),
        (Ok("contact_event_connected_to_agent"), vec![])
    );
    let ctr_without_queue = json!({"ContactId": "c1", "Channel": "VOICE", "Queue": null,
        "DisconnectTimestamp": "2026-11-23T10:00:18Z"});
    assert_eq!(map(&ctr_without_queue), (Ok("contact_record"), vec![]));
}

#[test]
fn a_contact_record_disconnected_by_routing_is_an_overflow_and_by_the_customer_an_abandon() {
    let ctr = |reason: Value, next: Value| {
        json!({"ContactId": "c1", "Channel": "CHAT", "InitiationMethod": "API",
            "DisconnectReason": reason, "NextContactId": next,
            "DisconnectTimestamp": "2026-11-23T10:01:00Z",
            "Queue": {"ARN": format!("{INST}/queue/q1"), "EnqueueTimestamp": "2026-11-23T10:00:00Z",
                "DequeueTimestamp": "2026-11-23T10:00:50Z"}})
    };
    let outcome = |v: Value| {
        let (_, events) = map(&v);
        assert_eq!(events[0]["channel"], "chat");
        assert_eq!(
            events[1]["ts"], 1_795_428_050_000_i64,
            "left the queue at dequeue"
        );
        events[1]["type"].as_str().map(str::to_owned)
    };
    assert_eq!(
        outcome(ctr(json!("CUSTOMER_DISCONNECT"), Value::Null)).as_deref(),
        Some("contact.abandoned")
    );
    assert_eq!(
        outcome(ctr(json!("CONTACT_FLOW_DISCONNECT"), Value::Null)).as_deref(),
        Some("contact.overflowed")
    );
    // a record before 2021 has no DisconnectReason: a queued contact no agent reached
    assert_eq!(
        outcome(ctr(Value::Null, Value::Null)).as_deref(),
        Some("contact.abandoned")
    );
    assert_eq!(
        outcome(ctr(json!("CUSTOMER_DISCONNECT"), json!("c2"))).as_deref(),
        Some("contact.overflowed")
    );
}

#[test]
fn the_queue_labels_a_stream_gave_survive_a_checkpoint() {
    let ctr = json!({"ContactId": "c1", "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "DisconnectReason": "CUSTOMER_DISCONNECT", "DisconnectTimestamp": "2026-11-23T10:01:00Z",
        "Queue": {"ARN": format!("{INST}/queue/q1"), "Name": "Sales",
            "EnqueueTimestamp": "2026-11-23T10:00:00Z", "DequeueTimestamp": "2026-11-23T10:00:50Z"}});
    let queued = json!({"eventType": "QUEUED", "contactId": "c2", "channel": "VOICE",
        "queueInfo": {"queueArn": format!("{INST}/queue/q1"),
            "enqueueTimestamp": "2026-11-23T10:02:00.000Z"}});
    let mut before = Connect::new(ConnectSettings::default());
    before
        .map(ctr.to_string().as_bytes(), &mut Vec::new())
        .expect("mapped");
    let saved = before.save_state().expect("saved");

    let mut after = Connect::new(ConnectSettings::default());
    after.restore_state(&saved).expect("restored");
    let mut out = Vec::new();
    after
        .map(queued.to_string().as_bytes(), &mut out)
        .expect("mapped");
    assert!(out[0].contains("\"queue\":\"Sales\""), "{out:?}");
    // a checkpoint written before labels were remembered holds nothing for this input
    let mut old = Connect::new(ConnectSettings::default());
    old.restore_state(&[]).expect("restored");
    let mut out = Vec::new();
    old.map(queued.to_string().as_bytes(), &mut out)
        .expect("mapped");
    assert!(out[0].contains("\"queue\":\"q1\""), "{out:?}");
}

#[test]
fn an_api_voice_call_is_outbound_and_an_api_chat_or_task_is_a_queue_contact() {
    let queued = |channel: &str, method: &str| {
        json!({"eventType": "QUEUED", "contactId": "c1", "channel": channel,
            "initiationMethod": method,
            "queueInfo": {"queueArn": format!("{INST}/queue/q1"),
                "enqueueTimestamp": "2026-11-23T10:02:00.000Z"}})
    };
    for (channel, method, events) in [
        ("VOICE", "API", 0),
        ("VOICE", "OUTBOUND", 0),
        ("VOICE", "EXTERNAL_OUTBOUND", 0),
        ("CHAT", "API", 1),
        ("TASK", "API", 1),
        ("VOICE", "INBOUND", 1),
        ("VOICE", "CALLBACK", 1),
        ("VOICE", "TRANSFER", 1),
    ] {
        let (kind, out) = map(&queued(channel, method));
        assert_eq!(kind, Ok("contact_event_queued"));
        assert_eq!(out.len(), events, "{channel} {method}");
    }
}

#[test]
fn a_history_calls_a_queue_no_record_named_by_its_id_at_the_end_and_bounds_what_waits() {
    let queued = |contact: usize| {
        json!({"eventType": "QUEUED", "contactId": format!("c{contact}"), "channel": "VOICE",
            "queueInfo": {"queueArn": format!("{INST}/queue/q9"),
                "enqueueTimestamp": "2026-11-23T10:02:00.000Z"}})
        .to_string()
    };
    let mut history = Connect::history(ConnectSettings::default());
    let mut out = Vec::new();
    history.map(queued(0).as_bytes(), &mut out).expect("mapped");
    assert!(out.is_empty(), "it waits for a name");
    history.flush(&mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("\"queue\":\"q9\""), "{out:?}");

    // past the bound the waiting queue is called by its id and its records go out
    let mut history = Connect::history(ConnectSettings::default());
    let mut out = Vec::new();
    for contact in 0..=MAX_WAITING {
        history
            .map(queued(contact).as_bytes(), &mut out)
            .expect("mapped");
    }
    assert_eq!(out.len(), MAX_WAITING + 1);
    assert_eq!(history.waiting_records, 0);
    // and the next record of that queue goes out at once
    history
        .map(queued(MAX_WAITING + 1).as_bytes(), &mut out)
        .expect("mapped");
    assert_eq!(out.len(), MAX_WAITING + 2);
}
