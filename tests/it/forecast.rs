//! The forecast gauges (docs/metrics.md) from a hand-made history whose lambda, h and n are known,
//! against Erlang C computed here by its definition (powers and factorials), not the recursion.

use callpulse::export::to_json;
use callpulse::time::{Millis, MINUTE, SECOND};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T10:00:00Z";

/// docs/metrics.md's `C(n, a)`, literally.
fn erlang_c(n: u64, a: f64) -> f64 {
    let fact = |k: u64| (1..=k).map(|i| i as f64).product::<f64>();
    let top = a.powi(n as i32) / fact(n) * n as f64 / (n as f64 - a);
    let sum: f64 = (0..n).map(|k| a.powi(k as i32) / fact(k)).sum();
    top / (sum + top)
}

fn sl(n: u64, a: f64, t: f64, h: f64) -> f64 {
    if n as f64 > a {
        1.0 - erlang_c(n, a) * (-(n as f64 - a) * t / h).exp()
    } else {
        0.0
    }
}

fn agent(ts: Millis, name: &str, state: &str) -> String {
    ev(
        ts,
        "agent.state",
        json!({"agent": name, "state": state, "queues": ["q"]}),
    )
}

/// 60 contacts offered in the 15 minutes before `now` (one every 15 s), each answered after
/// 5 s; the first `completed` of them ended after `talk + step·i` seconds of talk. Agents: 4
/// available, 7 busy, 2 in wrap-up (n = 13), 3 not ready and 1 logged out (not counted).
fn history(completed: i64, talk: i64, step: i64) -> Vec<String> {
    let t0 = at(T0);
    let mut lines: Vec<(Millis, String)> = Vec::new();
    let states = [
        ("available", 4),
        ("busy", 7),
        ("wrapup", 2),
        ("not_ready", 3),
        ("logged_out", 1),
    ];
    let mut k = 0;
    for (state, count) in states {
        for _ in 0..count {
            k += 1;
            lines.push((t0, agent(t0, &format!("ag{k}"), state)));
        }
    }
    for i in 0..60 {
        let offer = t0 + i * 15 * SECOND;
        let id = format!("c{i}");
        lines.push((offer, offered(offer, &id, "q")));
        lines.push((offer + 5 * SECOND, answered(offer + 5 * SECOND, &id)));
        if i < completed {
            let end = offer + 5 * SECOND + (talk + step * i) * SECOND;
            lines.push((end, ended(end, &id)));
        }
    }
    lines.sort_by_key(|(ts, _)| *ts);
    lines.into_iter().map(|(_, l)| l).collect()
}

