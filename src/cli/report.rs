//! What the commands print and how they read their text arguments: pure functions, so every
//! report and every parse is unit-tested.

use std::fmt::Write as _;
use std::path::Path;

use crate::clock::wall_now;
use crate::config::Config;
use crate::engine::EMAIL_TIMEOUT;
use crate::event::RejectReason;
use crate::replay::Replayed;
use crate::time::{parse_rfc3339, Millis, Span};
use crate::tools::produce::Produced;
use crate::tools::sim::SimConfig;

/// A flag whose text could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgumentError {
    #[error("{flag} {text:?} is not an RFC 3339 instant{also}")]
    Instant {
        flag: &'static str,
        text: String,
        also: &'static str,
    },
    #[error("--property {0:?} is not KEY=VALUE")]
    Property(String),
}

fn instant(flag: &'static str, text: &str, also: &'static str) -> Result<Millis, ArgumentError> {
    parse_rfc3339(text).ok_or_else(|| ArgumentError::Instant {
        flag,
        text: text.into(),
        also,
    })
}

/// `replay --at`.
pub fn parse_at(text: &str) -> Result<Millis, ArgumentError> {
    instant("--at", text, "")
}

/// `simulate --until`: an instant, or `now`.
pub fn parse_until(text: &str) -> Result<Millis, ArgumentError> {
    match text {
        "now" => Ok(wall_now()),
        _ => instant("--until", text, " or \"now\""),
    }
}

/// `simulate --start` (default: now) applied to the simulator's configuration.
pub fn sim_starting(mut sim: SimConfig, start: Option<&str>) -> Result<SimConfig, ArgumentError> {
    sim.start_ms = match start {
        Some(text) => instant("--start", text, "")?,
        None => wall_now(),
    };
    Ok(sim)
}

/// `--property KEY=VALUE`.
pub fn parse_property(text: &str) -> Result<(String, String), ArgumentError> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| ArgumentError::Property(text.into()))
}

/// The last line of `simulate`.
pub fn produced(p: &Produced) -> String {
    format!(
        "simulate: {} events in {:.1}s ({:.0} events/s)",
        p.events,
        p.seconds,
        p.events as f64 / p.seconds.max(1e-9)
    )
}

/// `replay`'s summary on stderr: lines read, accepted, rejected by reason, expired contacts.
pub fn replayed(r: &Replayed) -> String {
    let s = &r.stats;
    let mut out = format!(
        "replay: {} lines, {} accepted, {} rejected, {} after --at (not applied)\n",
        r.lines,
        s.accepted,
        s.rejected_total(),
        r.after_at
    );
    for reason in RejectReason::ALL {
        if s.rejected(reason) > 0 {
            let _ = writeln!(
                out,
                "replay: rejected {:<20} {}",
                reason.as_str(),
                s.rejected(reason)
            );
        }
    }
    if s.contacts_expired + s.contacts_evicted > 0 {
        let _ = writeln!(
            out,
            "replay: contacts expired {} (stale), evicted {} (over max_open_contacts)",
            s.contacts_expired, s.contacts_evicted
        );
    }
    out
}

/// `convert`'s summary on stderr: rejected records by reason (nothing when none was).
pub fn converted(rejects: &std::collections::BTreeMap<RejectReason, u64>) -> String {
    let mut out = String::new();
    for (reason, n) in rejects {
        let _ = writeln!(out, "convert: rejected {:<20} {n}", reason.as_str());
    }
    out
}

