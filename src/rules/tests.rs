//! Tests of the generated rules: structure, escaping, the config's policy, severities.

use super::*;

const ALERTS: [&str; 14] = [
    "CallcenterServiceLevelBreach",
    "CallcenterAbandonRateBreach",
    "CallcenterAsaBreach",
    "CallcenterAhtBreach",
    "CallcenterFirstResponseBreach",
    "CallcenterOldestWaitBreach",
    "CallcenterServiceLevelPredictedBreach",
    "CallcenterServiceLevelFastBurn",
    "CallcenterServiceLevelSlowBurn",
    "CallpulseDown",
    "CallpulseNotReady",
    "CallpulseLagGrowing",
    "CallpulseRejectsSpiking",
    "CallpulseNoEvents",
];

#[test]
fn defaults_name_every_alert_and_no_tabs() {
    let y = render(&Config::default());
    for a in ALERTS {
        assert!(y.contains(&format!("- alert: {a}\n")), "{a} missing:\n{y}");
    }
    assert!(!y.contains('\t'));
    assert!(y.contains("for: 2m\n") && y.contains("keep_firing_for: 5m\n"));
    // the per-instance breach gauge is never read: a queue's numbers are summed first
    assert!(!y.contains("callcenter_breach"), "{y}");
    let sl = section(&y, "CallcenterServiceLevelBreach");
    assert!(
        sl.contains("max by (queue) (queue_window:callcenter_service_level:ratio{window=\"15m\"})")
            && sl.contains("sum by (queue) (callcenter_sl_offered{window=\"15m\"})"),
        "{sl}"
    );
    let oldest = section(&y, "CallcenterOldestWaitBreach");
    assert!(
        oldest.contains("max by (queue) (callcenter_oldest_wait_seconds)\n            > on (queue)\n          max by (queue) (callcenter_oldest_wait_target_seconds)"),
        "{oldest}"
    );
    assert!(!oldest.contains("min_volume"), "{oldest}");
    let silent = section(&y, "CallpulseNoEvents");
    assert!(silent.contains("increase(callpulse_events_accepted_total[5m])) == 0"));
    assert!(silent.contains("for: 5m\n"), "{silent}");
    assert!(!y.contains("runbook_url"));
    // every non-comment line is indented by whole levels
    for l in y.lines().filter(|l| !l.starts_with('#')) {
        let indent = l.len() - l.trim_start().len();
        assert_eq!(indent % 2, 0, "{l:?}");
    }
    // the default burn factors (2 and 1.2) can fire for the default target 0.80
    assert!(!y.contains("# Note:"), "{y}");
    let fast = section(&y, "CallcenterServiceLevelFastBurn");
    assert_eq!(
        fast.matches("(2 * (1 - max by (queue) (callcenter_sl_target_ratio)))")
            .count(),
        2,
        "{fast}"
    );
    assert!(fast.contains("ratio_increase5m") && fast.contains("ratio_increase1h"));
    assert!(
        fast.contains("increase(callcenter_sl_offered_total[1h]))\n"),
        "{fast}"
    );
    assert!(fast.contains("max by (queue) (callcenter_min_volume)"));
    assert!(
        fast.contains("burning 2x") && fast.contains("lasts 15.0 days"),
        "{fast}"
    );
    let slow = section(&y, "CallcenterServiceLevelSlowBurn");
    assert_eq!(
        slow.matches("(1.2 * (1 - max by (queue) (callcenter_sl_target_ratio)))")
            .count(),
        2,
        "{slow}"
    );
    assert!(slow.contains("ratio_increase30m") && slow.contains("ratio_increase6h"));
    assert!(
        slow.contains("burning 1.2x") && slow.contains("lasts 25.0 days"),
        "{slow}"
    );
}

#[test]
fn burn_factors_come_from_the_config_and_unreachable_ones_are_noted() {
    let c = Config::parse(
        "[alerts]\nfast_burn = 14.4\nslow_burn = 6\n[queues.vip]\nsl_target = 0.95\n[queues.gold]\nsl_target = 0.9\n",
    )
    .unwrap();
    let y = render(&c);
    assert!(y.contains("(14.4 * (1 - max by (queue)"), "{y}");
    assert!(y.contains("(6 * (1 - max by (queue)"), "{y}");
    // 14.4 needs a target above 0.9306, 6 above 0.8333
    assert!(y.contains(
        "# Note: CallcenterServiceLevelFastBurn (burn factor 14.4) needs sl_target > 0.9306; it cannot fire for: [defaults] (0.8), [queues.gold] (0.9).\n"
    ), "{y}");
    assert!(y.contains(
        "# Note: CallcenterServiceLevelSlowBurn (burn factor 6) needs sl_target > 0.8333; it cannot fire for: [defaults] (0.8).\n"
    ), "{y}");
    assert!(!y.contains("[queues.vip] (0.95)"));
}

