//! Agent time through the whole engine: window edges, queue lists, logged-out gaps, `today` on
//! its local clock, and late `agent.state` events. Expected values are worked out by hand.

use std::sync::Arc;

use crate::engine::Engine;
use crate::event::{AgentEvent, AgentState, Body, Event};
use crate::settings::Settings;
use crate::time::{parse_rfc3339, Millis, HOUR, MINUTE, SECOND};

use AgentState::*;

fn t(s: &str) -> Millis {
    parse_rfc3339(s).unwrap_or_else(|| panic!("{s}"))
}

const T0: &str = "2026-11-23T10:00:00Z";

/// An engine keeping every window (the `full` export profile).
fn engine(cfg: &str) -> Engine {
    let cfg = format!("{cfg}\n[export]\nprofile = \"full\"\n");
    Engine::new(Arc::new(
        Settings::parse(&cfg).unwrap_or_else(|e| panic!("{e}")),
    ))
}

fn agent(e: &mut Engine, at: Millis, name: &str, state: AgentState, queues: Option<&[&str]>) {
    let event = Event {
        id: None,
        ts: at,
        body: Body::Agent(AgentEvent {
            agent: name.into(),
            state,
            queues: queues.map(|qs| qs.iter().map(|&q| q.into()).collect()),
            reason: None,
        }),
    };
    e.apply(&event).unwrap_or_else(|r| panic!("{r:?}"));
}

/// Agent-seconds of `queue` in `state` over `window`, and the queue's occupancy there.
fn secs(e: &Engine, queue: &str, window: &str, state: AgentState) -> f64 {
    let snap = e.snapshot();
    let i = snap.window_index(window).expect("window");
    let q = snap.queues.iter().find(|q| q.name == queue).expect("queue");
    q.agent_time[i].seconds(state)
}

fn occupancy(e: &Engine, queue: &str, window: &str) -> Option<f64> {
    let snap = e.snapshot();
    let i = snap.window_index(window).expect("window");
    let q = snap.queues.iter().find(|q| q.name == queue).expect("queue");
    q.agent_time[i].occupancy()
}

#[test]
fn a_state_held_across_the_window_edge_counts_only_inside() {
    let mut e = engine("[engine]\nwindows = [\"5m\"]\n");
    let t0 = t(T0);
    agent(&mut e, t0 - 2 * MINUTE, "a", Available, Some(&["q"]));
    agent(&mut e, t0 + MINUTE, "a", Busy, None);
    e.advance(t0 + 5 * MINUTE);
    // [10:00, 10:05): available 10:00-10:01, busy 10:01-10:05
    assert_eq!(secs(&e, "q", "5m", Available), 60.0);
    assert_eq!(secs(&e, "q", "5m", Busy), 240.0);
    assert_eq!(secs(&e, "q", "5m", NotReady), 0.0);
    assert_eq!(occupancy(&e, "q", "5m"), Some(0.8));
    // interval [10:00, 10:05) too; today [00:00, 10:05): available since 09:58
    assert_eq!(secs(&e, "q", "interval", Available), 60.0);
    assert_eq!(secs(&e, "q", "today", Available), 180.0);
    // two minutes later the available minute has left the 5m window
    e.advance(t0 + 7 * MINUTE);
    assert_eq!(secs(&e, "q", "5m", Available), 0.0);
    assert_eq!(secs(&e, "q", "5m", Busy), 300.0);
    assert_eq!(occupancy(&e, "q", "5m"), Some(1.0));
    // a jump past the window's whole length, by the millisecond
    e.advance(t0 + HOUR + 1);
    assert_eq!(secs(&e, "q", "5m", Busy), 300.0);
    assert_eq!(secs(&e, "q", "interval", Busy), 0.001);
    assert_eq!(secs(&e, "q", "today", Busy), 3540.001);
}

#[test]
fn a_change_at_a_boundary_belongs_to_the_window_it_starts() {
    let mut e = engine("[engine]\nwindows = [\"5m\"]\n");
    let t0 = t(T0);
    e.advance(t0 + 10 * MINUTE);
    agent(&mut e, t0 + 15 * MINUTE - 1, "a", Available, Some(&["q"]));
    agent(&mut e, t0 + 15 * MINUTE, "a", Busy, None);
    e.advance(t0 + 16 * MINUTE);
    // interval [10:15, 10:16): the available millisecond is before it, busy all of it
    assert_eq!(secs(&e, "q", "interval", Available), 0.0);
    assert_eq!(secs(&e, "q", "interval", Busy), 60.0);
    assert_eq!(secs(&e, "q", "5m", Available), 0.001);
}