/// `check-config`: the file is valid, and what every queue resolves to.
pub fn check_config(file: &Path, config: &Config) -> String {
    let mut out = format!("{}: ok\n", file.display());
    let labels: Vec<_> = config
        .center
        .engine
        .windows
        .iter()
        .map(|w| w.label.as_str())
        .collect();
    let _ = writeln!(
        out,
        "windows: {} + interval ({}) + today",
        labels.join(", "),
        config.center.engine.interval
    );
    let _ = writeln!(
        out,
        "allowed_lateness: {}",
        config.center.engine.allowed_lateness
    );
    let _ = writeln!(
        out,
        "forecast_window: {}",
        config
            .center
            .engine
            .forecast_window
            .as_ref()
            .map_or("none (no rolling window: no forecast)", |w| w
                .label
                .as_str())
    );
    for (name, q) in std::iter::once(("[defaults]", &config.center.defaults))
        .chain(config.center.queues.iter().map(|(n, q)| (n.as_str(), q)))
    {
        let _ = writeln!(
            out,
            "{name}: tz {} day_start {} sl {} within {} ({}) target {} abandon<= {} asa<= {} aht<= {} oldest<= {} first_response<= {} min_volume {} wrapup {} repeat_window {} callback_window {} contact_timeout {} (e-mail legs {})",
            q.clock.zone,
            q.clock.day_start.format("%H:%M"),
            q.sl_formula,
            q.sl_threshold,
            q.short_abandon,
            q.sl_target,
            q.abandon_target,
            q.asa_target,
            q.aht_target,
            q.oldest_wait_target,
            q.first_response_target
                .map_or_else(|| "-".to_string(), |t| t.to_string()),
            q.min_volume,
            q.wrapup,
            q.repeat_window,
            q.callback_window,
            q.contact_timeout,
            Span::from_millis(q.contact_timeout.millis().max(EMAIL_TIMEOUT))
        );
    }
    let h = &config.http;
    let _ = writeln!(
        out,
        "live view peers: {} (answer within {})",
        if h.peers.is_empty() {
            "none (the API answers for this instance's partitions)".to_string()
        } else {
            h.peers.join(", ")
        },
        h.peer_timeout
    );
    let e = &config.center.export;
    let _ = writeln!(
        out,
        "export: profile {}, windows [{}], {} of {} windowed families, quantiles {:?} (thousandths), histogram bounds {:?}",
        format!("{:?}", e.profile).to_lowercase(),
        e.windows.join(", "),
        e.families.len(),
        crate::config::WINDOWED_FAMILIES.len(),
        e.quantiles,
        e.bounds()
    );
    let _ = if e.agents {
        writeln!(
            out,
            "export agents: on, at most {} agents (the first by name; 2 series per agent and 2 per agent and queue handled today)",
            e.max_agents_exported
        )
    } else {
        writeln!(
            out,
            "export agents: off (the Agents dashboard needs [export] agents = true)"
        )
    };
    let _ = writeln!(
        out,
        "engine keeps: {} (the exported windows and the forecast's)",
        config.center.engine.kept_labels().join(", ")
    );
    for not in &e.not_exported {
        let _ = writeln!(out, "note: {not}");
    }
    for warning in crate::rules::needs::warnings(config) {
        let _ = writeln!(out, "warning: {warning}");
    }
    for line in crate::input::connect::queues::unmatched(&config.kafka.inputs()) {
        let _ = writeln!(out, "warning: {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineStats;
    use crate::snapshot::Snapshot;

    #[test]
    fn arguments_are_read_or_named_in_the_error() {
        assert_eq!(parse_at("2026-11-23T10:00:00Z"), Ok(1_795_428_000_000));
        assert_eq!(
            parse_at("yesterday").unwrap_err().to_string(),
            "--at \"yesterday\" is not an RFC 3339 instant"
        );
        assert!(parse_until("now").is_ok_and(|t| t > 1_700_000_000_000));
        assert!(parse_until("soon")
            .unwrap_err()
            .to_string()
            .ends_with("or \"now\""));
        assert_eq!(
            parse_property("linger.ms=5"),
            Ok(("linger.ms".into(), "5".into()))
        );
        assert_eq!(
            parse_property("linger.ms"),
            Err(ArgumentError::Property("linger.ms".into()))
        );
        let sim = sim_starting(SimConfig::default(), Some("2026-11-23T10:00:00Z")).unwrap();
        assert_eq!(sim.start_ms, 1_795_428_000_000);
    }

    #[test]
    fn the_replay_report_lists_only_the_reasons_that_happened() {
        let mut stats = EngineStats {
            accepted: 7,
            ..EngineStats::default()
        };
        stats.rejected[RejectReason::Duplicate.index()] = 2;
        let r = Replayed {
            snapshot: Snapshot::default(),
            stats,
            lines: 10,
            after_at: 1,
        };
        let text = replayed(&r);
        assert!(text.starts_with("replay: 10 lines, 7 accepted, 2 rejected, 1 after --at"));
        assert!(text.contains("rejected duplicate"), "{text}");
        assert!(!text.contains("malformed_json"), "{text}");
        assert!(!text.contains("expired"), "{text}");
    }

    #[test]
    fn check_config_says_which_windows_are_not_exported_and_which_key_exports_them() {
        // the contract's default windows, not written: 5m, 1h and interval are not exported
        let text = check_config(Path::new("x.toml"), &Config::parse("").unwrap());
        for w in ["5m", "1h", "interval"] {
            let line = format!("note: window \"{w}\" is not exported");
            assert!(text.contains(&line), "{text}");
        }
        assert!(text.contains("list it in [engine] windows"), "{text}");
        // windows written are exported: nothing to say
        let text = check_config(
            Path::new("x.toml"),
            &Config::parse("[engine]\nwindows = [\"5m\", \"15m\"]\ninterval = \"30m\"\n").unwrap(),
        );
        assert!(!text.contains("note: window"), "{text}");
        assert!(
            text.contains("windows [5m, 15m, interval, today]"),
            "{text}"
        );
        // left out by [export] windows
        let text = check_config(
            Path::new("x.toml"),
            &Config::parse(
                "[engine]\nwindows = [\"5m\", \"15m\"]\n[export]\nwindows = [\"15m\"]\n",
            )
            .unwrap(),
        );
        assert!(
            text.contains("note: window \"5m\" is not exported: left out by [export] windows"),
            "{text}"
        );
    }

    #[test]
    fn check_config_shows_every_queue_resolved() {
        let config = Config::parse(
            "[engine]\nwindows = [\"15m\"]\n[queues.sales]\nsl_target = 0.9\ntimezone = \"Europe/Paris\"\n",
        )
        .unwrap();
        let text = check_config(Path::new("x.toml"), &config);
        assert!(
            text.starts_with("x.toml: ok\nwindows: 15m + interval"),
            "{text}"
        );
        let sales = text.lines().find(|l| l.starts_with("sales:")).unwrap();
        assert!(
            sales.contains("tz Europe/Paris") && sales.contains("target 0.9"),
            "{sales}"
        );
        assert!(text.lines().any(|l| l.starts_with("[defaults]:")), "{text}");
        assert!(text.contains("\nforecast_window: 15m\n"), "{text}");
        assert!(
            sales.contains("contact_timeout 8h (e-mail legs 7d)"),
            "{sales}"
        );
        let connect = Config::parse(
            "[kafka]\n[[kafka.inputs]]\ntopic = \"ctr\"\nformat = \"connect\"\n\
             [kafka.inputs.queue_names]\n\"BasicQueue\" = \"basic\"\n\
             \"6c1f8e2d-3a4b-4c5d-8e9f-0a1b2c3d4e02\" = \"basic\"\n",
        )
        .unwrap();
        let text = check_config(Path::new("x.toml"), &connect);
        let warnings: Vec<&str> = text.lines().filter(|l| l.contains("queue_names")).collect();
        assert_eq!(warnings.len(), 1, "{text}");
        assert!(
            warnings[0].starts_with(
                "warning: input \"ctr\": queue_names key \"BasicQueue\" matches no queue"
            ),
            "{text}"
        );
        let none = Config::parse("[engine]\nwindows = []\n").unwrap();
        let text = check_config(Path::new("x.toml"), &none);
        assert!(text.contains("\nforecast_window: none"), "{text}");
    }
}
