//! The order-independence property: any disorder within the allowed lateness (and duplicate
//! deliveries) gives the exposition of the in-order stream, for one-leg and multi-leg contacts,
//! including the first responses of chats, the resolutions and the customers' repeats,
//! recoveries and losses of docs/metrics.md, surveys without a queue among transfers (docs/events.md),
//! and for agents' states and queue lists (agent time, occupancy); no cumulative counter ever
//! goes down between two evaluations of a disordered stream.

use callpulse::event::RejectReason;
use callpulse::time::{Millis, SECOND};
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

/// A contact history in `queue` (legs into `other` for the multi-leg shapes); `d` are
/// durations in tenths of seconds. Queue `sales` expects wrap-up by default (see the config).
fn contact_history(
    i: usize,
    (queue, other): (&str, &str),
    t0: Millis,
    shape: u8,
    d: [u32; 4],
) -> Vec<String> {
    let c = format!("c{i}");
    let (a, b) = (format!("a{i}"), format!("b{i}"));
    let dur = |k: usize| Millis::from(d[k]) * 100;
    // an explicit wrapup flag, or none (the queue decides)
    let flag = |k: usize| [None, Some(true), Some(false)][d[k] as usize % 3];
    let expects = |flag: Option<bool>, q: &str| flag.unwrap_or(q == "sales");
    let with_wrapup = |mut f: serde_json::Value, flag: Option<bool>| {
        if let Some(w) = flag {
            f["wrapup"] = json!(w);
        }
        f
    };
    // half the contacts name one of four customers: repeats, recoveries and losses across
    // contacts
    let mut first = json!({ "queue": queue });
    if d[0].is_multiple_of(2) {
        first["customer"] = json!(format!("cust{}", i % 4));
    }
    let mut out = vec![of(&c, t0, "contact.offered", first)];
    match shape % SHAPES {
        0 => out.push(abandoned(t0 + dur(0), &c)),
        1 => {
            let ta = t0 + dur(0);
            out.push(answered(ta, &c));
            out.push(ev(
                ta + dur(1),
                "contact.held",
                json!({"contact_id": c, "agent": "a1"}),
            ));
            out.push(ev(
                ta + dur(1) + dur(2),
                "contact.resumed",
                json!({"contact_id": c, "agent": "a1"}),
            ));
            out.push(ev(
                ta + dur(1) + dur(2) + dur(3),
                "contact.ended",
                json!({"contact_id": c, "agent": "a1", "wrapup": true}),
            ));
            out.push(ev(
                ta + dur(1) + dur(2) + dur(3) + dur(0),
                "contact.wrapup_ended",
                json!({"contact_id": c, "agent": "a1"}),
            ));
            out.push(ev(
                ta + dur(1) + dur(2) + dur(3) + dur(1),
                "survey.submitted",
                json!({"contact_id": c, "csat": d[0] % 5 + 1, "nps": d[1] % 11}),
            ));
        }
        2 => out.push(ev(
            t0 + dur(0),
            "contact.overflowed",
            json!({"contact_id": c, "reason": "timeout"}),
        )),
        3 => {
            out.push(answered(t0 + dur(0), &c));
            out.push(ev(
                t0 + dur(0) + dur(1),
                "contact.held",
                json!({"contact_id": c, "agent": "a1"}),
            ));
            out.push(ev(
                t0 + dur(0) + dur(1) + dur(2),
                "contact.transferred",
                json!({"contact_id": c, "agent": "a1", "to_queue": "x"}),
            ));
        }
        4 => {} // still waiting
        5 => {
            out.push(answered(t0 + dur(0), &c));
            out.push(ended(t0 + dur(0) + dur(1), &c));
        }
        6 => {
            // overflow without queue and the offer in the other queue at one instant
            let to = t0 + dur(0);
            out.push(of(&c, to, "contact.overflowed", json!({})));
            out.push(offered(to, &c, other));
            let t = to + dur(1);
            match d[3] % 3 {
                0 => {
                    out.push(of(&c, t, "contact.answered", json!({"agent": b})));
                    let f = json!({"agent": b, "wrapup": false});
                    out.push(of(&c, t + dur(2), "contact.ended", f));
                }
                1 => out.push(of(&c, t, "contact.abandoned", json!({}))),
                _ => {} // waits in the other queue
            }
        }
        7 => {
            // a transfer into the other queue at one instant, wrap-up per the transfer
            let ta = t0 + dur(0);
            out.push(of(
                &c,
                ta,
                "contact.answered",
                json!({"agent": a, "queue": queue}),
            ));
            let te = ta + dur(1);
            let w = flag(2);
            let f = with_wrapup(json!({"agent": a, "to_queue": other}), w);
            out.push(of(&c, te, "contact.transferred", f));
            out.push(offered(te, &c, other));
            if expects(w, queue) {
                out.push(of(
                    &c,
                    te + dur(2),
                    "contact.wrapup_ended",
                    json!({"agent": a}),
                ));
            }
            let tb = te + dur(3);
            out.push(of(&c, tb, "contact.answered", json!({"agent": b})));
            let w2 = flag(0);
            // resolution reported, counted when the leg completes (after its wrap-up)
            let f = with_wrapup(json!({"agent": b, "resolved": d[1].is_multiple_of(2)}), w2);
            out.push(of(&c, tb + dur(1), "contact.ended", f));
            if expects(w2, other) {
                let t = tb + dur(1) + dur(2);
                out.push(of(&c, t, "contact.wrapup_ended", json!({"agent": b})));
            }
            let f = json!({"csat": d[1] % 5 + 1});
            out.push(of(&c, tb + dur(1) + dur(3), "survey.submitted", f));
        }
        8 => {
            // the other queue offers the contact while the first agent still talks; every
            // follow-up of the first leg names no queue
            let ta = t0 + dur(0);
            out.push(of(&c, ta, "contact.answered", json!({"agent": a})));
            let t2 = ta + dur(1);
            // a chat: its first response is its first contact.responded
            let chat = json!({"queue": other, "channel": "chat"});
            out.push(of(&c, t2, "contact.offered", chat));
            out.push(of(&c, t2 + dur(2) / 3, "contact.held", json!({"agent": a})));
            out.push(of(
                &c,
                t2 + dur(2) / 2,
                "contact.resumed",
                json!({"agent": a}),
            ));
            let f = with_wrapup(json!({"agent": a}), flag(3));
            out.push(of(&c, t2 + dur(2), "contact.ended", f));
            if expects(flag(3), queue) {
                let t = t2 + dur(2) + dur(0);
                out.push(of(&c, t, "contact.wrapup_ended", json!({"agent": a})));
            }
            let tb = t2 + dur(3);
            out.push(of(
                &c,
                tb,
                "contact.answered",
                json!({"agent": b, "queue": other}),
            ));
            out.push(of(
                &c,
                tb + dur(0) / 2,
                "contact.responded",
                json!({"agent": b}),
            ));
            out.push(of(
                &c,
                tb + dur(0),
                "contact.responded",
                json!({"agent": b}),
            ));
            let f = json!({"agent": b, "wrapup": false});
            out.push(of(&c, tb + dur(0) + dur(1), "contact.ended", f));
        }
        9 => {
            // overflow and re-offer in the same queue at one instant, both naming it
            let to = t0 + dur(0);
            out.push(of(&c, to, "contact.overflowed", json!({"queue": queue})));
            out.push(offered(to, &c, queue));
            let ta = to + dur(1);
            out.push(of(
                &c,
                ta,
                "contact.answered",
                json!({"agent": a, "queue": queue}),
            ));
            let f = json!({"agent": a, "wrapup": false, "resolved": d[3] % 2 == 1});
            out.push(of(&c, ta + dur(2), "contact.ended", f));
        }
        11 => {
            // a transfer, then a survey without queue before the other queue answers: it counts
            // where the contact was answered at its instant, whenever that answer arrives
            let ta = t0 + dur(0);
            out.push(of(&c, ta, "contact.answered", json!({"agent": a})));
            let te = ta + dur(1);
            let f = json!({"agent": a, "to_queue": other, "wrapup": false});
            out.push(of(&c, te, "contact.transferred", f));
            out.push(offered(te, &c, other));
            let f = json!({"csat": d[2] % 5 + 1, "nps": d[3] % 11});
            out.push(of(&c, te + dur(2) / 2, "survey.submitted", f));
            let tb = te + dur(2);
            out.push(of(&c, tb, "contact.answered", json!({"agent": b})));
            let f = json!({"agent": b, "wrapup": false});
            out.push(of(&c, tb + dur(3), "contact.ended", f));
        }
        _ => {
            // a callback into the other queue after an abandon: the contact may be forgotten
            // in between; a survey without queue goes to the answered leg
            let tb = t0 + dur(0);
            out.push(of(&c, tb, "contact.abandoned", json!({})));
            let tc = tb + dur(1) + 1;
            out.push(offered(tc, &c, other));
            if d[2].is_multiple_of(2) {
                let ta = tc + dur(2);
                out.push(of(
                    &c,
                    ta,
                    "contact.answered",
                    json!({"agent": a, "queue": other}),
                ));
                let f = json!({"agent": a, "wrapup": false});
                out.push(of(&c, ta + dur(3), "contact.ended", f));
            }
            let f = json!({"nps": d[3] % 11});
            out.push(of(&c, tc + dur(2) + dur(3) + dur(0), "survey.submitted", f));
        }
    }
    out
}

