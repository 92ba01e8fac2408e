//! docs/metrics.md "First response" and first-contact resolution on hand-made histories: which
//! legs respond when, the window a first response or a resolution counts in, the
//! `first_response` breach only where a target is set, and arrival order changing nothing.

use callpulse::kpi::Measure;
use callpulse::time::{Millis, MINUTE, SECOND};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

fn offer(c: &str, ts: Millis, queue: &str, channel: &str) -> String {
    of(
        c,
        ts,
        "contact.offered",
        json!({"queue": queue, "channel": channel}),
    )
}

/// Five legs in `desk`, offered at T0:
/// - a voice call answered after 20 s (responds at its answer, 20 s; a later responded on it
///   changes nothing);
/// - a chat answered after 30 s whose first reply comes at 90 s (a second reply is ignored);
/// - an e-mail answered after 60 s with no reply: no first response;
/// - a callback answered after 40 s: responds at its answer;
/// - a chat abandoned: no first response.
///
/// In time order (the legs interleave).
fn history(t0: Millis) -> Vec<String> {
    let s = SECOND;
    let lines = vec![
        offer("v", t0, "desk", "voice"),
        of("v", t0 + 20 * s, "contact.answered", json!({"agent": "a1"})),
        of(
            "v",
            t0 + 50 * s,
            "contact.responded",
            json!({"agent": "a1"}),
        ),
        of(
            "v",
            t0 + 70 * s,
            "contact.ended",
            json!({"agent": "a1", "resolved": true}),
        ),
        offer("c", t0, "desk", "chat"),
        of("c", t0 + 30 * s, "contact.answered", json!({"agent": "a2"})),
        of(
            "c",
            t0 + 90 * s,
            "contact.responded",
            json!({"agent": "a2"}),
        ),
        of(
            "c",
            t0 + 95 * s,
            "contact.responded",
            json!({"agent": "a2"}),
        ),
        of(
            "c",
            t0 + 120 * s,
            "contact.ended",
            json!({"agent": "a2", "resolved": false, "wrapup": true}),
        ),
        of(
            "c",
            t0 + 180 * s,
            "contact.wrapup_ended",
            json!({"agent": "a2"}),
        ),
        offer("e", t0, "desk", "email"),
        of("e", t0 + 60 * s, "contact.answered", json!({"agent": "a3"})),
        // no `resolved`: not reported
        of("e", t0 + 100 * s, "contact.ended", json!({"agent": "a3"})),
        offer("k", t0, "desk", "callback"),
        of("k", t0 + 40 * s, "contact.answered", json!({"agent": "a4"})),
        // a transfer reports no resolution
        of(
            "k",
            t0 + 80 * s,
            "contact.transferred",
            json!({"agent": "a4", "to_agent": "sup"}),
        ),
        offer("x", t0, "desk", "chat"),
        of("x", t0 + 10 * s, "contact.abandoned", json!({})),
    ];
    sorted_by_ts(&lines)
}

