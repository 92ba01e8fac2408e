//! The edge cases contract 1.2 settles (docs/events.md, docs/metrics.md, docs/inputs.md: "since 1.2"), each with
//! the few events that showed it: surveys placed by what came before them, e-mails that wait
//! days, the events-per-contact bound, and counters that never go down between two scrapes.

use callpulse::event::RejectReason;
use callpulse::time::{HOUR, MINUTE, SECOND};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

fn csat_total(text: &str, queue: &str) -> f64 {
    sample(
        text,
        &format!("callcenter_csat_responses_total{{queue=\"{queue}\"}}"),
    )
    .unwrap_or(0.0)
}

#[test]
fn a_survey_without_queue_stays_in_the_queue_answered_before_it_when_a_later_answer_arrives_late() {
    let t0 = at(T0);
    // short windows, so the survey's fact is final and pruned before care's answer arrives
    let cfg = config("[engine]\nwindows = [\"1m\"]\n");
    let mut engine = callpulse::engine::Engine::new(cfg.center.clone());
    let lines = [
        offered(t0, "c", "sales"),
        of(
            "c",
            t0 + 10 * SECOND,
            "contact.answered",
            json!({"agent": "ann"}),
        ),
        of(
            "c",
            t0 + MINUTE,
            "contact.transferred",
            json!({"agent": "ann", "to_queue": "care"}),
        ),
        offered(t0 + MINUTE, "c", "care"),
        of("c", t0 + 5 * MINUTE, "survey.submitted", json!({"csat": 4})),
        // another contact moves the watermark to 10:06:30
        offered(t0 + 6 * MINUTE + 30 * SECOND, "other", "care"),
    ];
    for l in &lines {
        engine.ingest(l.as_bytes()).unwrap();
    }
    engine.advance(t0 + 6 * MINUTE + 30 * SECOND);
    let before = exposition(&engine.snapshot());
    assert_eq!(csat_total(&before, "sales"), 1.0, "{before}");
    // care's answer at 10:06:00, late but within the lateness
    let late = of(
        "c",
        t0 + 6 * MINUTE,
        "contact.answered",
        json!({"agent": "bob"}),
    );
    engine.ingest(late.as_bytes()).unwrap();
    engine.advance(t0 + 7 * MINUTE);
    let after = exposition(&engine.snapshot());
    assert_eq!(
        csat_total(&after, "sales"),
        1.0,
        "a counter never goes down"
    );
    assert_eq!(csat_total(&after, "care"), 0.0, "counted once");
}

#[test]
fn a_survey_naming_a_queue_without_a_leg_or_of_a_contact_never_offered_is_rejected() {
    let t0 = at(T0);
    let lines = vec![
        offered(t0, "c", "sales"),
        answered(t0 + 5 * SECOND, "c"),
        ended(t0 + MINUTE, "c"),
        // the contact never was in care
        of(
            "c",
            t0 + 2 * MINUTE,
            "survey.submitted",
            json!({"queue": "care", "csat": 1}),
        ),
        of(
            "c",
            t0 + 2 * MINUTE,
            "survey.submitted",
            json!({"queue": "sales", "csat": 5}),
        ),
        // never offered anywhere
        of(
            "ghost",
            t0 + 2 * MINUTE,
            "survey.submitted",
            json!({"queue": "sales", "csat": 1}),
        ),
        offered(t0 + 10 * MINUTE, "later", "sales"),
    ];
    let engine = run(&config(""), &lines, t0 + 10 * MINUTE + SECOND);
    let text = exposition(&engine.snapshot());
    assert_eq!(csat_total(&text, "sales"), 1.0, "{text}");
    assert_eq!(csat_total(&text, "care"), 0.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "callcenter_csat_score{queue=\"sales\",window=\"1h\"}"
        ),
        Some(5.0)
    );
    assert_eq!(engine.stats().rejected(RejectReason::OutOfOrder), 1);
    assert_eq!(engine.stats().rejected(RejectReason::UnknownContact), 1);
}

