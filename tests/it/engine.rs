//! The engine called directly: windows, time zones, live gauges, limits, bad input (disorder:
//! `disorder.rs`; multi-leg contacts: `legs.rs`).

use callpulse::event::RejectReason;
use callpulse::time::{Millis, HOUR, MINUTE, SECOND};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

#[test]
fn rolling_window_includes_its_start_and_excludes_now() {
    let cfg = config("");
    let t0 = at(T0);
    let lines = vec![
        offered(t0, "c1", "q"),
        abandoned(t0 + 2 * SECOND, "c1"),
        offered(t0 + 5 * MINUTE, "c2", "q"),
    ];
    // now = t0 + 5m: window 5m is [t0, t0+5m): c1 in, c2 (at now) out.
    let snap = run(&cfg, &lines, t0 + 5 * MINUTE).snapshot();
    assert_eq!(window(&snap, "q", "5m").tally.offered, 1);
    // one millisecond later c1's offer has left the 5m window, c2's has entered
    let snap = run(&cfg, &lines, t0 + 5 * MINUTE + 1).snapshot();
    assert_eq!(window(&snap, "q", "5m").tally.offered, 1);
    assert_eq!(window(&snap, "q", "15m").tally.offered, 2);
    assert_eq!(window(&snap, "q", "5m").tally.abandoned_short, 1);
}

#[test]
fn service_level_decided_when_the_threshold_passes_without_any_event() {
    let cfg = config("");
    let t0 = at(T0);
    let mut engine = run(&cfg, &[offered(t0, "c1", "q")], t0 + 19 * SECOND);
    let snap = engine.snapshot();
    assert_eq!(window(&snap, "q", "5m").tally.sl_offered, 0);
    assert_eq!(queue(&snap, "q").waiting, 1);
    assert_eq!(queue(&snap, "q").oldest_wait_ms, 19_000);
    engine.advance(t0 + 20 * SECOND + 1);
    let snap = engine.snapshot();
    let w = window(&snap, "q", "5m");
    assert_eq!(
        (w.tally.sl_offered, w.tally.sl_answered),
        (1, 0),
        "missed the moment it passed 20 s"
    );
    assert_eq!(w.service_level(cfg.center.defaults.sl_formula), Some(0.0));
    // answered later: still missed, decided at t0 + 20 s, counted once
    engine
        .ingest(answered(t0 + 40 * SECOND, "c1").as_bytes())
        .unwrap();
    engine.advance(t0 + 41 * SECOND);
    let snap = engine.snapshot();
    let w = window(&snap, "q", "5m");
    assert_eq!(
        (w.tally.sl_offered, w.tally.sl_answered, w.tally.answered),
        (1, 0, 1)
    );
    assert_eq!(queue(&snap, "q").waiting, 0);
}