/// Legs of a history still waiting once all its events happened (no other leg may wait: a
/// leg left waiting by a misattributed event is a phantom caller).
fn still_waiting(shape: u8, d: [u32; 4]) -> i64 {
    match shape % SHAPES {
        4 => 1,
        6 if d[3] % 3 == 2 => 1,
        10 if d[2] % 2 == 1 => 1,
        _ => 0,
    }
}

/// The shapes of [`contact_history`].
const SHAPES: u8 = 12;

/// Events of many contacts sorted by time, and how many legs wait at the end.
fn arb_history() -> impl Strategy<Value = (Vec<(Millis, String)>, i64)> {
    let contact = (
        0u8..SHAPES,
        0usize..3,
        1usize..3,
        0i64..600,
        prop::array::uniform4(0u32..400),
    );
    prop::collection::vec(contact, 1..40).prop_map(|contacts| {
        let base = at(T0);
        let queues = ["sales", "care", "billing"];
        let mut all = Vec::new();
        let mut waiting = 0;
        for (i, (shape, q, step, start_s, d)) in contacts.into_iter().enumerate() {
            waiting += still_waiting(shape, d);
            let pair = (queues[q], queues[(q + step) % 3]);
            for line in contact_history(i, pair, base + start_s * SECOND, shape, d) {
                let ts = serde_json::from_str::<serde_json::Value>(&line).unwrap()["ts"]
                    .as_i64()
                    .unwrap();
                all.push((ts, line));
            }
        }
        all.sort_by_key(|(ts, _)| *ts);
        (all, waiting)
    })
}

