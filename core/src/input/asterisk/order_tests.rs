//! Unit tests of the `asterisk` adapter across seconds (docs/inputs.md): records out of order
//! within the reorder allowance map as in time order, agent states and wrap-up ends included;
//! a record with a wrong clock costs nothing else; a record beyond the allowance is counted;
//! FULL / JOINEMPTY end a waiting visit of their call.

use serde_json::Value;

use super::tests::{line, of_type, run, T};
use super::*;
use crate::event::RejectReason;

/// The events of `records`, in a canonical order (the order they went out in may differ).
fn events(records: &[String]) -> Vec<String> {
    let mut ev: Vec<String> = run(records).iter().map(Value::to_string).collect();
    ev.sort();
    ev
}

fn call_with_wrapup() -> Vec<String> {
    vec![
        line(0, "NONE", "sales", "SIP/1127", "ADDMEMBER", ""),
        line(1, "c1", "sales", "NONE", "ENTERQUEUE", "|555|1"),
        line(12, "c1", "sales", "SIP/1127", "CONNECT", "11|x|1"),
        line(20, "c1", "sales", "SIP/1127", "COMPLETECALLER", "11|8|1"),
        line(20, "NONE", "sales", "SIP/1127", "WRAPUPSTART", "10"),
        line(30, "c2", "sales", "NONE", "ENTERQUEUE", "|556|1"),
    ]
}

#[test]
fn rows_a_second_out_of_order_keep_the_wrapupstart_pairing() {
    let in_order = call_with_wrapup();
    // COMPLETECALLER and WRAPUPSTART of 10:00:20 arrive after the row of 10:00:30
    let mut late = in_order.clone();
    let thirty = late.remove(5);
    late.insert(3, thirty);
    let ev = run(&late);
    assert_eq!(of_type(&ev, "contact.ended")[0]["wrapup"], true);
    let ends = of_type(&ev, "contact.wrapup_ended");
    assert_eq!(ends.len(), 1, "{ev:#?}");
    assert_eq!(
        ends[0]["ts"],
        (T + 30) * 1000,
        "handle 8 s + 10 s of wrap-up"
    );
    assert_eq!(events(&late), events(&in_order));
}

#[test]
fn addmember_lines_out_of_order_each_give_their_agent_state() {
    let records = [
        line(400, "NONE", "sales", "SIP/1", "ADDMEMBER", ""),
        line(500, "NONE", "sales", "SIP/2", "ADDMEMBER", ""),
        line(450, "NONE", "sales", "SIP/3", "ADDMEMBER", ""),
        line(450, "NONE", "sales", "SIP/4", "ADDMEMBER", ""),
    ];
    let ev = run(&records);
    assert_eq!(of_type(&ev, "agent.state").len(), 4, "{ev:#?}");
    let mut sorted = records.to_vec();
    sorted.sort();
    assert_eq!(events(&records), events(&sorted));
}

#[test]
fn every_order_within_the_allowance_maps_the_same() {
    let records = call_with_wrapup();
    let want = events(&records);
    // every rotation and the reverse, all within the allowance of 59 s
    for k in 0..records.len() {
        let mut r = records.clone();
        r.rotate_left(k);
        assert_eq!(events(&r), want, "{r:#?}");
    }
    let reversed: Vec<String> = records.iter().rev().cloned().collect();
    assert_eq!(events(&reversed), want);
}

#[test]
fn one_line_an_hour_ahead_costs_no_later_agent_state_or_wrapup_end() {
    let records = call_with_wrapup();
    let mut with_outlier = records.clone();
    with_outlier.insert(2, line(3_600, "x9", "sales", "NONE", "ENTERQUEUE", "|1|1"));
    let ev = run(&with_outlier);
    let without = run(&records);
    for kind in ["agent.state", "contact.wrapup_ended", "contact.ended"] {
        assert_eq!(
            of_type(&ev, kind),
            of_type(&without, kind),
            "{kind}: {ev:#?}"
        );
    }
}

#[test]
fn a_record_beyond_the_allowance_is_too_late_and_counted() {
    let mut a = Asterisk::new(AsteriskSettings::default());
    let mut out = Vec::new();
    for r in [
        line(0, "c1", "sales", "NONE", "ENTERQUEUE", "|"),
        line(50, "c2", "sales", "NONE", "ENTERQUEUE", "|"),
        line(100, "c3", "sales", "NONE", "ENTERQUEUE", "|"),
    ] {
        a.map(r.as_bytes(), &mut out).ok();
    }
    let late = line(5, "c1", "sales", "NONE", "ABANDON", "1|1|5");
    let got = a.map(late.as_bytes(), &mut out).map_err(|r| r.reason);
    assert_eq!(got, Err(RejectReason::TooLate));
    // within the allowance it is mapped
    let ok = line(55, "c2", "sales", "SIP/7", "CONNECT", "1|x|1");
    assert_eq!(a.map(ok.as_bytes(), &mut out), Ok("connect"));
}

#[test]
fn full_while_the_call_waits_in_the_queue_ends_that_visit() {
    for (verb, reason) in [("FULL", "full"), ("JOINEMPTY", "no_agents")] {
        let records = [
            line(0, "c1", "sales", "NONE", "ENTERQUEUE", "|555|1"),
            line(10, "c1", "sales", "NONE", verb, ""),
        ];
        for order in [records.to_vec(), records.iter().rev().cloned().collect()] {
            let ev = run(&order);
            assert_eq!(of_type(&ev, "contact.offered").len(), 1, "{ev:#?}");
            let out = of_type(&ev, "contact.overflowed");
            assert_eq!(out.len(), 1);
            assert_eq!(out[0]["reason"], reason);
            assert_eq!(out[0]["ts"], (T + 10) * 1000);
        }
    }
    // after the visit ended, or in another queue, a FULL offers and overflows at once
    let ev = run(&[
        line(0, "c1", "sales", "NONE", "ENTERQUEUE", "|555|1"),
        line(5, "c1", "sales", "NONE", "ABANDON", "1|1|5"),
        line(10, "c1", "sales", "NONE", "FULL", ""),
        line(10, "c1", "care", "NONE", "FULL", ""),
    ]);
    assert_eq!(of_type(&ev, "contact.offered").len(), 3, "{ev:#?}");
}