#[test]
fn empty_windows_export_counts_but_no_ratios() {
    let cfg = config("[queues.idle]\n");
    let t0 = at(T0);
    let snap = run(
        &cfg,
        &[offered(t0, "c1", "busy"), answered(t0 + SECOND, "c1")],
        t0 + MINUTE,
    )
    .snapshot();
    let text = exposition(&snap);
    assert_eq!(
        sample(
            &text,
            "callcenter_contacts_offered{queue=\"idle\",window=\"5m\"}"
        ),
        Some(0.0)
    );
    assert!(!text.contains("callcenter_service_level_ratio{queue=\"idle\""));
    assert!(!text.contains("callcenter_asa_seconds{queue=\"idle\""));
    assert!(!text.contains("NaN"));
    assert_eq!(
        sample(
            &text,
            "callcenter_service_level_ratio{queue=\"busy\",window=\"5m\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "callcenter_asa_seconds{queue=\"busy\",window=\"5m\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "callcenter_agents{queue=\"idle\",state=\"available\"}"
        ),
        Some(0.0)
    );
}

#[test]
fn today_follows_day_start_in_the_queues_zone_across_dst() {
    // Berlin, day starts 04:00 local. 2026-03-29 02:00 CET -> 03:00 CEST.
    let cfg = config("[queues.de]\ntimezone = \"Europe/Berlin\"\nday_start = \"04:00\"\n");
    let lines = vec![
        offered(at("2026-03-29T02:59:00Z"), "before", "de"), // 03:59 CET... after the jump: 04:59 CEST? no: 02:59Z = 04:59 CEST
        offered(at("2026-03-29T01:30:00Z"), "early", "de"),  // 03:30 CEST: before 04:00 local
    ];
    let mut sorted = lines.clone();
    sorted.reverse();
    let snap = run(&cfg, &sorted, at("2026-03-29T10:00:00Z")).snapshot();
    // today began 04:00 CEST = 02:00Z: only "before" (02:59Z) is today
    assert_eq!(window(&snap, "de", "today").tally.offered, 1);
    // on the fall-back day the day is 25 h long: 04:00 CEST -> next 04:00 CET
    let cfg = config("[queues.de]\ntimezone = \"Europe/Berlin\"\nday_start = \"04:00\"\n[engine]\nallowed_lateness = \"1d\"\n");
    let lines = vec![
        offered(at("2026-10-25T02:30:00Z"), "a", "de"),
        offered(at("2026-10-25T02:59:59Z"), "b", "de"),
    ];
    // 2026-10-25 04:00 CET = 03:00Z; at 02:59:59Z the day that began 04:00 CEST on the 24th (02:00Z) is still on
    let snap = run(&cfg, &lines, at("2026-10-25T03:00:00Z")).snapshot();
    assert_eq!(
        window(&snap, "de", "today").tally.offered,
        0,
        "a new day began at 03:00Z"
    );
    let snap = run(&cfg, &lines, at("2026-10-25T02:59:59.500Z")).snapshot();
    assert_eq!(window(&snap, "de", "today").tally.offered, 2);
}

#[test]
fn interval_aligns_to_local_clock_at_plus_0545() {
    let cfg = config("[engine]\ninterval = \"30m\"\n[queues.np]\ntimezone = \"Asia/Kathmandu\"\n");
    // 04:15Z = 10:00 local, an interval boundary; 04:14Z is in the previous interval.
    let lines = vec![
        offered(at("2026-11-23T04:14:59Z"), "a", "np"),
        offered(at("2026-11-23T04:15:00Z"), "b", "np"),
        offered(at("2026-11-23T04:44:00Z"), "c", "np"),
    ];
    let snap = run(&cfg, &lines, at("2026-11-23T04:44:30Z")).snapshot();
    assert_eq!(window(&snap, "np", "interval").tally.offered, 2);
    let snap = run(&cfg, &lines, at("2026-11-23T04:45:00Z")).snapshot();
    assert_eq!(
        window(&snap, "np", "interval").tally.offered,
        0,
        "10:30 local starts a new interval"
    );
}

#[test]
fn survey_without_queue_counts_in_the_contacts_queue_even_after_it_ended() {
    let cfg = config("");
    let t0 = at(T0);
    let lines = vec![
        offered(t0, "c1", "sales"),
        answered(t0 + SECOND, "c1"),
        ended(t0 + MINUTE, "c1"),
        // the contact is finished and forgotten well before the survey comes
        offered(t0 + 30 * MINUTE, "other", "care"),
        ev(
            t0 + 31 * MINUTE,
            "survey.submitted",
            json!({"contact_id": "c1", "csat": 2, "nps": 3}),
        ),
        ev(
            t0 + 31 * MINUTE,
            "survey.submitted",
            // never offered: named queue or not, a survey needs its contact (docs/events.md)
            json!({"contact_id": "nobody", "queue": "care", "csat": 4}),
        ),
        ev(
            t0 + 31 * MINUTE,
            "survey.submitted",
            json!({"contact_id": "ghost", "csat": 5}),
        ),
    ];
    let engine = run(&cfg, &lines, t0 + 40 * MINUTE);
    let snap = engine.snapshot();
    let w = window(&snap, "sales", "15m");
    assert_eq!((w.csat(), w.nps()), (Some(2.0), Some(-100.0)));
    assert_eq!(window(&snap, "care", "15m").csat(), None);
    assert_eq!(
        engine.stats().rejected(RejectReason::UnknownContact),
        0,
        "ghost and nobody may still be offered"
    );
    let mut engine = engine;
    engine
        .ingest(offered(t0 + 45 * MINUTE, "late", "care").as_bytes())
        .unwrap();
    engine.advance(t0 + 45 * MINUTE);
    assert_eq!(
        engine.stats().rejected(RejectReason::UnknownContact),
        2,
        "ghost's and nobody's surveys: no contact ever came"
    );
}

#[test]
fn agents_by_state_and_queue_list() {
    let cfg = config("");
    let t0 = at(T0);
    let st = |ts: Millis, agent: &str, state: &str, queues: Option<Vec<&str>>| {
        let mut f = json!({"agent": agent, "state": state});
        if let Some(q) = queues {
            f["queues"] = json!(q);
        }
        ev(ts, "agent.state", f)
    };
    let lines = vec![
        st(t0, "ann", "available", Some(vec!["sales", "care"])),
        st(t0, "bob", "available", Some(vec!["sales"])),
        st(t0 + SECOND, "bob", "busy", None), // keeps its queue list
        st(t0 + 2 * SECOND, "cat", "not_ready", Some(vec!["care"])),
        st(t0 + 3 * SECOND, "dan", "available", Some(vec!["care"])),
        st(t0 + 4 * SECOND, "dan", "logged_out", None),
    ];
    let snap = run(&cfg, &lines, t0 + MINUTE).snapshot();
    assert_eq!(queue(&snap, "sales").agents, [1, 0, 1, 0]);
    assert_eq!(
        queue(&snap, "care").agents,
        [1, 1, 0, 0],
        "logged-out agents are not counted"
    );
    // the same events in reverse order (within the lateness) give the same counts
    let mut reversed = lines.clone();
    reversed.reverse();
    let snap = run(&cfg, &reversed, t0 + MINUTE).snapshot();
    assert_eq!(queue(&snap, "sales").agents, [1, 0, 1, 0]);
    assert_eq!(queue(&snap, "care").agents, [1, 1, 0, 0]);
}

#[test]
fn agent_table_is_bounded_and_forgets_only_final_logged_out_agents() {
    let cfg = config("[engine]\nmax_agents = 10\n");
    let t0 = at(T0);
    let st = |ts: Millis, agent: &str, state: &str| {
        ev(
            ts,
            "agent.state",
            json!({"agent": agent, "state": state, "queues": ["q"]}),
        )
    };
    let mut engine = callpulse::engine::Engine::new(cfg.center.clone());
    // five agents stay logged in; 25 log in and out, one every 10 s
    for i in 0..5 {
        engine
            .ingest(st(t0, &format!("on{i}"), "available").as_bytes())
            .unwrap();
    }
    for i in 0..25 {
        let t = t0 + i * 10 * SECOND;
        engine
            .ingest(st(t, &format!("off{i}"), "available").as_bytes())
            .unwrap();
        engine
            .ingest(st(t + SECOND, &format!("off{i}"), "logged_out").as_bytes())
            .unwrap();
    }
    // Watermark t0 + 241 s: logouts before t0 + 181 s are final (60 s lateness), the last
    // seven not; of the 30 agents 21 should go, but only those 18 may.
    engine.advance(t0 + 241 * SECOND);
    assert_eq!(engine.stats().agents_forgotten, 18, "only final logouts go");
    assert_eq!(engine.agent_count(), 12);
    let snap = engine.snapshot();
    assert_eq!(queue(&snap, "q").agents, [5, 0, 0, 0], "no count changes");
    // later, the rest are final: down to 90 % of the bound, the logged-in ones kept
    engine
        .ingest(st(t0 + 10 * MINUTE, "on0", "busy").as_bytes())
        .unwrap();
    engine.advance(t0 + 10 * MINUTE);
    assert_eq!(engine.agent_count(), 9);
    assert_eq!(engine.stats().agents_forgotten, 21);
    let snap = engine.snapshot();
    assert_eq!(queue(&snap, "q").agents, [4, 0, 1, 0]);
    // a forgotten agent who comes back is counted again
    engine
        .ingest(st(t0 + 11 * MINUTE, "off0", "available").as_bytes())
        .unwrap();
    engine.advance(t0 + 11 * MINUTE);
    assert_eq!(queue(&engine.snapshot(), "q").agents, [5, 0, 1, 0]);
}

#[test]
fn queue_limit_rejects_new_queues_and_keeps_old_ones_working() {
    let cfg = config("[engine]\nmax_queues = 2\n");
    let t0 = at(T0);
    let lines = vec![
        offered(t0, "a", "q1"),
        offered(t0, "b", "q2"),
        offered(t0, "c", "q3"),
        offered(t0 + SECOND, "d", "q1"),
    ];
    let engine = run(&cfg, &lines, t0 + MINUTE);
    assert_eq!(engine.stats().rejected(RejectReason::QueueLimit), 1);
    let snap = engine.snapshot();
    assert_eq!(snap.queues.len(), 2);
    assert_eq!(window(&snap, "q1", "5m").tally.offered, 2);
}

#[test]
fn queue_limit_junk_queues_cannot_lock_out_configured_or_later_real_queues() {
    let cfg = config("[engine]\nmax_queues = 10\n[queues.sales]\n[queues.support]\n");
    let t0 = at(T0);
    let mut engine = callpulse::engine::Engine::new(cfg.center.clone());
    // a burst of junk: eight queues fill the limit (two are configured), four more are refused
    for i in 0..12 {
        let c = format!("junk{i}");
        let _ = engine.ingest(offered(t0, &c, &format!("junk-{i}")).as_bytes());
        let _ = engine.ingest(abandoned(t0 + 10 * SECOND, &c).as_bytes());
    }
    assert_eq!(engine.stats().rejected(RejectReason::QueueLimit), 4);
    // configured queues are never locked out
    engine
        .ingest(offered(t0 + 20 * SECOND, "s1", "sales").as_bytes())
        .unwrap();
    // a new real queue the same minute is refused: the junk is not idle yet
    let refused = engine.ingest(offered(t0 + 30 * SECOND, "c0", "care").as_bytes());
    assert_eq!(refused.unwrap_err().reason, RejectReason::QueueLimit);
    // two hours later the junk has been idle for forget_idle_queues_after (1h): it makes room
    let later = t0 + 2 * 3_600_000;
    for (i, t) in [later, later + SECOND, later + 2 * SECOND]
        .into_iter()
        .enumerate()
    {
        engine
            .ingest(offered(t, &format!("s{}", i + 2), "sales").as_bytes())
            .unwrap();
    }
    engine.advance(later + 2 * SECOND);
    engine
        .ingest(offered(later + 3 * SECOND, "c1", "care").as_bytes())
        .unwrap();
    engine.advance(later + MINUTE);
    assert_eq!(engine.stats().queues_forgotten, 8);
    let snap = engine.snapshot();
    let names: Vec<&str> = snap.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["care", "sales", "support"]);
    assert_eq!(window(&snap, "sales", "1h").tally.offered, 3);
    assert_eq!(window(&snap, "care", "5m").tally.offered, 1);
}

#[test]
fn too_late_and_duplicate_are_rejected_without_changing_kpis() {
    let cfg = config("");
    let t0 = at(T0);
    let with_id = |line: String, id: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["id"] = json!(id);
        v.to_string()
    };
    let clean = vec![
        with_id(offered(t0, "c1", "q"), "e1"),
        with_id(offered(t0 + 2 * MINUTE, "c2", "q"), "e2"),
        // the jump of two minutes confirmed by later events (docs/metrics.md)
        offered(t0 + 2 * MINUTE + 1_000, "c5", "q"),
        offered(t0 + 2 * MINUTE + 2_000, "c6", "q"),
    ];
    let mut noisy = clean.clone();
    noisy.insert(1, with_id(offered(t0, "c1", "q"), "e1")); // duplicate delivery
    noisy.push(offered(t0, "c3", "q")); // 2 minutes behind the newest: too late
    noisy.push("{\"type\":\"contact.offered\"".into());
    noisy.push(ev(
        t0 + 2 * MINUTE,
        "contact.teleported",
        json!({"contact_id": "c4", "queue": "q"}),
    ));
    let now = t0 + 10 * MINUTE;
    let a = run(&cfg, &clean, now);
    let b = run(&cfg, &noisy, now);
    assert_eq!(b.stats().rejected(RejectReason::Duplicate), 1);
    assert_eq!(b.stats().rejected(RejectReason::TooLate), 1);
    assert_eq!(b.stats().rejected(RejectReason::MalformedJson), 1);
    assert_eq!(b.stats().rejected(RejectReason::UnknownType), 1);
    assert_eq!(exposition(&a.snapshot()), exposition(&b.snapshot()));
}

