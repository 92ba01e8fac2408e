//! Unit tests of the `taskrouter` adapter: the three spellings, the settings (abandon reasons,
//! activities, default channel, sids), the wrap-up pairing and the checkpoint of its memory.

use serde_json::{json, Value};

use super::*;
use crate::input::callpulse::decode;

const T: Millis = 1_795_428_000_000;

/// An Event Streams CloudEvent of `kind` at `T + ms`.
fn cloud(kind: &str, ms: i64, sid: u32, payload: Value) -> String {
    let mut payload = payload;
    if let Some(p) = payload.as_object_mut() {
        p.insert("sid".into(), json!(format!("EV{sid:032}")));
        p.insert("timestamp".into(), json!(T + ms));
    }
    json!({
        "specversion": "1.0",
        "type": format!("com.twilio.taskrouter.{kind}"),
        "id": format!("EV{sid:032}"),
        "data": {"payload": payload},
    })
    .to_string()
}

fn task(sid: &str, queue: &str, channel: &str) -> Value {
    json!({
        "task_sid": sid,
        "task_queue_name": queue,
        "task_queue_sid": format!("WQ-{queue}"),
        "task_channel_unique_name": channel,
        "task_attributes": "{\"call_sid\":\"CA1\",\"from\":\"+15550100\"}",
    })
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn run_with(adapter: &mut Taskrouter, records: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for r in records {
        adapter
            .map(r.as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    out.iter()
        .map(|e| {
            decode(e.as_bytes(), &Limits::default()).unwrap_or_else(|r| panic!("{e}: {r}"));
            serde_json::from_str(e).unwrap_or_else(|_| panic!("{e}"))
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn cancel_reasons_abandon_only_when_listed() {
    let cancel = |sid, reason: &str| {
        cloud(
            "task.canceled",
            1_000,
            sid,
            with(
                task("WT1", "q", "voice"),
                json!({"task_canceled_reason": reason}),
            ),
        )
    };
    let records = [cancel(1, "hangup"), cancel(2, "Task TTL Exceeded")];
    let events = run_with(
        &mut Taskrouter::new(TaskrouterSettings::default()),
        &records,
    );
    assert_eq!(types(&events), ["contact.abandoned", "contact.overflowed"]);
    let settings = TaskrouterSettings {
        abandon_reasons: vec!["hangup".into(), "Task TTL Exceeded".into()],
        ..TaskrouterSettings::default()
    };
    let events = run_with(&mut Taskrouter::new(settings), &records);
    assert_eq!(types(&events), ["contact.abandoned", "contact.abandoned"]);
}

#[test]
fn activities_follow_flex_defaults_unless_configured() {
    let activity = |sid, ms, name: &str| {
        cloud(
            "worker.activity.update",
            ms,
            sid,
            json!({"worker_name": "w", "worker_sid": "WK1", "worker_activity_name": name}),
        )
    };
    let records = [
        activity(1, 0, "Available"),
        activity(2, 1_000, "Lunch"),
        activity(3, 2_000, "Reserved"),
        activity(4, 3_000, "Offline"),
        activity(5, 4_000, "Training"),
    ];
    let states = |events: &[Value]| -> Vec<(String, String)> {
        events
            .iter()
            .map(|e| {
                (
                    e["state"].as_str().unwrap_or_default().to_owned(),
                    e["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let events = run_with(
        &mut Taskrouter::new(TaskrouterSettings::default()),
        &records,
    );
    assert_eq!(
        states(&events),
        [
            ("available".into(), "".into()),
            ("not_ready".into(), "Lunch".into()),
            ("available".into(), "".into()),
            ("logged_out".into(), "".into()),
            ("not_ready".into(), "Training".into()),
        ]
    );
    let settings = TaskrouterSettings {
        activities: [("Training".to_owned(), ActivityState::Available)].into(),
        identities: Identities::Sids,
        ..TaskrouterSettings::default()
    };
    let events = run_with(&mut Taskrouter::new(settings), &records[4..]);
    assert_eq!(events[0]["state"], "available");
    assert_eq!(events[0]["agent"], "WK1");
}

#[test]
fn channels_map_and_default_is_configurable() {
    let entered =
        |sid, channel: &str| cloud("task-queue.entered", 0, sid, task("WT1", "q", channel));
    let records = [
        entered(1, "voice"),
        entered(2, "sms"),
        entered(3, "email"),
        entered(4, "default"),
    ];
    let channels = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["channel"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let events = run_with(
        &mut Taskrouter::new(TaskrouterSettings::default()),
        &records,
    );
    assert_eq!(channels(&events), ["voice", "chat", "email", "voice"]);
    let settings = TaskrouterSettings {
        default_channel: DefaultChannel::Chat,
        identities: Identities::Sids,
        ..TaskrouterSettings::default()
    };
    let events = run_with(&mut Taskrouter::new(settings), &records[3..]);
    assert_eq!(channels(&events), ["chat"]);
    assert_eq!(events[0]["queue"], "WQ-q");
    assert_eq!(events[0]["contact_id"], "CA1");
    assert_eq!(events[0]["customer"], "+15550100");
}

#[test]
fn a_completion_without_wrapup_ends_the_conversation_there_and_the_memory_survives_a_checkpoint() {
    let w = json!({"worker_name": "w"});
    let first = [
        cloud("task-queue.entered", 0, 1, task("WT1", "q", "voice")),
        cloud(
            "reservation.accepted",
            1_000,
            2,
            with(task("WT1", "q", "voice"), w.clone()),
        ),
    ];
    let rest = [
        cloud("task.completed", 9_000, 3, task("WT1", "q", "voice")),
        cloud(
            "reservation.completed",
            9_001,
            4,
            with(task("WT1", "q", "voice"), w),
        ),
    ];
    let mut before = Taskrouter::new(TaskrouterSettings::default());
    run_with(&mut before, &first);
    let saved = before.save_state().expect("saved");
    let mut after = Taskrouter::new(TaskrouterSettings::default());
    after.restore_state(&saved).expect("restored");
    let events = run_with(&mut after, &rest);
    assert_eq!(types(&events), ["contact.ended", "agent.state"]);
    assert_eq!(events[0]["wrapup"], false);
    assert_eq!(events[0]["agent"], "w");
    assert_eq!(events[1]["state"], "available");
}

#[test]
fn a_webhook_array_is_several_records() {
    let one = cloud("task-queue.entered", 0, 1, task("WT1", "q", "voice"));
    let array = format!("[{one},{one}]");
    let parts = Taskrouter::records(array.as_bytes()).expect("an array");
    assert_eq!(parts.len(), 2);
    assert!(Taskrouter::records(one.as_bytes()).is_none());
}

/// (ms after T, state, reason) of the `agent.state` events.
fn timed_states(events: &[Value]) -> Vec<(i64, String, String)> {
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

#[test]
fn a_late_activity_update_takes_its_own_time_and_never_overwrites_a_newer_one() {
    let activity = |sid, ms, name: &str| {
        cloud(
            "worker.activity.update",
            ms,
            sid,
            json!({"worker_name": "w", "worker_activity_name": name}),
        )
    };
    let w = json!({"worker_name": "w"});
    // in time order: Lunch at 1 s, Available at 5 s, a task from 8 s to 20 s. Delivered: the
    // Available first, the Lunch after it.
    let records = [
        activity(2, 5_000, "Available"),
        activity(1, 1_000, "Lunch"),
        cloud("task-queue.entered", 7_000, 3, task("WT1", "q", "voice")),
        cloud(
            "reservation.accepted",
            8_000,
            4,
            with(task("WT1", "q", "voice"), w.clone()),
        ),
        cloud(
            "task.completed",
            20_000,
            5,
            with(task("WT1", "q", "voice"), w.clone()),
        ),
        // late again, but a task came after it: which came first is not known, it says nothing
        activity(6, 3_000, "Break"),
        // newer than the newest update but older than the task's end, delivered after it: in
        // force after the task for sure
        activity(7, 15_000, "Lunch"),
    ];
    let events = run_with(
        &mut Taskrouter::new(TaskrouterSettings::default()),
        &records,
    );
    assert_eq!(
        timed_states(&events),
        [
            (5_000, "available".into(), "".into()),
            (1_000, "not_ready".into(), "Lunch".into()),
            (5_000, "available".into(), "".into()),
            (8_000, "busy".into(), "".into()),
            // back to the newer activity, not to the late Lunch
            (20_000, "available".into(), "".into()),
            (20_000, "not_ready".into(), "Lunch".into()),
        ]
    );
    let ids: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "ids are unique");
}

#[test]
fn configured_agent_queues_go_out_with_the_first_activity_state() {
    let settings = TaskrouterSettings {
        agent_queues: [(
            "w".to_owned(),
            vec!["Sales".to_owned(), "Support".to_owned()],
        )]
        .into(),
        ..TaskrouterSettings::default()
    };
    let events = run_with(
        &mut Taskrouter::new(settings),
        &[cloud(
            "worker.activity.update",
            0,
            1,
            json!({"worker_name": "w", "worker_activity_name": "Available"}),
        )],
    );
    assert_eq!(events[0]["state"], "available");
    assert_eq!(events[0]["queues"], json!(["Sales", "Support"]));
}
