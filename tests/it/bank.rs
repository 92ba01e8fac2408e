//! A real call center: the "Anonymous Bank" 1999 records (Technion SEE Lab, Guedj & Mandelbaum;
//! `shared/data/anonymous-bank-1999`) turned into spec-v1 events and run through the engine.
//! Checked against the third party's published daily record counts.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use callpulse::engine::Engine;
use callpulse::time::{Millis, DAY};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Asia::Jerusalem;
use serde_json::json;

use crate::support::{config, Feed};

const DATA: &str = "../shared/data/anonymous-bank-1999";

/// A clock reading of the record's date (the next day when it crossed midnight); "0:00:00"
/// stands for "none" in these files.
fn local(date: NaiveDate, time: &str, not_before: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    if time == "0:00:00" && not_before.is_some() {
        return None;
    }
    let t = NaiveTime::parse_from_str(time, "%H:%M:%S").ok()?;
    let mut dt = date.and_time(t);
    if let Some(nb) = not_before {
        if dt < nb - chrono::Duration::hours(12) {
            dt += chrono::Duration::days(1); // crossed midnight
        }
    }
    Some(dt)
}

fn ms(dt: NaiveDateTime) -> Millis {
    Jerusalem
        .from_local_datetime(&dt)
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

/// One month's records as (ts, event line), sorted by time; PHANTOM rows ignored.
fn month(file: &str) -> Vec<(Millis, String)> {
    let f = std::fs::File::open(format!("{DATA}/{file}")).expect("bank data beside the repo");
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut out = Vec::new();
    let (mut seen, mut duplicates) = (std::collections::HashSet::new(), 0);
    for (i, line) in r.lines().enumerate().skip(1) {
        let line = line.unwrap();
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 17 || c[12] == "PHANTOM" {
            continue;
        }
        let Ok(date) = NaiveDate::parse_from_str(c[5], "%y%m%d") else {
            continue;
        };
        let Some(entry) = local(date, c[6], None) else {
            continue;
        };
        let queued = c[9] != "0:00:00";
        let Some(offer) = local(date, if queued { c[9] } else { c[7] }, Some(entry)) else {
            continue;
        };
        // call ids repeat across VRU lines and days: the record's key is all three
        let id = format!("{}-{}-{}", c[5], c[0], c[1]);
        if !seen.insert(id.clone()) {
            duplicates += 1;
            continue;
        }
        let t0 = ms(offer);
        out.push((t0, json!({"type": "contact.offered", "ts": t0, "contact_id": id, "queue": c[4], "channel": "voice"}).to_string()));
        match c[12] {
            "AGENT" => {
                let start = local(date, c[13], Some(entry)).map_or(t0, ms).max(t0);
                let end = local(date, c[14], Some(entry)).map_or(start, ms).max(start);
                out.push((start, json!({"type": "contact.answered", "ts": start, "contact_id": id, "agent": c[16]}).to_string()));
                out.push((
                    end,
                    json!({"type": "contact.ended", "ts": end, "contact_id": id, "agent": c[16]})
                        .to_string(),
                ));
            }
            _ => {
                let gone = if queued {
                    local(date, c[10], Some(entry)).map_or(t0, ms).max(t0)
                } else {
                    t0
                };
                out.push((
                    gone,
                    json!({"type": "contact.abandoned", "ts": gone, "contact_id": id}).to_string(),
                ));
            }
        }
        let _ = i;
    }
    assert!(duplicates < 10, "{duplicates} repeated record keys");
    out.sort_by_key(|e| e.0);
    out
}

#[test]
fn bank_1999_january_daily_offered_matches_published_counts() {
    let published: BTreeMap<String, f64> =
        std::fs::read_to_string(format!("{DATA}/daily-counts-third-party.csv"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.split_once(',')
                    .map(|(d, n)| (d.to_string(), n.trim().parse().unwrap_or(0.0)))
            })
            .collect();
    let cfg = config("[defaults]\ntimezone = \"Asia/Jerusalem\"\n[engine]\nwindows = [\"1h\"]\nmax_open_contacts = 100000\n");
    let queues = ["PS", "PE", "IN", "NE", "NW", "TT"];
    let mut engine = Engine::new(cfg.center.clone());
    let events = month("1999-01.tsv.gz");
    let mut next_midnight = ms(NaiveDate::from_ymd_opt(1999, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap())
        + DAY;
    let mut day = NaiveDate::from_ymd_opt(1999, 1, 1).unwrap();
    let (mut checked, mut worst, mut total_ours, mut total_theirs) = (0, 0.0f64, 0.0, 0.0);
    let mut check = |engine: &mut Engine, day: NaiveDate, at: Millis| {
        engine.advance(at - 1);
        let snap = engine.snapshot();
        let today = snap.window_index("today").unwrap();
        let ours: i64 = snap
            .queues
            .iter()
            .filter(|q| queues.contains(&q.name.as_str()))
            .map(|q| q.windows[today].tally.offered)
            .sum();
        let theirs = published[&day.format("%Y-%m-%d").to_string()];
        let rel = (ours as f64 - theirs).abs() / theirs.max(1.0);
        worst = worst.max(rel);
        total_ours += ours as f64;
        total_theirs += theirs;
        checked += 1;
        assert!(rel <= 0.005, "{day}: offered {ours}, published {theirs}");
    };
    for (ts, line) in &events {
        while *ts >= next_midnight {
            check(&mut engine, day, next_midnight);
            day = day.succ_opt().unwrap();
            next_midnight += DAY;
        }
        engine
            .ingest(line.as_bytes())
            .unwrap_or_else(|r| panic!("{r}: {line}"));
    }
    check(&mut engine, day, next_midnight);
    assert_eq!(checked, 31);
    eprintln!(
        "bank 1999-01: offered {total_ours} vs published {total_theirs}; worst day off by {:.3} %",
        worst * 100.0
    );
    assert!(
        (total_ours - total_theirs).abs() / total_theirs < 0.0005,
        "month: {total_ours} vs {total_theirs} (worst day {worst})"
    );
    assert_eq!(engine.stats().rejected_total(), 0);
}