#[test]
fn a_queue_list_change_mid_window_splits_the_seconds() {
    let mut e = engine("[engine]\nwindows = [\"5m\"]\n");
    let t0 = t(T0);
    agent(&mut e, t0, "a", Available, Some(&["x"]));
    agent(&mut e, t0 + 2 * MINUTE, "a", Available, Some(&["y"]));
    // a state change without a list keeps the latest list
    agent(&mut e, t0 + 4 * MINUTE, "a", NotReady, None);
    e.advance(t0 + 5 * MINUTE);
    assert_eq!(secs(&e, "x", "5m", Available), 120.0);
    assert_eq!(secs(&e, "x", "5m", NotReady), 0.0);
    assert_eq!(secs(&e, "y", "5m", Available), 120.0);
    assert_eq!(secs(&e, "y", "5m", NotReady), 60.0);
    assert_eq!(occupancy(&e, "y", "5m"), Some(0.0));
}

#[test]
fn an_agent_serving_two_queues_counts_in_both() {
    let mut e = engine("[engine]\nwindows = [\"5m\"]\n");
    let t0 = t(T0);
    agent(&mut e, t0, "a", Available, Some(&["x", "y", "x"]));
    agent(&mut e, t0, "b", Busy, Some(&["x"]));
    agent(&mut e, t0 + 3 * MINUTE, "a", Wrapup, None);
    e.advance(t0 + 5 * MINUTE);
    assert_eq!(secs(&e, "x", "5m", Available), 180.0);
    assert_eq!(secs(&e, "x", "5m", Busy), 300.0);
    assert_eq!(secs(&e, "x", "5m", Wrapup), 120.0);
    assert_eq!(secs(&e, "y", "5m", Available), 180.0);
    assert_eq!(secs(&e, "y", "5m", Busy), 0.0);
    assert_eq!(secs(&e, "y", "5m", Wrapup), 120.0);
    // x: (300 + 120) / (180 + 300 + 120)
    assert_eq!(occupancy(&e, "x", "5m"), Some(0.7));
}

#[test]
fn logged_out_time_counts_nowhere() {
    let mut e = engine("[engine]\nwindows = [\"5m\"]\n");
    let t0 = t(T0);
    agent(&mut e, t0, "a", Available, Some(&["q"]));
    agent(&mut e, t0 + MINUTE, "a", LoggedOut, None);
    // logs in again without a list: serves its last list
    agent(&mut e, t0 + 3 * MINUTE, "a", NotReady, None);
    agent(&mut e, t0 + 4 * MINUTE, "a", Available, None);
    e.advance(t0 + 5 * MINUTE);
    assert_eq!(secs(&e, "q", "5m", Available), 120.0);
    assert_eq!(secs(&e, "q", "5m", NotReady), 60.0);
    assert_eq!(occupancy(&e, "q", "5m"), Some(0.0));
    // nobody available, busy or in wrap-up: no occupancy
    let mut e = engine("[engine]\nwindows = [\"5m\"]\n");
    agent(&mut e, t0, "a", NotReady, Some(&["q"]));
    e.advance(t0 + 5 * MINUTE);
    assert_eq!(secs(&e, "q", "5m", NotReady), 300.0);
    assert_eq!(occupancy(&e, "q", "5m"), None);
}

#[test]
fn today_starts_at_the_local_day_start_across_dst() {
    // Berlin, day starts 04:00 local; 2026-03-29 02:00 CET -> 03:00 CEST, so the day starts at
    // 02:00Z (04:00 CEST) after starting at 03:00Z (04:00 CET) the day before.
    let mut e = engine(
        "[engine]\nwindows = [\"5m\"]\ninterval = \"30m\"\n\
         [queues.de]\ntimezone = \"Europe/Berlin\"\nday_start = \"04:00\"\n",
    );
    agent(
        &mut e,
        t("2026-03-28T20:00:00Z"),
        "a",
        Available,
        Some(&["de"]),
    );
    e.advance(t("2026-03-29T01:59:00Z"));
    // today began 2026-03-28T03:00Z; available since 20:00Z: 5 h 59 min
    assert_eq!(secs(&e, "de", "today", Available), 21_540.0);
    // interval: 03:30 CEST = 01:30Z
    assert_eq!(secs(&e, "de", "interval", Available), 29.0 * 60.0);
    e.advance(t("2026-03-29T02:00:00Z"));
    assert_eq!(secs(&e, "de", "today", Available), 0.0);
    agent(&mut e, t("2026-03-29T02:30:00Z"), "a", Busy, None);
    e.advance(t("2026-03-29T03:10:00Z"));
    assert_eq!(secs(&e, "de", "today", Available), 1800.0);
    assert_eq!(secs(&e, "de", "today", Busy), 2400.0);
    // interval: 05:00 CEST = 03:00Z
    assert_eq!(secs(&e, "de", "interval", Busy), 600.0);
}