#[test]
fn open_contacts_are_bounded_and_stale_ones_expire() {
    let cfg = config("[engine]\nmax_open_contacts = 100\ncontact_timeout = \"1h\"\n");
    let t0 = at(T0);
    let lines: Vec<String> = (0..250)
        .map(|i| offered(t0 + i * SECOND, &format!("c{i}"), "q"))
        .collect();
    let mut engine = run(&cfg, &lines, t0 + 300 * SECOND);
    assert!(engine.open_contacts() <= 100);
    assert_eq!(engine.stats().contacts_evicted, 150);
    assert_eq!(engine.snapshot().queues[0].waiting, 100);
    // an hour of silence later, a new event moves the watermark: the rest expire as stale
    engine
        .ingest(offered(t0 + 2 * HOUR, "late", "q").as_bytes())
        .unwrap();
    engine.advance(t0 + 2 * HOUR + SECOND);
    // making room for "late" evicted one more; the other 99 expired as stale
    assert_eq!(engine.stats().contacts_evicted, 151);
    assert_eq!(engine.stats().contacts_expired, 99);
    assert_eq!(engine.snapshot().queues[0].waiting, 1);
}

#[test]
fn counters_only_count_final_facts_and_never_decrease() {
    let cfg = config("");
    let t0 = at(T0);
    let mut engine = run(&cfg, &[offered(t0, "c1", "q")], t0 + 30 * SECOND);
    assert_eq!(
        engine.snapshot().queues[0].cumulative.tally.offered,
        0,
        "within the lateness nothing is final"
    );
    engine
        .ingest(offered(t0 + 2 * MINUTE, "c2", "q").as_bytes())
        .unwrap();
    engine.advance(t0 + 2 * MINUTE);
    let c = &engine.snapshot().queues[0].cumulative;
    assert_eq!((c.tally.offered, c.tally.sl_offered), (1, 1));
}