/// The history in an arrival order of `ts + jitter` (jitter below the lateness, 60 s: every
/// event is still accepted), each event with an id, every `dup_every`-th delivered twice
/// (at-least-once): what a disordered, redelivering transport makes of it.
fn disorder(history: &[(Millis, String)], jitter: &[i64], dup_every: usize) -> Vec<String> {
    let mut shuffled: Vec<(Millis, usize, &String)> = history
        .iter()
        .enumerate()
        .map(|(i, (ts, l))| (ts + jitter[i % jitter.len()], i, l))
        .collect();
    shuffled.sort();
    let mut out = Vec::with_capacity(history.len() * 2);
    for (k, (_, i, l)) in shuffled.into_iter().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["id"] = json!(format!("e{i}"));
        out.push(v.to_string());
        if k % dup_every == 0 {
            out.push(v.to_string());
        }
    }
    out
}

/// Like `run`, checking at every evaluation that no cumulative counter or histogram went down
/// (Prometheus reads a decrease as a counter reset).
fn run_counting(
    cfg: &std::sync::Arc<callpulse::config::Config>,
    lines: &[String],
    now: Millis,
) -> Result<callpulse::engine::Engine, TestCaseError> {
    use std::collections::BTreeMap;
    let mut engine = callpulse::engine::Engine::new(cfg.center.clone());
    let mut seen: BTreeMap<String, f64> = BTreeMap::new();
    let mut check = |engine: &callpulse::engine::Engine| -> Result<(), TestCaseError> {
        for line in exposition(&engine.snapshot()).lines() {
            let cumulative = line.contains("_total") || line.contains("_duration_seconds_");
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if !cumulative || line.starts_with('#') {
                continue;
            }
            let value: f64 = value.parse().unwrap_or(f64::NAN);
            let before = seen.insert(series.to_string(), value).unwrap_or(0.0);
            prop_assert!(value >= before, "{series}: {before} -> {value}");
        }
        Ok(())
    };
    for (i, l) in lines.iter().enumerate() {
        let _ = engine.ingest(l.as_bytes());
        if i % 7 == 6 {
            if let Some(wm) = engine.watermark() {
                engine.advance(wm.min(now));
                check(&engine)?;
            }
        }
    }
    engine.advance(now);
    check(&engine)?;
    Ok(engine)
}