#[test]
fn alerts_config_drives_for_severity_runbook_and_window() {
    let c = Config::parse(
        "[engine]\nwindows = [\"5m\", \"30m\"]\n[alerts]\nwindow = \"30m\"\nfor = \"1m30s\"\nkeep_firing_for = \"10m\"\nno_events_for = \"1h\"\nrunbook_url = \"https://wiki.example.com/rb?x=\\\"1\\\"\"\n[alerts.severity]\nabandon = \"page\"\nservice_level = \"urgent\\tnow\"\nCallpulseDown = \"ticket\"\n",
    )
    .unwrap();
    let y = render(&c);
    assert!(y.contains("for: 1m30s\n") && y.contains("keep_firing_for: 10m\n"));
    assert!(!y.contains("for: 2m\n"));
    assert!(y.contains("sum by (queue) (callcenter_contacts_abandoned{window=\"30m\"})"));
    assert!(!y.contains("window=\"15m\""), "{y}");
    let silent = section(&y, "CallpulseNoEvents");
    assert!(silent.contains("for: 55m\n"), "{silent}");
    assert!(y.contains("runbook_url: \"https://wiki.example.com/rb?x=\\\"1\\\"\"\n"));
    assert!(y.contains("severity: \"urgent\\tnow\"\n"));
    assert!(!y.contains('\t'));
    let abandon = section(&y, "CallcenterAbandonRateBreach");
    assert!(abandon.contains("severity: \"page\""), "{abandon}");
    let down = section(&y, "CallpulseDown");
    assert!(down.contains("severity: \"ticket\""), "{down}");
    let asa = section(&y, "CallcenterAsaBreach");
    assert!(asa.contains("severity: \"ticket\""), "{asa}");
}

/// The KPI alerts of the windowed KPIs: every series they read is summed (counts, `_sum`,
/// `_count`) or maxed (targets, `min_volume`, the recorded service level: one series per
/// queue) by queue before any division or comparison, so a queue split over instances is
/// judged on its whole numbers.
#[test]
fn kpi_alerts_aggregate_every_series_by_queue_before_comparing() {
    let y = render(&Config::default());
    for alert in &ALERTS[..6] {
        let expr = section(&y, alert);
        let expr = &expr[expr.find("expr: |-").unwrap()..expr.find("for: ").unwrap()];
        assert!(!expr.contains("instance"), "{expr}");
        let mut series = 0;
        for (i, _) in expr
            .match_indices("callcenter_")
            .chain(expr.match_indices("queue_window:"))
        {
            let before = &expr[..i];
            if before.ends_with(':') {
                continue; // inside the recorded name
            }
            assert!(
                before.ends_with("sum by (queue) (") || before.ends_with("max by (queue) ("),
                "{alert}: a series read without aggregating by queue at {}",
                &expr[i..]
            );
            series += 1;
        }
        assert!(series >= 2, "{alert}: {expr}");
        if *alert != "CallcenterOldestWaitBreach" {
            // a windowed KPI: its volume is summed over instances and checked against min_volume
            assert!(
                expr.contains(">= on (queue)\n            max by (queue) (callcenter_min_volume)"),
                "{expr}"
            );
        }
    }
}

#[test]
fn burn_rate_follows_each_queues_sl_formula() {
    let c = Config::parse(
        "[alerts]\nfast_burn = 14.4\nslow_burn = 6.0\n[queues.billing]\nsl_formula = \"ignore_abandons\"\n[queues.\"a.b|c\"]\nsl_formula = \"abandons_positive\"\n[queues.sales]\nsl_target = 0.95\n",
    )
    .unwrap();
    let y = render(&c);
    assert!(y.contains("{queue!~\"a\\\\.b\\\\|c|billing\"}"), "{y}");
    assert!(y.contains("{queue=~\"billing\"}"), "{y}");
    assert!(y.contains("{queue=~\"a\\\\.b\\\\|c\"}"), "{y}");
    assert!(y.contains("sl_formula: \"ignore_abandons\""));
    // the recorded service level: one rule per formula in use, every window at once
    assert_eq!(
        y.matches("- record: queue_window:callcenter_service_level:ratio\n")
            .count(),
        3
    );
    assert!(y.contains(
        "sum by (queue, window) (callcenter_sl_answered{queue=~\"billing\"})\n            /\n          (\n            sum by (queue, window) (callcenter_sl_offered{queue=~\"billing\"})\n              -\n            sum by (queue, window) (callcenter_sl_abandoned{queue=~\"billing\"})\n          )"
    ), "{y}");
    // sales (0.95) can reach both burn factors (14.4 and 6), the defaults (0.80) neither
    assert!(y.contains(
        "it cannot fire for: [defaults] (0.8), [queues.a.b|c] (0.8), [queues.billing] (0.8)"
    ));
    assert!(!y.contains("[queues.sales] (0.95)"));
    let one = render(&Config::default());
    assert!(!one.contains("queue=~") && !one.contains("queue!~"));
    assert_eq!(
        one.matches("- record: queue:callcenter_sl_errors:").count(),
        BURN_WINDOWS.len()
    );
}