#[test]
fn config_without_a_15m_window_still_loads_and_alerts_watch_its_first_window() {
    let cfg = config("[engine]\nwindows = [\"1h\", \"24h\"]\n");
    assert_eq!(cfg.alerts.window, "1h");
    let err = callpulse::config::Config::parse(
        "[engine]\nwindows = [\"1h\"]\n[alerts]\nwindow = \"15m\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("alerts.window"), "{err}");
}

#[test]
fn expiry_bookkeeping_stays_proportional_to_contacts_in_memory() {
    // many short contacts over hours: finished ones must not leave bookkeeping behind
    let cfg = config("");
    let t0 = at(T0);
    let mut engine = callpulse::engine::Engine::new(cfg.center.clone());
    for i in 0..50_000i64 {
        let t = t0 + i * 500;
        let c = format!("c{i}");
        engine.ingest(offered(t, &c, "q").as_bytes()).unwrap();
        engine.ingest(answered(t + 100, &c).as_bytes()).unwrap();
        engine.ingest(ended(t + 200, &c).as_bytes()).unwrap();
        if i % 1000 == 0 {
            engine.advance(t);
        }
    }
    engine.advance(t0 + 50_000 * 500);
    assert!(engine.open_contacts() < 200, "{}", engine.open_contacts());
    // without compaction each finished contact would leave its 8 h timeout entry: ~50,000
    assert!(
        engine.expiry_entries() < 10_000,
        "{}",
        engine.expiry_entries()
    );
}

#[test]
fn today_and_interval_do_not_keep_the_day_in_memory() {
    let cfg = config("[engine]\nwindows = [\"5m\"]\ninterval = \"15m\"\n");
    // From 18:00Z across midnight to 05:52Z: one contact every 10 s, answered after 5 s,
    // ended a minute later.
    let start = at("2026-11-23T18:00:00Z");
    let midnight = at("2026-11-24T00:00:00Z");
    let end = at("2026-11-24T05:52:00Z");
    let mut engine = callpulse::engine::Engine::new(cfg.center.clone());
    let mut offers: Vec<Millis> = Vec::new();
    let mut most_facts = 0;
    let mut now = start;
    for t in (start..end).step_by(10_000) {
        let c = format!("c{}", offers.len());
        for line in [
            offered(t, &c, "q"),
            answered(t + 5 * SECOND, &c),
            ended(t + 65 * SECOND, &c),
        ] {
            engine.ingest(line.as_bytes()).unwrap();
        }
        offers.push(t);
        now = t + 65 * SECOND;
        engine.advance(now);
        most_facts = most_facts.max(engine.facts_held());
        if t == midnight - 10 * MINUTE {
            // before midnight `today` holds every contact since 18:00
            let snap = engine.snapshot();
            assert_eq!(
                window(&snap, "q", "today").tally.offered,
                offers.len() as i64
            );
            assert!(offers.len() > 2000);
        }
    }
    let held_since = |from: Millis| offers.iter().filter(|&&o| from <= o && o < now).count() as i64;
    // About 12 hours and 4,200 contacts went through; memory held only minutes of them.
    assert!(offers.len() > 4000);
    assert!(
        most_facts < 1000,
        "{most_facts} facts held at most: the tumbling windows must not keep theirs"
    );
    // `today` restarted at midnight, `interval` at 05:45, each with every contact since
    let snap = engine.snapshot();
    let today = window(&snap, "q", "today");
    assert_eq!(today.tally.offered, held_since(midnight));
    assert_eq!(today.tally.answered, held_since(midnight));
    assert_eq!(today.tally.offered, 2112);
    let interval = window(&snap, "q", "interval");
    assert_eq!(
        interval.tally.offered,
        held_since(at("2026-11-24T05:45:00Z"))
    );
    assert_eq!(
        window(&snap, "q", "5m").tally.offered,
        held_since(now - 5 * MINUTE)
    );
}

#[test]
fn today_takes_a_correction_older_than_every_rolling_window() {
    // Live, the wall clock runs ahead of a lagging stream: a fact can be older than every
    // rolling window and still not final. A late event that corrects it must reach `today`.
    let cfg = config("[engine]\nwindows = [\"1m\"]\n");
    let t0 = at(T0);
    let mut engine = run(&cfg, &[offered(t0, "c1", "q")], t0 + 10 * MINUTE);
    let snap = engine.snapshot();
    let today = window(&snap, "q", "today");
    assert_eq!((today.tally.sl_offered, today.tally.sl_answered), (1, 0));
    engine
        .ingest(answered(t0 + 10 * SECOND, "c1").as_bytes())
        .unwrap();
    engine.advance(t0 + 10 * MINUTE + SECOND);
    let in_order = run(
        &cfg,
        &[offered(t0, "c1", "q"), answered(t0 + 10 * SECOND, "c1")],
        t0 + 10 * MINUTE + SECOND,
    );
    let (late, ordered) = (engine.snapshot(), in_order.snapshot());
    let today = window(&late, "q", "today");
    assert_eq!(
        (
            today.tally.sl_offered,
            today.tally.sl_answered,
            today.tally.answered
        ),
        (1, 1, 1)
    );
    assert_eq!(exposition(&late), exposition(&ordered));
}