#[test]
fn a_late_agent_state_splits_an_already_counted_span() {
    let cfg = "[engine]\nwindows = [\"5m\", \"1h\"]\nallowed_lateness = \"10m\"\n";
    let t0 = t(T0);
    let mut e = engine(cfg);
    agent(&mut e, t0, "a", Available, Some(&["q"]));
    agent(&mut e, t0 + 4 * MINUTE, "a", NotReady, None);
    e.advance(t0 + 5 * MINUTE);
    assert_eq!(secs(&e, "q", "5m", Available), 240.0);
    // busy 10:01-10:03 arrives late: the counted available span splits in three
    agent(&mut e, t0 + MINUTE, "a", Busy, None);
    agent(&mut e, t0 + 3 * MINUTE, "a", Available, None);
    for w in ["5m", "1h", "interval", "today"] {
        assert_eq!(secs(&e, "q", w, Available), 120.0, "{w}");
        assert_eq!(secs(&e, "q", w, Busy), 120.0, "{w}");
        assert_eq!(secs(&e, "q", w, NotReady), 60.0, "{w}");
    }
    // a late list change after the 5m window moved past it
    e.advance(t0 + 7 * MINUTE);
    agent(&mut e, t0 + 30 * SECOND, "a", Available, Some(&["r"]));
    e.advance(t0 + 8 * MINUTE);
    // 5m = [10:03, 10:08): available 10:03-10:04 (now in r), not_ready 10:04-10:08
    assert_eq!(secs(&e, "q", "5m", NotReady), 0.0);
    assert_eq!(secs(&e, "r", "5m", Available), 60.0);
    assert_eq!(secs(&e, "r", "5m", NotReady), 240.0);
    // 1h: q keeps 10:00-10:00:30 only
    assert_eq!(secs(&e, "q", "1h", Available), 30.0);
    assert_eq!(secs(&e, "r", "1h", Available), 30.0 + 60.0);
    assert_eq!(secs(&e, "r", "1h", Busy), 120.0);

    // the same events in order give the same numbers
    let mut o = engine(cfg);
    agent(&mut o, t0, "a", Available, Some(&["q"]));
    agent(&mut o, t0 + 30 * SECOND, "a", Available, Some(&["r"]));
    agent(&mut o, t0 + MINUTE, "a", Busy, None);
    agent(&mut o, t0 + 3 * MINUTE, "a", Available, None);
    agent(&mut o, t0 + 4 * MINUTE, "a", NotReady, None);
    o.advance(t0 + 8 * MINUTE);
    assert_eq!(
        o.snapshot().queues[0].agent_time,
        e.snapshot().queues[0].agent_time
    );
    assert_eq!(
        o.snapshot().queues[1].agent_time,
        e.snapshot().queues[1].agent_time
    );
}

#[test]
fn memory_follows_the_longest_rolling_window() {
    let mut e = engine("[engine]\nwindows = [\"5m\", \"15m\"]\n");
    let t0 = t(T0);
    for i in 0..600 {
        let state = [Available, Busy, Wrapup][i % 3];
        agent(
            &mut e,
            t0 + i as Millis * 10 * SECOND,
            "a",
            state,
            Some(&["q"]),
        );
        e.advance(t0 + i as Millis * 10 * SECOND);
    }
    // 100 minutes, one change every 10 s: the 15m window holds 90 instants × 2 states; the
    // agent's own history only what the lateness can reach
    assert!(e.facts_held() <= 2 * 91, "{}", e.facts_held());
    let day = secs(&e, "q", "today", Available)
        + secs(&e, "q", "today", Busy)
        + secs(&e, "q", "today", Wrapup);
    assert_eq!(day, 5990.0);
    assert_eq!(secs(&e, "q", "15m", Busy), 300.0);
}

#[test]
fn the_galloping_search_finds_what_a_binary_search_finds() {
    use super::Workforce;
    let mut w = Workforce::new(&[0], 0);
    for i in 0..300i64 {
        // instants with repeats and gaps, two states at some
        w.apply(i / 3 * 7, (i % 2) as usize, 1);
    }
    for t in -5..(300 / 3 * 7 + 5) {
        let want = w.changes.partition_point(|c| c.at < t);
        assert_eq!(w.index(t), want, "t = {t}");
    }
    assert_eq!(Workforce::new(&[0], 0).index(5), 0);
}
