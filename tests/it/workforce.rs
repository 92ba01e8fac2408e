//! The workforce KPIs (docs/metrics.md) end to end through ingest and export: agent-seconds by
//! state and occupancy on a hand-made history, worked out by hand below; the same history in
//! reverse within the lateness; partitions summed by the snapshot merge.

use callpulse::export::to_json;
use callpulse::snapshot::Snapshot;
use callpulse::time::{Millis, MINUTE};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";
const CONFIG: &str =
    "[engine]\nwindows = [\"5m\", \"15m\"]\nallowed_lateness = \"30m\"\n[queues.idle]\n";

fn state(at: Millis, agent: &str, state: &str, queues: Option<&[&str]>) -> String {
    let mut f = json!({ "agent": agent, "state": state });
    if let Some(q) = queues {
        f["queues"] = json!(q);
    }
    ev(at, "agent.state", f)
}

/// a1 serves sales and care: available 09:50, busy 10:02, wrap-up 10:06, available 10:07,
/// logged out 10:10. a2 serves sales: not ready 09:58, available 10:01; busy 10:05 now serving
/// care only; available 10:12 (= now: counts nowhere yet). a3 never names a queue.
fn history() -> Vec<String> {
    let m = |min: i64| at(T0) + min * MINUTE;
    let both: &[&str] = &["sales", "care"];
    vec![
        state(m(-10), "a1", "available", Some(both)),
        state(m(-2), "a2", "not_ready", Some(&["sales"])),
        state(m(1), "a2", "available", None),
        state(m(2), "a1", "busy", None),
        state(m(3), "a3", "available", None),
        state(m(5), "a2", "busy", Some(&["care"])),
        state(m(6), "a1", "wrapup", None),
        state(m(7), "a1", "available", None),
        state(m(10), "a1", "logged_out", None),
        state(m(12), "a2", "available", None),
    ]
}

fn now() -> Millis {
    at(T0) + 12 * MINUTE
}

/// Every agent-seconds sample and occupancy of `queue` in `window`: (available, not_ready,
/// busy, wrapup, occupancy).
fn workforce(text: &str, queue: &str, window: &str) -> (f64, f64, f64, f64, Option<f64>) {
    let s = |state: &str| {
        sample(
            text,
            &format!("callcenter_agent_seconds{{queue=\"{queue}\",window=\"{window}\",state=\"{state}\"}}"),
        )
        .unwrap_or_else(|| panic!("no agent_seconds {queue} {window} {state}"))
    };
    let occupancy = sample(
        text,
        &format!("callcenter_occupancy_ratio{{queue=\"{queue}\",window=\"{window}\"}}"),
    );
    (
        s("available"),
        s("not_ready"),
        s("busy"),
        s("wrapup"),
        occupancy,
    )
}

#[test]
fn agent_seconds_and_occupancy_of_a_hand_made_history() {
    let cfg = config(CONFIG);
    let snap = run(&cfg, &history(), now()).snapshot();
    let text = exposition(&snap);
    // sales, 5m = [10:07, 10:12): a1 available 10:07-10:10; a2 has moved to care
    assert_eq!(
        workforce(&text, "sales", "5m"),
        (180.0, 0.0, 0.0, 0.0, Some(0.0))
    );
    // sales, 15m = [09:57, 10:12): a1 available 09:57-10:02 and 10:07-10:10 (300 + 180),
    // busy 10:02-10:06, wrap-up 10:06-10:07; a2 not ready 09:58-10:01, available 10:01-10:05
    let (avail, busy, wrapup) = (300.0 + 180.0 + 240.0, 240.0, 60.0);
    assert_eq!(
        workforce(&text, "sales", "15m"),
        (
            avail,
            180.0,
            busy,
            wrapup,
            Some((busy + wrapup) / (avail + busy + wrapup))
        )
    );
    // interval = [10:00, 10:12): a1 available 120 + 180; a2 not ready 60, available 240
    assert_eq!(
        workforce(&text, "sales", "interval"),
        (540.0, 60.0, 240.0, 60.0, Some(300.0 / 840.0))
    );
    // today = [00:00, 10:12): a1 available 09:50-10:02 (720) + 180
    assert_eq!(
        workforce(&text, "sales", "today"),
        (1140.0, 180.0, 240.0, 60.0, Some(300.0 / 1440.0))
    );
    // care: a1 as in sales, and a2 busy from 10:05 (its state change at now counts nowhere)
    assert_eq!(
        workforce(&text, "care", "5m"),
        (180.0, 0.0, 300.0, 0.0, Some(300.0 / 480.0))
    );
    assert_eq!(
        workforce(&text, "care", "15m"),
        (480.0, 0.0, 240.0 + 420.0, 60.0, Some(720.0 / 1200.0))
    );
    assert_eq!(
        workforce(&text, "care", "interval"),
        (300.0, 0.0, 660.0, 60.0, Some(720.0 / 1020.0))
    );
    assert_eq!(
        workforce(&text, "care", "today"),
        (900.0, 0.0, 660.0, 60.0, Some(720.0 / 1620.0))
    );
    // a queue nobody serves: every state exported as 0, no occupancy
    assert_eq!(workforce(&text, "idle", "15m"), (0.0, 0.0, 0.0, 0.0, None));
    assert!(text.contains("# TYPE callcenter_agent_seconds gauge\n"));
    assert!(text.contains("# TYPE callcenter_occupancy_ratio gauge\n"));

    // the JSON snapshot says the same
    let j = to_json(&snap);
    let w = &j["queues"]["care"]["windows"]["5m"];
    assert_eq!(
        w["agent_seconds"],
        json!({"available": 180.0, "not_ready": 0.0, "busy": 300.0, "wrapup": 0.0})
    );
    assert_eq!(w["occupancy_ratio"], json!(0.625));
    assert_eq!(
        j["queues"]["idle"]["windows"]["today"]["occupancy_ratio"],
        json!(null)
    );
}

#[test]
fn the_history_in_reverse_within_the_lateness_gives_the_same_numbers() {
    let cfg = config(CONFIG);
    let mut reversed = history();
    reversed.reverse();
    let in_order = exposition(&run(&cfg, &history(), now()).snapshot());
    let late = exposition(&run(&cfg, &reversed, now()).snapshot());
    assert_eq!(late, in_order);
    assert!(in_order
        .contains("callcenter_agent_seconds{queue=\"care\",window=\"5m\",state=\"busy\"} 300\n"));
}

#[test]
fn partitions_sum_in_the_merged_snapshot() {
    let cfg = config(CONFIG);
    let (a1, rest): (Vec<String>, Vec<String>) =
        history().into_iter().partition(|l| l.contains("\"a1\""));
    let merged = Snapshot::merge(&[
        run(&cfg, &a1, now()).snapshot(),
        run(&cfg, &rest, now()).snapshot(),
    ]);
    let whole = run(&cfg, &history(), now()).snapshot();
    assert_eq!(exposition(&merged), exposition(&whole));
    assert_eq!(
        workforce(&exposition(&merged), "care", "15m"),
        (480.0, 0.0, 660.0, 60.0, Some(720.0 / 1200.0))
    );
}
