//! Legs (docs/events.md): each event of a contact that visits several queues lands on the queue
//! visit it continues, whatever the arrival order within the lateness.

use callpulse::engine::Engine;
use callpulse::event::RejectReason;
use callpulse::kpi::Measure;
use callpulse::time::{Millis, MINUTE, SECOND};
use serde_json::{json, Value};

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

/// Ten minutes of lateness, so every scenario here may arrive in any order.
const LATE: &str = "[engine]\nallowed_lateness = \"10m\"\n";

fn contact(ts: Millis, kind: &str, fields: Value) -> String {
    let mut f = json!({"contact_id": "c1"});
    if let (Some(o), Value::Object(e)) = (f.as_object_mut(), fields) {
        o.extend(e);
    }
    ev(ts, kind, f)
}

/// Runs `lines` in the order given and reversed, checks both give the same exposition and the
/// same discards, and returns the engine of the given order. A later event of another contact
/// moves the watermark far enough for `c1` to finish (its discards are counted then).
fn in_any_order(cfg_text: &str, lines: &[String], now: Millis) -> Engine {
    let cfg = config(cfg_text);
    let settle = offered(now - SECOND, "tick", "other");
    let mut given = lines.to_vec();
    given.push(settle.clone());
    let mut reversed: Vec<String> = lines.iter().rev().cloned().collect();
    reversed.push(settle);
    let a = run(&cfg, &given, now);
    let b = run(&cfg, &reversed, now);
    assert_eq!(exposition(&a.snapshot()), exposition(&b.snapshot()));
    for r in [
        RejectReason::OutOfOrder,
        RejectReason::UnknownContact,
        RejectReason::QueueLimit,
    ] {
        assert_eq!(a.stats().rejected(r), b.stats().rejected(r), "{r}");
    }
    a
}

#[test]
fn overflow_and_offer_in_the_same_millisecond_leave_no_phantom_waiting_caller() {
    let t0 = at(T0);
    let t = t0 + 30 * SECOND;
    let lines = vec![
        offered(t0, "c1", "sales"),
        // the overflow names no queue and shares its millisecond with the offer in care
        contact(t, "contact.overflowed", json!({"reason": "timeout"})),
        offered(t, "c1", "care"),
        contact(t + 10 * SECOND, "contact.answered", json!({"agent": "bob"})),
    ];
    let engine = in_any_order(LATE, &lines, t0 + 20 * MINUTE);
    let snap = engine.snapshot();
    let sales = queue(&snap, "sales");
    assert_eq!((sales.waiting, sales.oldest_wait_ms), (0, 0), "no phantom");
    let w = window(&snap, "sales", "1h");
    assert_eq!(
        (w.tally.offered, w.tally.overflowed, w.tally.answered),
        (1, 1, 0)
    );
    let w = window(&snap, "care", "1h");
    assert_eq!(
        (w.tally.offered, w.tally.overflowed, w.tally.answered),
        (1, 0, 1)
    );
    assert_eq!(w.dist(Measure::Wait).sum_ms(), 10_000, "care's own wait");
    assert_eq!(queue(&snap, "care").waiting, 0);
}

#[test]
fn wrapup_end_without_queue_after_a_transfer_completes_the_first_queue() {
    let t0 = at(T0);
    let te = t0 + 65 * SECOND;
    let lines = vec![
        offered(t0, "c1", "sales"),
        contact(
            t0 + 5 * SECOND,
            "contact.answered",
            json!({"agent": "ann", "queue": "sales"}),
        ),
        contact(
            te,
            "contact.transferred",
            json!({"agent": "ann", "to_queue": "care"}),
        ),
        // care has offered the contact (it waits there) when ann's wrap-up ends
        offered(te, "c1", "care"),
        contact(
            te + 30 * SECOND,
            "contact.wrapup_ended",
            json!({"agent": "ann"}),
        ),
    ];
    let engine = in_any_order(
        &format!("{LATE}[queues.sales]\nwrapup = true\n"),
        &lines,
        t0 + 20 * MINUTE,
    );
    let snap = engine.snapshot();
    let w = window(&snap, "sales", "1h");
    assert_eq!((w.tally.transferred, w.completed()), (1, 1));
    assert_eq!(w.dist(Measure::Talk).sum_ms(), 60_000);
    assert_eq!(w.dist(Measure::Wrapup).sum_ms(), 30_000);
    assert_eq!(
        queue(&snap, "care").waiting,
        1,
        "care still waits, untouched"
    );
}