#[test]
fn an_email_waiting_nine_hours_is_still_waiting_and_its_answer_counts() {
    let t0 = at("2026-11-23T00:00:00Z");
    let answer_at = t0 + 9 * HOUR + 16 * MINUTE;
    let mut lines = vec![of(
        "mail",
        t0,
        "contact.offered",
        json!({"queue": "support", "channel": "email"}),
    )];
    // the center's other traffic moves time on through the night
    for m in (10..9 * 60 + 16).step_by(10) {
        let call = format!("call{m}");
        lines.push(offered(t0 + m * MINUTE, &call, "sales"));
        lines.push(abandoned(t0 + m * MINUTE + 30 * SECOND, &call));
    }
    let cfg = config("");
    let engine = run(&cfg, &lines, answer_at - MINUTE);
    let snap = engine.snapshot();
    assert_eq!(queue(&snap, "support").waiting, 1, "still waits at 09:15");
    assert_eq!(engine.stats().contacts_expired, 0);

    lines.extend([
        of(
            "mail",
            answer_at,
            "contact.answered",
            json!({"agent": "ann"}),
        ),
        of(
            "mail",
            answer_at + MINUTE,
            "contact.responded",
            json!({"agent": "ann"}),
        ),
        of(
            "mail",
            answer_at + 5 * MINUTE,
            "contact.ended",
            json!({"agent": "ann"}),
        ),
        offered(answer_at + 10 * MINUTE, "tick", "sales"),
    ]);
    let end = answer_at + 10 * MINUTE + SECOND;
    let engine = run(&cfg, &lines, end);
    let text = exposition(&engine.snapshot());
    let w = window(&engine.snapshot(), "support", "today")
        .tally
        .answered;
    assert_eq!(w, 1, "{text}");
    assert_eq!(engine.stats().rejected(RejectReason::OutOfOrder), 0);
    assert_eq!(
        sample(
            &text,
            "callcenter_first_response_seconds_count{queue=\"support\",window=\"today\"}"
        ),
        Some(1.0)
    );
    // a voice contact still expires after the default 8 h
    let lines = [
        offered(t0, "stuck", "sales"),
        offered(t0 + 8 * HOUR + 2 * MINUTE, "tick", "sales"),
    ];
    let engine = run(&cfg, &lines, t0 + 8 * HOUR + 2 * MINUTE);
    assert_eq!(engine.stats().contacts_expired, 1);
}

#[test]
fn contact_timeout_is_a_queue_setting() {
    let t0 = at(T0);
    let cfg = config("[queues.backoffice]\ncontact_timeout = \"2d\"\n");
    let lines = [
        offered(t0, "slow", "backoffice"),
        offered(t0, "stuck", "sales"),
        offered(t0 + 9 * HOUR, "tick", "sales"),
    ];
    let engine = run(&cfg, &lines, t0 + 9 * HOUR + SECOND);
    let snap = engine.snapshot();
    assert_eq!(queue(&snap, "backoffice").waiting, 1);
    assert_eq!(queue(&snap, "sales").waiting, 1, "only tick");
    assert_eq!(engine.stats().contacts_expired, 1);
}

#[test]
fn the_events_per_contact_bound_never_refuses_an_end_or_a_wrapup_end() {
    let t0 = at(T0);
    let mut lines = vec![
        offered(t0, "c", "sales"),
        of("c", t0 + SECOND, "contact.answered", json!({"agent": "a1"})),
    ];
    for i in 0..1_200 {
        let kind = if i % 2 == 0 {
            "contact.held"
        } else {
            "contact.resumed"
        };
        lines.push(of("c", t0 + 2 * SECOND + i, kind, json!({"agent": "a1"})));
    }
    lines.push(of(
        "c",
        t0 + 10 * SECOND,
        "contact.ended",
        json!({"agent": "a1", "wrapup": true}),
    ));
    lines.push(of(
        "c",
        t0 + 20 * SECOND,
        "contact.wrapup_ended",
        json!({"agent": "a1"}),
    ));
    let engine = run(&config(""), &lines, t0 + MINUTE);
    let max = callpulse::engine::MAX_EVENTS_PER_CONTACT as u64;
    assert_eq!(
        engine.stats().accepted,
        max + 2,
        "the end and its wrap-up end"
    );
    assert_eq!(
        engine.stats().rejected(RejectReason::TooLarge),
        lines.len() as u64 - max - 2
    );
    let snap = engine.snapshot();
    let w = window(&snap, "sales", "1h");
    assert_eq!(w.tally.completed, 1, "the contact completes");
}

#[test]
fn one_caller_waiting_past_the_target_is_a_live_breach_whatever_min_volume() {
    let t0 = at(T0);
    let cfg = config("[defaults]\nmin_volume = 10\noldest_wait_target = \"2m\"\n");
    let engine = run(&cfg, &[offered(t0, "alone", "sales")], t0 + 3 * MINUTE);
    let text = exposition(&engine.snapshot());
    let breach = "callcenter_breach{queue=\"sales\",kpi=\"oldest_wait\",window=\"now\"}";
    assert_eq!(sample(&text, breach), Some(1.0), "{text}");
    let engine = run(&cfg, &[offered(t0, "alone", "sales")], t0 + MINUTE);
    assert_eq!(sample(&exposition(&engine.snapshot()), breach), Some(0.0));
}