#[test]
fn window_today_and_empty_window() {
    let c = Config::parse("[alerts]\nwindow = \"today\"\n").unwrap();
    let y = render(&c);
    assert!(y.contains("sum by (queue) (callcenter_handle_seconds_count{window=\"today\"})"));
    assert!(y.contains("over today (since the queue's local day start)"));
    let c = Config::parse("[alerts]\nwindow = \"\"\n").unwrap();
    let y = render(&c);
    assert!(!y.contains("CallcenterServiceLevelBreach"));
    assert!(!y.contains("CallcenterServiceLevelPredictedBreach"));
    assert!(y.contains("- alert: CallcenterOldestWaitBreach\n"));
    // the dashboards still find the service level of every window
    assert!(y.contains("- record: queue_window:callcenter_service_level:ratio\n"));
}

#[test]
fn the_predicted_breach_reads_the_forecast_the_target_and_the_actual_breach() {
    let c = Config::parse(
        "[engine]\nwindows = [\"5m\", \"30m\", \"1h\"]\nforecast_window = \"1h\"\n[alerts]\nwindow = \"30m\"\n",
    )
    .unwrap();
    let y = render(&c);
    let p = section(&y, "CallcenterServiceLevelPredictedBreach");
    let lines = p
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n");
    // the forecast below the exported target, within one instance; no target copied
    assert!(
        lines.contains("callcenter_forecast_service_level_ratio\n< on (queue, instance, job)\ncallcenter_sl_target_ratio\n"),
        "{p}"
    );
    assert!(!p.contains("0.8"), "{p}");
    // not while the service level of the alerts window, from the counts summed over
    // instances, is breached
    assert!(
        lines.contains("unless on (queue)\n(\n(\nmax by (queue) (queue_window:callcenter_service_level:ratio{window=\"30m\"})\n< on (queue)\nmax by (queue) (callcenter_sl_target_ratio)\n)\nand on (queue)\n(\nsum by (queue) (callcenter_sl_offered{window=\"30m\"})\n>= on (queue)\nmax by (queue) (callcenter_min_volume)\n)\n)"),
        "{p}"
    );
    // min_volume contacts offered in the forecast window, summed over instances
    assert!(
        lines.contains("sum by (queue) (callcenter_contacts_offered{window=\"1h\"})\n>= on (queue)\nmax by (queue) (callcenter_min_volume)"),
        "{p}"
    );
    assert!(
        p.contains("for: 2m\n") && p.contains("keep_firing_for: 5m\n"),
        "{p}"
    );
    assert!(p.contains("severity: \"ticket\"") && p.contains("kpi: \"service_level\""));
    assert!(p.contains("window: \"1h\""), "{p}");
    assert!(p.contains("AHT of the last 1h") && p.contains("over the last 30m is not in breach"));
    // no rolling window: no forecast, no predicted breach
    let y = render(&Config::parse("[engine]\nwindows = []\n").unwrap());
    assert!(!y.contains("PredictedBreach"), "{y}");
    assert!(y.contains("- alert: CallcenterServiceLevelBreach\n"));
}

/// The rule of `alert`, up to the next rule.
fn section<'a>(y: &'a str, alert: &str) -> &'a str {
    let start = y.find(&format!("- alert: {alert}\n")).unwrap();
    let rest = &y[start + 1..];
    let end = rest.find("      - ").map_or(rest.len(), |e| e + 1);
    &y[start..start + end]
}

#[test]
fn every_rule_takes_its_severity_from_a_key_the_config_accepts() {
    // every accepted key set to its own severity: no rule may keep a default
    let mut text = String::from("[alerts.severity]\n");
    for key in crate::config::SEVERITY_KEYS {
        text.push_str(&format!("{key} = \"sev-{key}\"\n"));
    }
    let y = render(&Config::parse(&text).unwrap());
    let severities: Vec<&str> = y
        .lines()
        .filter_map(|l| l.trim().strip_prefix("severity: "))
        .collect();
    assert_eq!(severities.len(), ALERTS.len() + 1, "{severities:?}"); // LagGrowing has two rules
    for s in &severities {
        assert!(
            s.starts_with("\"sev-"),
            "a rule ignores [alerts.severity]: {s}"
        );
    }
    for key in crate::config::SEVERITY_KEYS {
        assert!(
            y.contains(&format!("\"sev-{key}\"")),
            "{key} is accepted but unused"
        );
    }
    let err = Config::parse("[alerts.severity]\nservce_level = \"page\"\n").unwrap_err();
    assert!(err.to_string().contains("servce_level"), "{err}");
}
