//! The simulator's own tests: every event valid, ordered and keyed; determinism; scenario and
//! staffing names; bounded memory; the business clock; Erlang C. Runs through the engine are in
//! `tests/it/sim.rs`.

use super::model::{erlang_c, erlang_c_agents, erlang_c_service_level, queue_name};
use super::*;
use crate::event::{Body, Limits};
use crate::input::callpulse::decode;
use crate::time::MINUTE;
use std::collections::BTreeMap;

/// 2026-11-23T09:00:00Z, a Monday morning.
const MONDAY_9: i64 = 1_795_424_400_000;

fn cfg(scenario: Scenario, seed: u64) -> SimConfig {
    let mut c = SimConfig {
        rate: 0.4,
        scenario,
        seed,
        start_ms: MONDAY_9,
        ..SimConfig::default()
    };
    c.agents = c.recommended_agents();
    c
}

fn run(c: SimConfig, hours: i64) -> Vec<SimEvent> {
    let mut sim = Simulator::new(c.clone());
    let mut out = Vec::new();
    sim.advance(c.start_ms + hours * HOUR, &mut out);
    out
}

fn kind(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["type"].as_str().unwrap().to_string()
}

#[test]
fn scenario_and_staffing_names_round_trip() {
    for s in Scenario::ALL {
        assert_eq!(s.as_str().parse::<Scenario>(), Ok(s));
    }
    assert!("blackout".parse::<Scenario>().is_err());
    for s in Staffing::ALL {
        assert_eq!(s.to_string().parse::<Staffing>(), Ok(s));
    }
    assert_eq!(
        "lavish".parse::<Staffing>(),
        Err(UnknownStaffing("lavish".into()))
    );
    assert_eq!(Staffing::default(), Staffing::Realistic);
    assert_eq!(queue_name(5), "queue-06");
    let sim = Simulator::new(SimConfig {
        queues: 7,
        ..SimConfig::default()
    });
    assert_eq!(
        sim.queue_names(),
        [
            "sales",
            "support",
            "billing",
            "retention",
            "tech",
            "queue-06",
            "queue-07"
        ]
    );
}

#[test]
fn every_event_is_valid_ordered_and_keyed() {
    let limits = Limits::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for staffing in Staffing::ALL {
        for scenario in Scenario::ALL {
            let c = SimConfig {
                staffing,
                ..cfg(scenario, 7)
            };
            let c = SimConfig {
                agents: c.recommended_agents(),
                ..c
            };
            let events = run(c, 2);
            assert!(events.len() > 5_000, "{}", events.len());
            let mut last = i64::MIN;
            let (mut ints, mut strs) = (0, 0);
            for e in &events {
                let ev = decode(e.json.as_bytes(), &limits)
                    .unwrap_or_else(|r| panic!("{r}: {}", e.json));
                assert_eq!(ev.ts, e.ts_ms, "{}", e.json);
                assert!(e.ts_ms >= last, "out of order: {}", e.json);
                last = e.ts_ms;
                assert_eq!(e.key, super::CENTER_KEY, "keyed by the center");
                if e.json.contains("\"ts\":\"") {
                    strs += 1;
                } else {
                    ints += 1;
                }
                *seen.entry(kind(&e.json)).or_default() += 1;
            }
            assert!(ints > events.len() / 4 && strs > events.len() / 2);
        }
    }
    for k in [
        "agent.state",
        "contact.offered",
        "contact.answered",
        "contact.abandoned",
        "contact.overflowed",
        "contact.held",
        "contact.resumed",
        "contact.transferred",
        "contact.ended",
        "contact.wrapup_ended",
        "survey.submitted",
    ] {
        assert!(seen.get(k).copied().unwrap_or(0) > 0, "no {k}: {seen:?}");
    }
}

#[test]
fn same_seed_same_output_in_any_chunking() {
    for staffing in Staffing::ALL {
        let c = SimConfig {
            staffing,
            ..cfg(Scenario::Outage, 42)
        };
        let whole = run(c.clone(), 1);
        let mut sim = Simulator::new(c.clone());
        let mut chunked = Vec::new();
        let mut t = c.start_ms;
        while t < c.start_ms + HOUR {
            t += 777;
            sim.advance(t.min(c.start_ms + HOUR), &mut chunked);
        }
        assert_eq!(whole, chunked);
        let other = run(SimConfig { seed: 43, ..c }, 1);
        assert_ne!(whole, other);
    }
}

