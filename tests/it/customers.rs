//! docs/metrics.md "Customers" on hand-made histories: identified and repeat contacts (a repeat
//! exactly at `repeat_window`), abandoned customers recovered or lost (a recovery exactly at
//! `callback_window`), each in its own queue, in any arrival order; customer ids never leave
//! the engine; `max_customers` evicts and counts.

use callpulse::time::{Millis, HOUR, MINUTE, SECOND};
use serde_json::json;

use crate::support::*;

const T0: &str = "2026-11-23T08:00:00Z";
const LATE: &str = "[engine]\nallowed_lateness = \"10m\"\n";

fn call(c: &str, t0: Millis, queue: &str, customer: Option<&str>) -> String {
    let mut f = json!({"queue": queue});
    if let Some(x) = customer {
        f["customer"] = json!(x);
    }
    of(c, t0, "contact.offered", f)
}

fn total(text: &str, family: &str, queue: &str) -> Option<f64> {
    sample(text, &format!("{family}{{queue=\"{queue}\"}}"))
}

#[test]
fn repeats_count_other_contacts_of_the_customer_in_the_queue_up_to_repeat_window_before() {
    let t0 = at(T0);
    let ann = Some("+15550001");
    let lines = sorted_by_ts(&[
        call("a", t0, "sales", ann),
        // 30 minutes later: a repeat
        call("b", t0 + 30 * MINUTE, "sales", ann),
        // b's own second leg in sales: a leg of the same contact is no repeat of it, but a
        // repeat of a
        call("b", t0 + 31 * MINUTE, "sales", None),
        // the same customer in another queue: no repeat there (each queue on its own)
        call("c", t0 + 40 * MINUTE, "care", ann),
        // exactly repeat_window (24 h) after b's first offer: a repeat of b
        call("d", t0 + 30 * MINUTE + 24 * HOUR, "sales", ann),
        // a contact without a customer: not identified
        call("e", t0 + 30 * MINUTE + 24 * HOUR, "sales", None),
        // 24 h and 1 ms after d (and long after the rest): not a repeat
        call("f", t0 + 30 * MINUTE + 48 * HOUR + 1, "sales", ann),
    ]);
    let engine = run(&config(LATE), &lines, t0 + 60 * HOUR);
    let text = exposition(&engine.snapshot());
    // identified and final (f is within the lateness of the newest event, not final yet): a,
    // b (two legs), d in sales; c in care
    assert_eq!(
        total(&text, "callcenter_contacts_identified_total", "sales"),
        Some(4.0)
    );
    assert_eq!(
        total(&text, "callcenter_contacts_identified_total", "care"),
        Some(1.0)
    );
    // repeats: b (a 30 m before), b's second leg (a 31 m before), d (b exactly 24 h before)
    assert_eq!(
        total(&text, "callcenter_contacts_repeat_total", "sales"),
        Some(3.0)
    );
    assert_eq!(
        total(&text, "callcenter_contacts_repeat_total", "care"),
        Some(0.0)
    );
    // `today` (the third day) holds f alone: identified, no repeat
    assert_eq!(
        sample(
            &text,
            "callcenter_contacts_identified{queue=\"sales\",window=\"today\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "callcenter_repeat_ratio{queue=\"sales\",window=\"today\"}"
        ),
        Some(0.0)
    );
    assert!(
        !text.contains("+15550001"),
        "a customer id in the exposition"
    );
}

#[test]
fn an_abandoning_customer_is_recovered_by_an_answer_in_the_queue_within_callback_window() {
    let t0 = at(T0);
    let (ann, bob, cy) = (Some("ann"), Some("bob"), Some("cy"));
    let s = SECOND;
    let lines = sorted_by_ts(&[
        // ann gives up after 30 s, calls back and is answered 45 m later: recovered at 08:45
        call("a1", t0, "sales", ann),
        of("a1", t0 + 30 * s, "contact.abandoned", json!({})),
        call("a2", t0 + 45 * MINUTE - 20 * s, "sales", ann),
        of(
            "a2",
            t0 + 45 * MINUTE,
            "contact.answered",
            json!({"agent": "x"}),
        ),
        // bob gives up and is answered only in another queue: lost at 09:00:30 in sales
        call("b1", t0, "sales", bob),
        of("b1", t0 + 30 * s, "contact.abandoned", json!({})),
        call("b2", t0 + 10 * MINUTE, "care", bob),
        of(
            "b2",
            t0 + 10 * MINUTE + s,
            "contact.answered",
            json!({"agent": "y"}),
        ),
        // cy gives up at 08:00:30 and is answered exactly an hour later: recovered
        call("c1", t0, "sales", cy),
        of("c1", t0 + 30 * s, "contact.abandoned", json!({})),
        call("c2", t0 + HOUR, "sales", cy),
        of(
            "c2",
            t0 + HOUR + 30 * s,
            "contact.answered",
            json!({"agent": "x"}),
        ),
        // a short abandon (2 s) of ann: neither recovered nor lost
        call("a3", t0 + 2 * HOUR, "sales", ann),
        of("a3", t0 + 2 * HOUR + 2 * s, "contact.abandoned", json!({})),
    ]);
    let cfg = config(LATE);
    // at 08:50: ann recovered; bob and cy undecided
    let text = exposition(&run(&cfg, &lines, t0 + 50 * MINUTE).snapshot());
    let w = |family: &str| sample(&text, &format!("{family}{{queue=\"sales\",window=\"1h\"}}"));
    assert_eq!(w("callcenter_abandoned_recovered"), Some(1.0));
    assert_eq!(w("callcenter_abandoned_lost"), Some(0.0));
    assert_eq!(w("callcenter_lost_customer_ratio"), Some(0.0));
    // at 09:10: bob lost at 09:00:30, cy recovered at 09:00:30
    let text = exposition(&run(&cfg, &lines, t0 + 70 * MINUTE).snapshot());
    let w = |family: &str| sample(&text, &format!("{family}{{queue=\"sales\",window=\"1h\"}}"));
    assert_eq!(w("callcenter_abandoned_recovered"), Some(2.0));
    assert_eq!(w("callcenter_abandoned_lost"), Some(1.0));
    assert_eq!(w("callcenter_lost_customer_ratio"), Some(1.0 / 3.0));
    // nothing in care: bob's abandon was in sales
    assert_eq!(
        sample(
            &text,
            "callcenter_abandoned_lost{queue=\"care\",window=\"1h\"}"
        ),
        Some(0.0)
    );
    // after the short abandon's hour: still 2 recovered, 1 lost in total
    let text = exposition(&run(&cfg, &lines, t0 + 4 * HOUR).snapshot());
    assert_eq!(
        total(&text, "callcenter_abandoned_recovered_total", "sales"),
        Some(2.0)
    );
    assert_eq!(
        total(&text, "callcenter_abandoned_lost_total", "sales"),
        Some(1.0)
    );
}

#[test]
fn customer_facts_do_not_depend_on_arrival_order_within_the_lateness() {
    let t0 = at(T0);
    let s = SECOND;
    let mut lines = Vec::new();
    for i in 0..12 {
        let c = format!("c{i}");
        let who = format!("cust{}", i % 3);
        let t = t0 + i * 40 * s;
        lines.push(call(&c, t, ["sales", "care"][i as usize % 2], Some(&who)));
        if i % 3 == 0 {
            lines.push(of(&c, t + 20 * s, "contact.abandoned", json!({})));
        } else {
            lines.push(of(
                &c,
                t + 25 * s,
                "contact.answered",
                json!({"agent": "x"}),
            ));
        }
    }
    let lines = sorted_by_ts(&lines);
    let cfg = config("[engine]\nallowed_lateness = \"10m\"\n[defaults]\ncallback_window = \"3m\"\nrepeat_window = \"5m\"\n");
    let now = t0 + 20 * MINUTE;
    let in_order = exposition(&run(&cfg, &lines, now).snapshot());
    let mut reversed = lines.clone();
    reversed.reverse();
    assert_eq!(exposition(&run(&cfg, &reversed, now).snapshot()), in_order);
    // every other arrival order by a fixed interleaving
    let mut interleaved: Vec<String> = lines.iter().step_by(2).cloned().collect();
    interleaved.extend(lines.iter().skip(1).step_by(2).cloned());
    assert_eq!(
        exposition(&run(&cfg, &interleaved, now).snapshot()),
        in_order
    );
    assert!(
        sample(
            &in_order,
            "callcenter_contacts_repeat{queue=\"sales\",window=\"1h\"}"
        )
        .is_some_and(|n| n > 0.0),
        "{in_order}"
    );
}

#[test]
fn max_customers_evicts_the_least_recently_active_and_counts() {
    let t0 = at(T0);
    let lines: Vec<String> = (0..5)
        .map(|i| {
            call(
                &format!("c{i}"),
                t0 + i * MINUTE,
                "sales",
                Some(&format!("cust{i}")),
            )
        })
        .collect();
    let engine = run(
        &config("[engine]\nmax_customers = 3\n"),
        &lines,
        t0 + 10 * MINUTE,
    );
    assert_eq!(engine.stats().customers_forgotten, 2);
    assert_eq!(engine.stats().customers, 3);
}