#[test]
fn first_responses_are_the_answer_for_calls_and_the_first_reply_for_written_channels() {
    let t0 = at(T0);
    let engine = run(&config(""), &history(t0), t0 + 10 * MINUTE);
    let snap = engine.snapshot();
    let w = window(&snap, "desk", "15m");
    let d = w.dist(Measure::FirstResponse);
    // voice 20 s, chat 90 s, callback 40 s
    assert_eq!((d.count(), d.sum_ms()), (3, 150_000));
    assert_eq!(w.first_response(), Some(50.0));
    let text = exposition(&snap);
    assert_eq!(
        sample(
            &text,
            "callcenter_first_response_seconds_count{queue=\"desk\",window=\"15m\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            "callcenter_first_response_seconds_sum{queue=\"desk\",window=\"15m\"}"
        ),
        Some(150.0)
    );
    // resolution: the voice call (resolved) and the chat (not); the e-mail reported none, the
    // callback was transferred
    let t = &w.tally;
    assert_eq!((t.resolution_reported, t.resolved), (2, 1));
    assert_eq!(
        sample(&text, "callcenter_fcr_ratio{queue=\"desk\",window=\"15m\"}"),
        Some(0.5)
    );
    assert_eq!(
        sample(&text, "callcenter_contacts_resolved_total{queue=\"desk\"}"),
        Some(1.0),
        "final after the lateness: a counter for rate()"
    );
    // no target: no first_response breach series, no target gauge
    assert!(!text.contains("kpi=\"first_response\""));
    assert!(!text.contains("callcenter_first_response_target_seconds{"));
    assert_eq!(engine.stats().rejected_total(), 0);
}

#[test]
fn a_first_response_and_a_resolution_count_in_the_window_of_their_own_instant() {
    let t0 = at(T0);
    // evaluated 5 m 40 s after the offers: the 5m window starts at 0:40 — after the voice
    // call's answer (0:20) and its end (1:10 is inside), after the callback's answer (0:40 is
    // the start, inside); the chat's reply (1:30) and its completion (3:00) are inside
    let engine = run(&config(""), &history(t0), t0 + 5 * MINUTE + 40 * SECOND);
    let snap = engine.snapshot();
    let w = window(&snap, "desk", "5m");
    let d = w.dist(Measure::FirstResponse);
    assert_eq!(
        (d.count(), d.sum_ms()),
        (2, 130_000),
        "chat 90 s, callback 40 s"
    );
    let t = &w.tally;
    assert_eq!((t.resolution_reported, t.resolved), (2, 1));
    // 6 m 30 s after: the voice call ended at 1:10, outside; the chat completed at 3:00
    let engine = run(&config(""), &history(t0), t0 + 6 * MINUTE + 30 * SECOND);
    let snap = engine.snapshot();
    let t = &window(&snap, "desk", "5m").tally;
    assert_eq!((t.resolution_reported, t.resolved), (1, 0));
}

#[test]
fn the_first_response_breach_needs_a_target_and_min_volume() {
    let t0 = at(T0);
    let mut lines = Vec::new();
    for i in 0..4 {
        let c = format!("chat{i}");
        lines.push(offer(&c, t0, "desk", "chat"));
        lines.push(of(
            &c,
            t0 + 5 * SECOND,
            "contact.answered",
            json!({"agent": "a"}),
        ));
        lines.push(of(
            &c,
            t0 + 200 * SECOND,
            "contact.responded",
            json!({"agent": "a"}),
        ));
    }
    let lines = sorted_by_ts(&lines);
    let now = t0 + 10 * MINUTE;
    let target = "[queues.desk]\nfirst_response_target = \"2m\"\nmin_volume = ";
    let breach = "callcenter_breach{queue=\"desk\",kpi=\"first_response\",window=\"15m\"}";
    let text = exposition(&run(&config(&format!("{target}4\n")), &lines, now).snapshot());
    assert_eq!(sample(&text, breach), Some(1.0), "mean 200 s > 2 m");
    assert_eq!(
        sample(
            &text,
            "callcenter_first_response_target_seconds{queue=\"desk\"}"
        ),
        Some(120.0)
    );
    let text = exposition(&run(&config(&format!("{target}5\n")), &lines, now).snapshot());
    assert_eq!(
        sample(&text, breach),
        Some(0.0),
        "4 responses < min_volume 5"
    );
}

#[test]
fn a_reply_arriving_before_its_answer_and_offer_gives_the_same_numbers() {
    let t0 = at(T0);
    let cfg = config("[engine]\nallowed_lateness = \"10m\"\n");
    let in_order = history(t0);
    let mut reversed = in_order.clone();
    reversed.reverse();
    let now = t0 + 10 * MINUTE;
    let a = exposition(&run(&cfg, &in_order, now).snapshot());
    let b = exposition(&run(&cfg, &reversed, now).snapshot());
    assert_eq!(a, b);
}