#[test]
fn follow_up_naming_a_queue_not_seen_yet_arriving_before_its_offer_keeps_its_leg() {
    let t0 = at(T0);
    let t = t0 + 20 * SECOND;
    // arrival order: care's answer first, before the engine has heard of care at all
    let lines = vec![
        contact(
            t + 5 * SECOND,
            "contact.answered",
            json!({"agent": "bob", "queue": "care"}),
        ),
        contact(
            t + 65 * SECOND,
            "contact.ended",
            json!({"agent": "bob", "queue": "care"}),
        ),
        offered(t0, "c1", "sales"),
        contact(t, "contact.overflowed", json!({"queue": "sales"})),
        offered(t, "c1", "care"),
    ];
    let engine = in_any_order(LATE, &lines, t0 + 20 * MINUTE);
    let snap = engine.snapshot();
    let w = window(&snap, "care", "1h");
    assert_eq!(
        (w.tally.offered, w.tally.answered, w.completed()),
        (1, 1, 1)
    );
    assert_eq!(w.dist(Measure::Talk).sum_ms(), 60_000);
    assert_eq!(window(&snap, "sales", "1h").tally.overflowed, 1);
    assert_eq!(engine.stats().rejected(RejectReason::OutOfOrder), 0);
}

#[test]
fn follow_up_naming_a_queue_beyond_max_queues_is_rejected_in_any_order() {
    let t0 = at(T0);
    let lines = vec![
        contact(
            t0 + 5 * SECOND,
            "contact.answered",
            json!({"agent": "bob", "queue": "care"}),
        ),
        offered(t0, "c1", "sales"),
        offered(t0, "c1", "care"),
    ];
    // sales and the settling queue fit; care never does, whichever of its events comes first
    let engine = in_any_order(
        &format!("{LATE}max_queues = 2\n[queues.sales]\n[queues.other]\n"),
        &lines,
        t0 + 20 * MINUTE,
    );
    assert_eq!(engine.stats().rejected(RejectReason::QueueLimit), 2);
    let snap = engine.snapshot();
    assert!(snap.queues.iter().all(|q| q.name != "care"));
    assert_eq!(queue(&snap, "sales").waiting, 1);
}

#[test]
fn transfer_with_wrapup_true_in_a_queue_without_wrapup_waits_for_its_wrapup_end() {
    let t0 = at(T0);
    let lines = vec![
        offered(t0, "c1", "sales"),
        contact(t0 + 5 * SECOND, "contact.answered", json!({"agent": "ann"})),
        contact(
            t0 + 65 * SECOND,
            "contact.transferred",
            json!({"agent": "ann", "to_agent": "bob", "wrapup": true}),
        ),
        contact(
            t0 + 80 * SECOND,
            "contact.wrapup_ended",
            json!({"agent": "ann"}),
        ),
    ];
    let engine = in_any_order(LATE, &lines, t0 + 20 * MINUTE);
    let snap = engine.snapshot();
    let w = window(&snap, "sales", "1h");
    assert_eq!(w.completed(), 1);
    assert_eq!(w.dist(Measure::Wrapup).sum_ms(), 15_000);
    assert_eq!(w.dist(Measure::Handle).sum_ms(), 75_000);
    assert_eq!(engine.stats().rejected(RejectReason::OutOfOrder), 0);
}

#[test]
fn transfer_with_wrapup_false_in_a_queue_with_wrapup_completes_at_the_transfer() {
    let t0 = at(T0);
    let lines = vec![
        offered(t0, "c1", "care"),
        contact(t0 + 5 * SECOND, "contact.answered", json!({"agent": "ann"})),
        contact(
            t0 + 65 * SECOND,
            "contact.transferred",
            json!({"agent": "ann", "to_agent": "bob", "wrapup": false}),
        ),
    ];
    let mut engine = in_any_order(
        &format!("{LATE}[queues.care]\nwrapup = true\n"),
        &lines,
        t0 + 20 * MINUTE,
    );
    let snap = engine.snapshot();
    let w = window(&snap, "care", "1h");
    assert_eq!(w.completed(), 1);
    assert_eq!(w.dist(Measure::Handle).sum_ms(), 60_000);
    assert_eq!(w.dist(Measure::Wrapup).sum_ms(), 0);
    // complete, so it is finished and forgotten, not expired as stale
    engine.advance(t0 + 20 * MINUTE);
    assert_eq!(engine.open_contacts(), 1, "only the settling contact");
    assert_eq!(engine.stats().contacts_expired, 0);
}