#[test]
fn forecast_gauges_equal_erlang_c_of_the_window_and_the_agents() {
    let cfg = config("[queues.q]\nsl_threshold = \"20s\"\nsl_target = 0.8\n[queues.idle]\n");
    let now = at(T0) + 15 * MINUTE;
    let snap = run(&cfg, &history(30, 100, 4), now).snapshot();
    // the inputs, as the contract defines them
    let w = window(&snap, "q", "15m");
    assert_eq!((w.tally.offered, w.completed()), (60, 30));
    let lambda = 60.0 / 900.0;
    let h = (0..30).map(|i| 100.0 + 4.0 * i as f64).sum::<f64>() / 30.0; // 158 s
    let a = lambda * h; // 10.533 Erlangs
    let (n, t, target) = (13, 20.0, 0.8);
    assert_eq!(queue(&snap, "q").agents, [4, 3, 7, 2]);

    let text = exposition(&snap);
    let got = |name: &str| sample(&text, &format!("{name}{{queue=\"q\"}}"));
    let want_sl = sl(n, a, t, h);
    let want_asa = erlang_c(n, a) * h / (n as f64 - a);
    let got_sl = got("callcenter_forecast_service_level_ratio").unwrap();
    let got_asa = got("callcenter_forecast_asa_seconds").unwrap();
    assert!((got_sl - want_sl).abs() < 1e-6, "{got_sl} vs {want_sl}");
    assert!((got_asa - want_asa).abs() < 1e-6, "{got_asa} vs {want_asa}");
    // 13 agents for 10.5 Erlangs fall short of 80 % in 20 s: more are required, and the
    // number exported is the least that meets the target
    assert!(want_sl < target, "{want_sl}");
    let required = got("callcenter_forecast_agents_required").unwrap();
    let m = (a.floor() as u64 + 1..)
        .find(|&m| sl(m, a, t, h) >= target)
        .unwrap();
    assert_eq!(required, m as f64);
    assert!(required > n as f64 && sl(m, a, t, h) >= target && sl(m - 1, a, t, h) < target);
    // families carry HELP and TYPE, and a queue without traffic has no forecast
    for name in [
        "callcenter_forecast_service_level_ratio",
        "callcenter_forecast_asa_seconds",
        "callcenter_forecast_agents_required",
    ] {
        assert!(text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        assert_eq!(sample(&text, &format!("{name}{{queue=\"idle\"}}")), None);
    }
    // the JSON snapshot has the same numbers
    let j = to_json(&snap);
    let jq = &j["queues"]["q"];
    assert_eq!(jq["forecast_service_level_ratio"].as_f64(), Some(got_sl));
    assert_eq!(jq["forecast_asa_seconds"].as_f64(), Some(got_asa));
    assert_eq!(jq["forecast_agents_required"].as_u64(), Some(m));
    assert!(j["queues"]["idle"]["forecast_agents_required"].is_null());
}

#[test]
fn no_forecast_without_a_completed_leg_and_none_past_the_load() {
    let cfg = config("[queues.q]\n");
    let now = at(T0) + 15 * MINUTE;
    // offered and answered, nothing completed in the window: no h, all three absent
    let text = exposition(&run(&cfg, &history(0, 100, 4), now).snapshot());
    for name in [
        "callcenter_forecast_service_level_ratio",
        "callcenter_forecast_asa_seconds",
        "callcenter_forecast_agents_required",
    ] {
        assert_eq!(
            sample(&text, &format!("{name}{{queue=\"q\"}}")),
            None,
            "{name}"
        );
    }
    // ten completed after 250 s: a = 60 / 900 * 250 = 16.7 Erlangs > 13 agents: SL 0, no
    // ASA, and still the agents required
    let snap = run(&cfg, &history(10, 250, 0), now).snapshot();
    assert_eq!(window(&snap, "q", "15m").aht(), Some(250.0));
    let text = exposition(&snap);
    let got = |name: &str| sample(&text, &format!("{name}{{queue=\"q\"}}"));
    assert_eq!(got("callcenter_forecast_service_level_ratio"), Some(0.0));
    assert_eq!(got("callcenter_forecast_asa_seconds"), None);
    let a = 60.0 / 900.0 * 250.0;
    let m = (17..).find(|&m| sl(m, a, 20.0, 250.0) >= 0.8).unwrap();
    assert_eq!(got("callcenter_forecast_agents_required"), Some(m as f64));
}

#[test]
fn the_forecast_reads_the_configured_window() {
    // forecast_window = "1h": lambda = 60 offers / 3600 s, h over the same hour
    let cfg = config("[engine]\nforecast_window = \"1h\"\n[queues.q]\n");
    let now = at(T0) + 15 * MINUTE;
    let snap = run(&cfg, &history(30, 100, 4), now).snapshot();
    let w = window(&snap, "q", "1h");
    let (h, a) = (w.aht().unwrap(), 60.0 / 3600.0 * w.aht().unwrap());
    let text = exposition(&snap);
    let got = sample(
        &text,
        "callcenter_forecast_service_level_ratio{queue=\"q\"}",
    )
    .unwrap();
    assert!((got - sl(13, a, 20.0, h)).abs() < 1e-6, "{got}");
}