/// Proptest cases: 64, or `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Any disorder within the allowed lateness gives the identical exposition, for contacts
    /// of one leg and of several (overflows and transfers into another queue at one instant,
    /// follow-ups naming no queue, explicit wrap-up on transfers, callbacks).
    #[test]
    fn disorder_within_lateness_gives_identical_exposition(
        (history, waiting) in arb_history(),
        jitter_seed in prop::collection::vec(0i64..60_000, 400),
        dup_every in 2usize..9,
        eval_after_s in 0i64..1800,
    ) {
        let cfg = config("[defaults]\nrepeat_window = \"5m\"\ncallback_window = \"4m\"\n[queues.sales]\nwrapup = true\nsl_formula = \"ignore_abandons\"\n[queues.care]\ntimezone = \"Asia/Kathmandu\"\n");
        let in_order: Vec<String> = history.iter().map(|(_, l)| l.clone()).collect();
        let disordered = disorder(&history, &jitter_seed, dup_every);
        let last = history.last().unwrap().0;
        let now = last + eval_after_s * SECOND;
        let a = run(&cfg, &in_order, now);
        let b = run_counting(&cfg, &disordered, now)?;
        prop_assert_eq!(b.stats().rejected(RejectReason::TooLate), 0);
        let snap = a.snapshot();
        prop_assert_eq!(snap.queues.iter().map(|q| q.waiting).sum::<i64>(), waiting);
        prop_assert_eq!(exposition(&snap), exposition(&b.snapshot()));
    }
}

const STATES: [&str; 5] = ["logged_out", "available", "not_ready", "busy", "wrapup"];

/// `agent.state` events of a few agents: steps of 0 to 5 minutes (a quarter of them at the same
/// instant as the previous one), any state, and now and then a new list of the three queues.
fn arb_agents() -> impl Strategy<Value = Vec<(Millis, String)>> {
    let step = (
        0i64..300_000,
        0u8..4,
        0usize..5,
        prop::option::weighted(0.3, 0u8..8),
    );
    let agent = (0i64..600, prop::collection::vec(step, 1..25));
    prop::collection::vec(agent, 1..6).prop_map(|agents| {
        let queues = ["sales", "care", "billing"];
        let mut all = Vec::new();
        for (i, (start_s, steps)) in agents.into_iter().enumerate() {
            let mut t = at(T0) - 20 * 60 * SECOND + start_s * SECOND;
            for (k, (gap, same, state, list)) in steps.into_iter().enumerate() {
                if k > 0 && same != 0 {
                    t += gap;
                }
                let mut f = json!({ "agent": format!("ag{i}"), "state": STATES[state] });
                if let Some(mask) = list.or((k == 0).then_some(1)) {
                    let names: Vec<&str> = (0..3)
                        .filter(|b| mask & (1 << b) != 0)
                        .map(|b| queues[b])
                        .collect();
                    f["queues"] = json!(names);
                }
                all.push((t, ev(t, "agent.state", f)));
            }
        }
        all
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Agents' states and queue lists in any order within the lateness (same-instant events of
    /// one agent included, duplicates delivered), among contact events: the same agent time and
    /// occupancy in every window as the in-order stream.
    #[test]
    fn agent_states_in_any_order_within_lateness_give_the_same_agent_seconds(
        (contacts, _) in arb_history(),
        agents in arb_agents(),
        jitter_seed in prop::collection::vec(0i64..60_000, 400),
        dup_every in 2usize..9,
        eval_after_s in 0i64..1800,
    ) {
        let cfg = config("[engine]\nwindows = [\"30s\", \"15m\"]\n[queues.care]\ntimezone = \"Asia/Kathmandu\"\n");
        let mut history = contacts;
        history.extend(agents);
        history.sort_by_key(|(ts, _)| *ts);
        let in_order: Vec<String> = history.iter().map(|(_, l)| l.clone()).collect();
        let disordered = disorder(&history, &jitter_seed, dup_every);
        let now = history.last().unwrap().0 + eval_after_s * SECOND;
        let snap = run(&cfg, &in_order, now).snapshot();
        let a = exposition(&snap);
        let b = run(&cfg, &disordered, now);
        prop_assert_eq!(b.stats().rejected(RejectReason::TooLate), 0);
        let b = exposition(&b.snapshot());
        let workforce = |text: &str| -> Vec<String> {
            text.lines().filter(|l| moves_with_now(l)).map(String::from).collect()
        };
        // every state of every window of every queue, and occupancy where someone worked
        let seconds = workforce(&a).iter().filter(|l| l.starts_with("callcenter_agent_seconds")).count();
        prop_assert_eq!(seconds, snap.queues.len() * snap.window_labels.len() * 4);
        prop_assert_eq!(workforce(&a), workforce(&b));
        prop_assert_eq!(a, b);
    }
}