#[test]
fn responded_is_accepted_on_an_answered_leg_and_discarded_before_any_answer() {
    let t0 = at(T0);
    let chat = json!({"contact_id": "c1", "queue": "chat", "channel": "chat"});
    let lines = vec![
        ev(t0, "contact.offered", chat),
        // before any answer it continues no leg
        contact(t0 + SECOND, "contact.responded", json!({"agent": "ann"})),
        contact(t0 + 5 * SECOND, "contact.answered", json!({"agent": "ann"})),
        contact(
            t0 + 50 * SECOND,
            "contact.responded",
            json!({"agent": "ann"}),
        ),
        // a later response of the same leg is ignored, not discarded
        contact(
            t0 + 70 * SECOND,
            "contact.responded",
            json!({"agent": "ann"}),
        ),
        contact(t0 + 90 * SECOND, "contact.ended", json!({"agent": "ann"})),
    ];
    let engine = in_any_order(LATE, &lines, t0 + 20 * MINUTE);
    assert_eq!(engine.stats().rejected(RejectReason::OutOfOrder), 1);
    let snap = engine.snapshot();
    let w = window(&snap, "chat", "1h");
    assert_eq!((w.tally.answered, w.completed()), (1, 1));
    assert_eq!(
        w.dist(Measure::Talk).sum_ms(),
        85_000,
        "responses change nothing"
    );
}

/// Feeds lines in the order given, moving `now` to the watermark after each one (so a closed
/// contact is forgotten as early as the lateness allows), then evaluates at `now`.
fn eager(cfg_text: &str, lines: &[String], now: Millis) -> Engine {
    let mut engine = Engine::new(config(cfg_text).center.clone());
    for l in lines {
        let _ = engine.ingest(l.as_bytes());
        if let Some(wm) = engine.watermark() {
            engine.advance(wm.min(now));
        }
    }
    engine.advance(now);
    engine
}

#[test]
fn callback_leg_after_the_contact_was_forgotten_counts_as_if_it_were_still_in_memory() {
    let t0 = at(T0);
    let cb = t0 + 10 * MINUTE + 20 * SECOND;
    let tick = offered(t0 + 11 * MINUTE, "tick", "other");
    // the answer of the callback leg arrives after the first leg was forgotten, ahead of the
    // callback's offer: it must wait for that offer, not be discarded
    let late_order = vec![
        offered(t0, "c1", "sales"),
        contact(t0 + 10 * SECOND, "contact.abandoned", json!({})),
        tick.clone(),
        contact(
            cb + 10 * SECOND,
            "contact.answered",
            json!({"agent": "ann", "queue": "sales"}),
        ),
        offered(cb, "c1", "sales"),
    ];
    let now = t0 + 15 * MINUTE;
    let forgotten = eager(LATE, &late_order, now);
    let in_memory = eager(LATE, &sorted_by_ts(&late_order), now);
    assert_eq!(
        exposition(&forgotten.snapshot()),
        exposition(&in_memory.snapshot())
    );
    let snap = forgotten.snapshot();
    assert_eq!(queue(&snap, "sales").waiting, 0);
    let w = window(&snap, "sales", "1h");
    assert_eq!((w.tally.offered, w.tally.answered), (2, 1));
    assert_eq!(forgotten.stats().rejected(RejectReason::OutOfOrder), 0);
}

#[test]
fn survey_after_a_forgotten_contact_and_a_new_leg_counts_in_the_last_answered_queue() {
    let t0 = at(T0);
    let cb = t0 + 10 * MINUTE + 20 * SECOND;
    let late_order = vec![
        offered(t0, "c1", "sales"),
        contact(t0 + 5 * SECOND, "contact.answered", json!({"agent": "ann"})),
        contact(t0 + 60 * SECOND, "contact.ended", json!({"agent": "ann"})),
        offered(t0 + 12 * MINUTE, "tick", "other"),
        // a callback into care that is never answered, then a survey naming no queue
        offered(cb, "c1", "care"),
        contact(cb + 20 * SECOND, "contact.abandoned", json!({})),
        contact(cb + 30 * SECOND, "survey.submitted", json!({"csat": 2})),
    ];
    let now = t0 + 15 * MINUTE;
    let forgotten = eager(LATE, &late_order, now);
    let in_memory = eager(LATE, &sorted_by_ts(&late_order), now);
    assert_eq!(
        exposition(&forgotten.snapshot()),
        exposition(&in_memory.snapshot())
    );
    let snap = forgotten.snapshot();
    assert_eq!(
        window(&snap, "sales", "1h").csat(),
        Some(2.0),
        "sales answered it"
    );
    assert_eq!(window(&snap, "care", "1h").csat(), None);
}