#[test]
fn memory_stays_bounded_over_days() {
    let c = SimConfig {
        rate: 0.2,
        agents: 60,
        seed: 9,
        start_ms: MONDAY_9,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(c.clone());
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    for day in 1..=4 {
        sim.advance(c.start_ms + day * DAY, &mut out);
        out.clear();
        let waiting: usize = sim.queues.iter().map(|q| q.waiting.len()).sum();
        sizes.push((sim.contacts.len(), sim.heap.len(), waiting));
    }
    let (c1, h1, _) = sizes[0];
    for &(c, h, w) in &sizes {
        assert!(
            c <= c1 * 2 + 50 && h <= h1 * 2 + 200 && w < 1000,
            "{sizes:?}"
        );
    }
}

#[test]
fn day_shift_moves_the_business_day() {
    let offered_in_first_hour = |day_shift_ms| {
        let c = SimConfig {
            rate: 0.4,
            // 02:00Z, a quiet hour
            start_ms: MONDAY_9 - 7 * HOUR,
            day_shift_ms,
            ..SimConfig::default()
        };
        run(c, 1)
            .iter()
            .filter(|e| kind(&e.json) == "contact.offered")
            .count()
    };
    let night = offered_in_first_hour(0);
    let morning = offered_in_first_hour(8 * HOUR); // business clock at 10:00
    assert!(morning > 5 * night, "{morning} vs {night}");
}

#[test]
fn erlang_c_matches_textbook_values() {
    // 10 Erlangs (calls of 180 s), 12 agents: P(wait) 0.449, 64 % within 20 s; 13 agents give
    // 79.6 %, so 80/20 takes 14.
    assert!(
        (erlang_c(12, 10.0) - 0.4493).abs() < 1e-3,
        "{}",
        erlang_c(12, 10.0)
    );
    let sl = erlang_c_service_level(12, 10.0, 180.0, 20.0);
    assert!((sl - 0.6402).abs() < 1e-3, "{sl}");
    assert_eq!(erlang_c_agents(10.0, 180.0, 20.0, 0.8), 14);
    assert_eq!(erlang_c(5, 5.0), 1.0);
    // Large loads stay finite and need only a little more than the load.
    let n = erlang_c_agents(250.0, 280.0, 30.0, 0.8);
    assert!((251..=270).contains(&n), "{n}");
}

/// Agents logged in at the end of `c`'s first `hours`, by their `agent.state` events.
fn logged_in_after(c: &SimConfig, hours: i64) -> usize {
    let mut state: BTreeMap<String, bool> = BTreeMap::new();
    for e in run(c.clone(), hours) {
        let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
        if v["type"] == "agent.state" {
            let name = v["agent"].as_str().unwrap().to_string();
            state.insert(name, v["state"] != "logged_out");
        }
    }
    state.values().filter(|&&on| on).count()
}

#[test]
fn realistic_staffing_logs_in_far_fewer_agents_than_generous() {
    // 09:00 to 10:00, the morning ramp, at the demo's rate (two seeds).
    let at = |staffing| {
        let mut c = SimConfig {
            staffing,
            start_ms: MONDAY_9,
            ..SimConfig::default()
        };
        c.agents = c.recommended_agents();
        logged_in_after(&c, 1) + logged_in_after(&SimConfig { seed: 2, ..c }, 1)
    };
    let (realistic, generous) = (at(Staffing::Realistic), at(Staffing::Generous));
    eprintln!("logged in at 10:00 (two seeds): realistic {realistic}, generous {generous}");
    assert!(
        realistic < generous * 85 / 100 && realistic > generous / 2,
        "{realistic} vs {generous}"
    );
}

#[test]
fn generation_speed() {
    let c = SimConfig {
        rate: 2.0,
        agents: SimConfig::default().recommended_agents(),
        start_ms: MONDAY_9,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(c.clone());
    let mut out = Vec::with_capacity(1 << 16);
    let started = std::time::Instant::now();
    let mut n = 0;
    let mut t = c.start_ms;
    while t < c.start_ms + 2 * HOUR {
        t += MINUTE;
        sim.advance(t, &mut out);
        n += out.len();
        out.clear();
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{n} events in {secs:.3} s: {:.0} events/s ({} agents)",
        n as f64 / secs,
        c.agents
    );
    assert!(n > 50_000);
}

#[test]
fn keyed_by_contact_every_contact_event_carries_its_contact_id_as_key() {
    let queued = run(cfg(Scenario::Normal, 3), 1);
    let c = SimConfig {
        key_by_contact: true,
        ..cfg(Scenario::Normal, 3)
    };
    let keyed = run(c, 1);
    // the same traffic, keyed otherwise
    assert_eq!(keyed.len(), queued.len());
    let mut contacts = std::collections::HashSet::new();
    for (k, q) in keyed.iter().zip(&queued) {
        assert_eq!(k.json, q.json);
        let ev = decode(k.json.as_bytes(), &Limits::default()).unwrap();
        match &ev.body {
            Body::Contact(c) => {
                assert_eq!(k.key, c.contact_id.as_ref(), "{}", k.json);
                contacts.insert(k.key.clone());
            }
            Body::Agent(_) => assert_eq!(k.key, q.key, "agent events keep the center's key"),
        }
    }
    assert!(contacts.len() > 100, "{} contacts", contacts.len());
}

#[test]
fn keyed_by_queue_every_event_carries_its_queue_as_key() {
    let c = SimConfig {
        key_by_queue: true,
        ..cfg(Scenario::Normal, 3)
    };
    let names = Simulator::new(c.clone()).queue_names();
    for e in run(c, 1) {
        assert!(names.contains(&e.key), "{}", e.key);
        let ev = decode(e.json.as_bytes(), &Limits::default()).unwrap();
        if let Body::Contact(c) = &ev.body {
            if let Some(q) = &c.queue {
                if c.step != crate::event::ContactStep::Survey {
                    assert_eq!(q.as_ref(), e.key);
                }
            }
        }
    }
}
