//! The order-independence property through the Asterisk reader (docs/inputs.md): realtime
//! queue_log rows shuffled within the lateness give the exposition of the rows in time order —
//! agent states, WRAPUPSTART pairing and wrap-up ends included, and a FULL while the caller
//! still waits in the queue.

use callpulse::config::{InputConfig, InputFormat};
use callpulse::event::RejectReason;
use callpulse::time::{Millis, SECOND};
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

/// One realtime row at `at` (epoch milliseconds, written as seconds with a fraction).
fn row(at: Millis, callid: &str, queue: &str, agent: &str, verb: &str, data: &str) -> String {
    json!({
        "time": format!("{}.{:03}", at / 1000, at % 1000),
        "callid": callid,
        "queuename": queue,
        "agent": agent,
        "event": verb,
        "data": data,
    })
    .to_string()
}

/// A call's rows: `shape` picks its course, `d` are durations in tenths of seconds.
fn call_rows(
    i: usize,
    queue: &str,
    agent: &str,
    t0: Millis,
    shape: u8,
    d: [u32; 3],
) -> Vec<(Millis, String)> {
    let c = format!("c{i}");
    let dur = |k: usize| Millis::from(d[k]) * 100;
    let mut out = vec![];
    let mut push = |at: Millis, agent: &str, verb: &str, data: String| {
        out.push((at, row(at, &c, queue, agent, verb, &data)))
    };
    if shape % 5 != 3 {
        push(t0, "NONE", "ENTERQUEUE", format!("|55500{}|1", i % 7));
    }
    let wait = dur(0);
    match shape % 5 {
        0 => {
            let ta = t0 + wait;
            push(ta, agent, "CONNECT", format!("{}|x|1", wait / 1000));
            let te = ta + dur(1);
            push(
                te,
                agent,
                "COMPLETECALLER",
                format!("{}|{}|1", wait / 1000, dur(1) / 1000),
            );
            if d[2].is_multiple_of(2) {
                // written a few milliseconds after the COMPLETE, in the same second or not
                let at = (te + 3).min(te / 1000 * 1000 + 999);
                push(at, agent, "WRAPUPSTART", format!("{}", d[2] % 30));
            }
        }
        1 => push(t0 + wait, "NONE", "ABANDON", format!("1|1|{}", wait / 1000)),
        // a FULL while the caller still waits in the queue ends that visit
        2 => push(t0 + wait, "NONE", "FULL", String::new()),
        3 => push(
            t0,
            "NONE",
            if d[1].is_multiple_of(2) {
                "FULL"
            } else {
                "JOINEMPTY"
            },
            String::new(),
        ),
        _ => push(t0 + wait, "NONE", "EXITWITHTIMEOUT", "1|1|1".into()),
    }
    out
}

/// Rows of a few agents and many calls, sorted by time.
fn arb_rows() -> impl Strategy<Value = Vec<(Millis, String)>> {
    let call = (
        0u8..5,
        0usize..2,
        0usize..3,
        0i64..900,
        prop::array::uniform3(0u32..400),
    );
    let pause = (0usize..3, 0i64..900, 1i64..120);
    (
        prop::collection::vec(call, 1..30),
        prop::collection::vec(pause, 0..4),
    )
        .prop_map(|(calls, pauses)| {
            let base = at(T0);
            let queues = ["sales", "care"];
            let agents = ["PJSIP/7001", "PJSIP/7002", "Local/7003@from-queue"];
            let mut all = Vec::new();
            for (k, a) in agents.iter().enumerate() {
                let at = base + k as Millis * 250;
                all.push((at, row(at, "NONE", queues[k % 2], a, "ADDMEMBER", "")));
            }
            for (i, (shape, q, a, start_s, d)) in calls.into_iter().enumerate() {
                let t0 = base + SECOND + start_s * SECOND + (i as Millis % 7) * 130;
                all.extend(call_rows(i, queues[q], agents[a], t0, shape, d));
            }
            for (a, start_s, len_s) in pauses {
                let t = base + SECOND + start_s * SECOND;
                all.push((t, row(t, "NONE", "NONE", agents[a], "PAUSE", "lunch")));
                let u = t + len_s * SECOND;
                all.push((u, row(u, "NONE", "NONE", agents[a], "UNPAUSE", "")));
            }
            all.sort();
            all
        })
}

/// Proptest cases: 32, or `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// The exposition of `rows` at `now`, the engine's counts, and the callers still waiting.
fn replayed(rows: &[String], now: Millis) -> (String, callpulse::engine::EngineStats, i64) {
    let input = InputConfig {
        format: InputFormat::Asterisk,
        ..InputConfig::default()
    };
    let r =
        callpulse::replay::replay_input(config(""), &input, rows.join("\n").as_bytes(), Some(now))
            .unwrap();
    let waiting = r.snapshot.queues.iter().map(|q| q.waiting).sum();
    (exposition(&r.snapshot), r.stats, waiting)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Realtime rows in any arrival order within the lateness (58 s of disorder under the
    /// default 60 s) give the exposition of the rows in time order, nothing is too late, and
    /// no caller is left waiting by a FULL after its ENTERQUEUE.
    #[test]
    fn realtime_rows_shuffled_within_the_lateness_give_identical_exposition(
        rows in arb_rows(),
        jitter in prop::collection::vec(0i64..58_000, 200),
        eval_after_s in 1i64..900,
    ) {
        let in_order: Vec<String> = rows.iter().map(|(_, r)| r.clone()).collect();
        let mut keyed: Vec<(Millis, usize, &String)> = rows
            .iter()
            .enumerate()
            .map(|(i, (ts, r))| (ts + jitter[i % jitter.len()], i, r))
            .collect();
        keyed.sort();
        let shuffled: Vec<String> = keyed.into_iter().map(|(_, _, r)| r.clone()).collect();
        let now = rows.last().unwrap().0 / 1000 * 1000 + eval_after_s * SECOND;
        let (a, stats_a, waiting) = replayed(&in_order, now);
        let (b, stats_b, _) = replayed(&shuffled, now);
        // every call's course ends: a FULL while its caller waits leaves no phantom caller
        prop_assert_eq!(waiting, 0);
        prop_assert_eq!(stats_a.rejected(RejectReason::TooLate), 0);
        prop_assert_eq!(stats_b.rejected(RejectReason::TooLate), 0);
        prop_assert_eq!(&stats_a.rejected, &stats_b.rejected);
        prop_assert_eq!(a, b);
    }
}
