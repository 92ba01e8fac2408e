//! Prometheus alerting rules generated from the configuration (`callpulse rules`), so that KPI
//! targets, `min_volume` and the alerting policy (`[alerts]`) live in one place.
//!
//! The rules never copy a target into PromQL: they read the gauges the monitor exports
//! (`callcenter_breach`, `callcenter_sl_target_ratio`, `callcenter_min_volume`), so a queue that
//! only appears in events is covered as well. The config decides the window the KPI alerts
//! watch, `for` / `keep_firing_for`, severities, the runbook link, and the burn factors
//! (`fast_burn`, `slow_burn`) and SL formula of the burn-rate rules.
//!
//! Several instances (a consumer group sharing the partitions; configured queues are exported
//! by every instance, with zero volume where the queue's partition is elsewhere) are handled by
//! matching `on (queue, instance, job)` inside one instance and aggregating `by (queue)` across
//! them: a breach signalled by any instance fires once per queue, and counters are summed.
//!
//! Severity: `page` for `service_level` and `oldest_wait`, `ticket` otherwise; `[alerts.severity]`
//! overrides it by kpi name (`service_level`, `abandon`, `asa`, `aht`, `first_response`,
//! `oldest_wait`), by `service_level_fast_burn` / `service_level_slow_burn` /
//! `service_level_predicted`, or by alert name for the monitor's own alerts (`CallpulseDown`,
//! ...). An empty `alerts.window` leaves out the windowed KPI alerts and the predicted breach
//! that warns of one.
//!
//! `CallcenterServiceLevelPredictedBreach` is the early warning of the service-level alert:
//! the Erlang C forecast (`callcenter_forecast_service_level_ratio`, from the agents serving
//! now) is below the queue's target while the service level in the alerts window is not
//! breached, with at least `min_volume` contacts offered in the forecast window.
//!
//! The YAML is written by hand: every value that comes from the config is a double-quoted
//! scalar, every PromQL expression a literal block whose strings are escaped for PromQL.

mod yaml;

use yaml::{comment_safe, promql_str, regex_escape, Yaml};

use crate::config::{AlertsConfig, Config, SlFormula};
use crate::time::Span;

/// Burn-rate alerts in the style of the Google SRE workbook (multiwindow, multi-burn-rate):
/// (name, severity key, default severity, burn factor, short window, long window). The burn
/// factors come from `[alerts] fast_burn` / `slow_burn`: the workbook's 14.4 / 6 cannot fire
/// for the usual 80/20 targets (the error ratio is at most 1).
type Burn = (
    &'static str,
    &'static str,
    &'static str,
    fn(&AlertsConfig) -> f64,
    &'static str,
    &'static str,
);

const BURNS: [Burn; 2] = [
    (
        "CallcenterServiceLevelFastBurn",
        "service_level_fast_burn",
        "page",
        fast_burn,
        "5m",
        "1h",
    ),
    (
        "CallcenterServiceLevelSlowBurn",
        "service_level_slow_burn",
        "ticket",
        slow_burn,
        "30m",
        "6h",
    ),
];

fn fast_burn(a: &AlertsConfig) -> f64 {
    a.fast_burn
}

fn slow_burn(a: &AlertsConfig) -> f64 {
    a.slow_burn
}

/// Range of the "no event accepted" expression; the rest of `no_events_for` is its `for`.
const NO_EVENTS_RANGE: Span = Span::from_secs(300);

/// Windows the SL error ratio is recorded over (every short and long window of [`BURNS`]).
const BURN_WINDOWS: [&str; 4] = ["5m", "30m", "1h", "6h"];

/// A KPI alert on `callcenter_breach`: the value shown is the KPI itself, from the instance
/// that signals the breach, worst of them when several do.
struct KpiAlert {
    alert: &'static str,
    kpi: &'static str,
    default_severity: &'static str,
    /// Metric holding the KPI's value (`window`-labelled unless `live`).
    value_metric: &'static str,
    /// Divides `value_metric` (a mean from a summary's `_sum` and `_count`).
    per: Option<&'static str>,
    /// `min` when lower is worse, `max` when higher is worse.
    worst: &'static str,
    /// `callcenter_oldest_wait_seconds` has no window: its breach uses `window="now"`.
    live: bool,
    /// Template filter formatting `$value`.
    humanize: &'static str,
    summary: &'static str,
    /// What is measured, before "is {{ $value }}".
    what: &'static str,
    /// After the value.
    side: &'static str,
}

const KPI_ALERTS: [KpiAlert; 6] = [
    KpiAlert {
        alert: "CallcenterServiceLevelBreach",
        kpi: "service_level",
        default_severity: "page",
        value_metric: "callcenter_service_level_ratio",
        per: None,
        worst: "min",
        live: false,
        humanize: "humanizePercentage",
        summary: "Service level below target in queue {{ $labels.queue }}",
        what: "service level",
        side: "below the queue's target (callcenter_sl_target_ratio)",
    },
    KpiAlert {
        alert: "CallcenterAbandonRateBreach",
        kpi: "abandon",
        default_severity: "ticket",
        value_metric: "callcenter_abandon_ratio",
        per: None,
        worst: "max",
        live: false,
        humanize: "humanizePercentage",
        summary: "Abandon rate above target in queue {{ $labels.queue }}",
        what: "abandon rate",
        side: "above the queue's target (callcenter_abandon_target_ratio)",
    },
    KpiAlert {
        alert: "CallcenterAsaBreach",
        kpi: "asa",
        default_severity: "ticket",
        value_metric: "callcenter_asa_seconds",
        per: None,
        worst: "max",
        live: false,
        humanize: "humanizeDuration",
        summary: "Average speed of answer above target in queue {{ $labels.queue }}",
        what: "average speed of answer",
        side: "above the queue's target (callcenter_asa_target_seconds)",
    },
    KpiAlert {
        alert: "CallcenterAhtBreach",
        kpi: "aht",
        default_severity: "ticket",
        value_metric: "callcenter_aht_seconds",
        per: None,
        worst: "max",
        live: false,
        humanize: "humanizeDuration",
        summary: "Average handle time above target in queue {{ $labels.queue }}",
        what: "average handle time",
        side: "above the queue's target (callcenter_aht_target_seconds)",
    },
    KpiAlert {
        alert: "CallcenterFirstResponseBreach",
        kpi: "first_response",
        default_severity: "ticket",
        value_metric: "callcenter_first_response_seconds_sum",
        per: Some("callcenter_first_response_seconds_count"),
        worst: "max",
        live: false,
        humanize: "humanizeDuration",
        summary: "Mean first response above target in queue {{ $labels.queue }}",
        what: "mean first response",
        side: "above the queue's target (callcenter_first_response_target_seconds)",
    },
    KpiAlert {
        alert: "CallcenterOldestWaitBreach",
        kpi: "oldest_wait",
        default_severity: "page",
        value_metric: "callcenter_oldest_wait_seconds",
        per: None,
        worst: "max",
        live: true,
        humanize: "humanizeDuration",
        summary: "A contact has waited too long in queue {{ $labels.queue }}",
        what: "the longest-waiting contact has waited",
        side: "more than the queue's target (callcenter_oldest_wait_target_seconds)",
    },
];

/// The alerting-rules file (Prometheus `rule_files` format) for this configuration.
pub fn render(config: &Config) -> String {
    let mut y = Yaml::default();
    header(config, &mut y);
    y.line(0, "groups:");
    kpi_group(config, &mut y);
    burn_group(config, &mut y);
    self_group(config, &mut y);
    y.out
}

fn header(config: &Config, y: &mut Yaml) {
    y.line(
        0,
        "# Prometheus alerting rules for callpulse, generated by `callpulse rules`.",
    );
    y.line(
        0,
        "# Do not edit: change [defaults], [queues.*] or [alerts] in the config and regenerate:",
    );
    y.line(
        0,
        "#   callpulse rules --config config/callpulse.toml > deploy/prometheus/callpulse-rules.yml",
    );
    y.line(
        0,
        "# Targets and min_volume are read at evaluation time from the gauges callpulse exports.",
    );
    // Burn factors a queue's target cannot reach: the error ratio is at most 1, so a burn
    // factor B can only fire when B * (1 - target) < 1.
    let mut queues: Vec<(String, f64)> = vec![("[defaults]".into(), config.defaults.sl_target)];
    queues.extend(
        config
            .queues
            .iter()
            .map(|(name, q)| (format!("[queues.{}]", comment_safe(name)), q.sl_target)),
    );
    for (alert, _, _, burn, _, _) in BURNS {
        let burn = burn(&config.alerts);
        let unreachable: Vec<String> = queues
            .iter()
            .filter(|(_, target)| burn * (1.0 - target) >= 1.0)
            .map(|(name, target)| format!("{name} ({target})"))
            .collect();
        if !unreachable.is_empty() {
            y.line(
                0,
                &format!(
                    "# Note: {alert} (burn factor {burn}) needs sl_target > {:.4}; it cannot fire for: {}.",
                    1.0 - 1.0 / burn,
                    unreachable.join(", ")
                ),
            );
        }
    }
}

fn kpi_group(config: &Config, y: &mut Yaml) {
    let a = &config.alerts;
    y.line(2, "- name: callpulse-kpi");
    y.line(4, "rules:");
    for k in &KPI_ALERTS {
        let window = if k.live {
            "now".to_string()
        } else if a.window.is_empty() {
            continue;
        } else {
            a.window.clone()
        };
        let w = promql_str(&window);
        let value = if k.live {
            k.value_metric.to_string()
        } else {
            match k.per {
                Some(per) => format!(
                    "{m}{{window={w}}}\n    / on (queue, instance, job)\n  {per}{{window={w}}}",
                    m = k.value_metric
                ),
                None => format!("{}{{window={w}}}", k.value_metric),
            }
        };
        let expr = format!(
            "{worst} by (queue) (\n  {value}\n    and on (queue, instance, job)\n  callcenter_breach{{kpi=\"{kpi}\",window={w}}} == 1\n)",
            worst = k.worst,
            kpi = k.kpi,
        );
        let measured = if k.live {
            format!("{} {{{{ $value | {} }}}}, {}", k.what, k.humanize, k.side)
        } else {
            format!(
                "{} over {} is {{{{ $value | {} }}}}, {}, with at least min_volume contacts in the window",
                k.what,
                window_phrase(config, &window),
                k.humanize,
                k.side
            )
        };
        let description = format!(
            "Queue {{{{ $labels.queue }}}}: {measured}. Firing after {} in breach; keeps firing {} after it clears.",
            a.r#for, a.keep_firing_for
        );
        y.line(6, &format!("- alert: {}", k.alert));
        y.block(8, "expr", &expr);
        y.line(8, &format!("for: {}", duration(a.r#for)));
        y.line(
            8,
            &format!("keep_firing_for: {}", duration(a.keep_firing_for)),
        );
        y.line(8, "labels:");
        y.kv(10, "severity", severity(config, k.kpi, k.default_severity));
        y.kv(10, "kpi", k.kpi);
        y.kv(10, "window", &window);
        annotations(config, y, k.summary, &description);
    }
    predicted_breach(config, y);
}

/// `CallcenterServiceLevelPredictedBreach` (see the module's documentation); left out without
/// a forecast window or a KPI alert window.
fn predicted_breach(config: &Config, y: &mut Yaml) {
    let a = &config.alerts;
    let Some(forecast) = config.engine.forecast_window.as_ref() else {
        return;
    };
    if a.window.is_empty() {
        return;
    }
    let (w, fw) = (promql_str(&a.window), promql_str(&forecast.label));
    let expr = format!(
        "min by (queue) (\n  callcenter_forecast_service_level_ratio\n    < on (queue, instance, job)\n  callcenter_sl_target_ratio\n)\nunless on (queue)\n(\n  max by (queue) (callcenter_breach{{kpi=\"service_level\",window={w}}}) == 1\n)\nand on (queue)\n(\n  sum by (queue) (callcenter_contacts_offered{{window={fw}}})\n    >= on (queue)\n  max by (queue) (callcenter_min_volume)\n)"
    );
    let description = format!(
        "Queue {{{{ $labels.queue }}}}: with the agents available, busy or in wrap-up now, Erlang C forecasts a service level of {{{{ $value | humanizePercentage }}}} at the arrival rate and AHT of the last {}, below the queue's target (callcenter_sl_target_ratio), while the service level over {} is not in breach: callcenter_forecast_agents_required says how many agents it takes. Firing after {}; keeps firing {} after it clears.",
        forecast.label,
        window_phrase(config, &a.window),
        a.r#for,
        a.keep_firing_for
    );
    y.line(6, "- alert: CallcenterServiceLevelPredictedBreach");
    y.block(8, "expr", &expr);
    y.line(8, &format!("for: {}", duration(a.r#for)));
    y.line(
        8,
        &format!("keep_firing_for: {}", duration(a.keep_firing_for)),
    );
    y.line(8, "labels:");
    y.kv(
        10,
        "severity",
        severity(config, "service_level_predicted", "ticket"),
    );
    y.kv(10, "kpi", "service_level");
    y.kv(10, "window", &forecast.label);
    annotations(
        config,
        y,
        "Service level predicted to fall below target in queue {{ $labels.queue }}",
        &description,
    );
}

fn burn_group(config: &Config, y: &mut Yaml) {
    let a = &config.alerts;
    y.line(2, "- name: callpulse-sl-burn");
    y.line(4, "rules:");
    // SL error ratio = 1 - good / total, by the queue's sl_formula (one rule per formula in use).
    for (formula, matcher) in formula_matchers(config) {
        for w in BURN_WINDOWS {
            let inc = |metric: &str| format!("sum by (queue) (increase({metric}{matcher}[{w}]))");
            let (good, total) = match formula {
                SlFormula::AbandonsNegative => (
                    inc("callcenter_sl_answered_total"),
                    inc("callcenter_sl_offered_total"),
                ),
                SlFormula::IgnoreAbandons => (
                    inc("callcenter_sl_answered_total"),
                    format!(
                        "(\n    {}\n      -\n    {}\n  )",
                        inc("callcenter_sl_offered_total"),
                        inc("callcenter_sl_abandoned_total")
                    ),
                ),
                SlFormula::AbandonsPositive => (
                    format!(
                        "(\n    {}\n      +\n    {}\n  )",
                        inc("callcenter_sl_answered_total"),
                        inc("callcenter_sl_abandoned_total")
                    ),
                    inc("callcenter_sl_offered_total"),
                ),
            };
            y.line(6, &format!("- record: {}", error_ratio(w)));
            y.block(8, "expr", &format!("1 - (\n  {good}\n    /\n  {total}\n)"));
            y.line(8, "labels:");
            y.kv(10, "sl_formula", &formula.to_string());
        }
    }
    for (alert, key, default_severity, burn, short, long) in BURNS {
        let burn = burn(a);
        let threshold = format!("({burn} * (1 - max by (queue) (callcenter_sl_target_ratio)))");
        let expr = format!(
            "(\n  {long_ratio}\n    > on (queue)\n  {threshold}\n)\nand on (queue)\n(\n  {short_ratio}\n    > on (queue)\n  {threshold}\n)\nand on (queue)\n(\n  sum by (queue) (increase(callcenter_sl_offered_total[{long}]))\n    >= on (queue)\n  max by (queue) (callcenter_min_volume)\n)",
            long_ratio = error_ratio(long),
            short_ratio = error_ratio(short),
        );
        let days = 30.0 / burn;
        let description = format!(
            "Queue {{{{ $labels.queue }}}}: {{{{ $value | humanizePercentage }}}} of the contacts decided over the last {long} missed the service level (also over the last {short}), more than {burn} times the error budget (1 - SL target): at this rate a 30-day budget lasts {days:.1} days."
        );
        y.line(6, &format!("- alert: {alert}"));
        y.block(8, "expr", &expr);
        y.line(
            8,
            &format!("keep_firing_for: {}", duration(a.keep_firing_for)),
        );
        y.line(8, "labels:");
        y.kv(10, "severity", severity(config, key, default_severity));
        y.kv(10, "kpi", "service_level");
        y.kv(10, "window", long);
        annotations(
            config,
            y,
            &format!("Service level error budget burning {burn}x in queue {{{{ $labels.queue }}}}"),
            &description,
        );
    }
}

fn self_group(config: &Config, y: &mut Yaml) {
    let silence = duration(config.alerts.no_events_for);
    // (alert, severity, expr, for, summary, description, `reason` label telling two rules of
    // one alert apart)
    let rules: [(&str, &str, &str, &str, &str, String, &str); 6] = [
        (
            "CallpulseDown",
            "page",
            "up{job=\"callpulse\"} == 0",
            "1m",
            "callpulse instance {{ $labels.instance }} is down",
            "Prometheus has not been able to scrape callpulse at {{ $labels.instance }} for 1m: the wallboards and KPI alerts of the queues it serves are blind.".into(),
            "",
        ),
        (
            "CallpulseNotReady",
            "ticket",
            "callpulse_ready == 0",
            "5m",
            "callpulse instance {{ $labels.instance }} is not ready",
            "callpulse at {{ $labels.instance }} has reported not ready (/readyz) for 5m: it is not consuming, or still rebuilding its windows after a partition assignment.".into(),
            "",
        ),
        (
            "CallpulseLagGrowing",
            "ticket",
            "max by (topic, partition) (callpulse_consumer_lag_seconds) > 60",
            "10m",
            "callpulse is behind on {{ $labels.topic }}/{{ $labels.partition }}",
            "The consumer of partition {{ $labels.partition }} of {{ $labels.topic }} has been more than 60s behind for 10m (now {{ $value | humanizeDuration }}): KPIs lag reality; scale out or check the instance.".into(),
            "behind",
        ),
        (
            "CallpulseLagGrowing",
            "ticket",
            "max by (topic, partition) (deriv(callpulse_consumer_lag_messages[10m])) > 0\n  and on (topic, partition)\nmax by (topic, partition) (callpulse_consumer_lag_seconds) > 10",
            "15m",
            "callpulse lag is growing on {{ $labels.topic }}/{{ $labels.partition }}",
            "The consumer lag of partition {{ $labels.partition }} of {{ $labels.topic }} has kept growing for 15m ({{ $value | humanize }} messages/s) and is above 10s: callpulse does not keep up with the event rate.".into(),
            "growing",
        ),
        (
            "CallpulseRejectsSpiking",
            "ticket",
            "sum by (job) (rate(callpulse_events_rejected_total{reason!=\"duplicate\"}[5m])) > 1\nor\nsum by (job) (rate(callpulse_events_rejected_total{reason!=\"duplicate\"}[5m]))\n  > 0.05 * sum by (job) (rate(callpulse_events_accepted_total[5m]))",
            "5m",
            "callpulse rejects many events",
            "callpulse has rejected {{ $value | humanize }} events/s for 5m (duplicates not counted), more than 1/s or 5% of the accepted events: see callpulse_events_rejected_total by reason (and the dead-letter topic when configured).".into(),
            "",
        ),
        (
            "CallpulseNoEvents",
            "ticket",
            "",
            "",
            "No events reach callpulse (job {{ $labels.job }})",
            format!("No telephony event has been accepted for {silence}: the event source, the Kafka topic or the adapter may be down (or the contact center is closed)."),
            "",
        ),
    ];
    y.line(2, "- name: callpulse-self");
    y.line(4, "rules:");
    for (alert, default_severity, expr, r#for, summary, description, reason) in rules {
        let (expr, r#for) = if alert == "CallpulseNoEvents" {
            // "No increase over the range" must hold `for` the rest of no_events_for: the range
            // stays short enough for a fresh counter not to fire at once, long enough to hold
            // two scrapes at any usual interval.
            let range = config.alerts.no_events_for.min(NO_EVENTS_RANGE);
            let hold = Span::from_millis(config.alerts.no_events_for.millis() - range.millis());
            (
                format!(
                    "sum by (job) (increase(callpulse_events_accepted_total[{}])) == 0",
                    duration(range)
                ),
                duration(hold),
            )
        } else {
            (expr.to_string(), r#for.to_string())
        };
        y.line(6, &format!("- alert: {alert}"));
        y.block(8, "expr", &expr);
        if !r#for.is_empty() {
            y.line(8, &format!("for: {for}"));
        }
        y.line(8, "labels:");
        y.kv(10, "severity", severity(config, alert, default_severity));
        if !reason.is_empty() {
            y.kv(10, "reason", reason);
        }
        annotations(config, y, summary, &description);
    }
}

fn annotations(config: &Config, y: &mut Yaml, summary: &str, description: &str) {
    y.line(8, "annotations:");
    y.kv(10, "summary", summary);
    y.kv(10, "description", description);
    if let Some(url) = config
        .alerts
        .runbook_url
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        y.kv(10, "runbook_url", url);
    }
}

fn severity<'a>(config: &'a Config, key: &str, default: &'a str) -> &'a str {
    config
        .alerts
        .severity
        .get(key)
        .map_or(default, String::as_str)
}

/// Name of the recorded SL error ratio over `window`.
fn error_ratio(window: &str) -> String {
    format!("queue:callcenter_sl_errors:ratio_increase{window}")
}

/// One label matcher per SL formula in use: none when every queue uses the default formula.
fn formula_matchers(config: &Config) -> Vec<(SlFormula, String)> {
    let default = config.defaults.sl_formula;
    let mut others: Vec<(SlFormula, Vec<&str>)> = Vec::new();
    for (name, q) in &config.queues {
        if q.sl_formula == default {
            continue;
        }
        match others.iter_mut().find(|(f, _)| *f == q.sl_formula) {
            Some((_, names)) => names.push(name),
            None => others.push((q.sl_formula, vec![name])),
        }
    }
    if others.is_empty() {
        return vec![(default, String::new())];
    }
    let regex = |names: &[&str]| {
        let alts: Vec<String> = names.iter().map(|n| regex_escape(n)).collect();
        promql_str(&alts.join("|"))
    };
    let all: Vec<&str> = others.iter().flat_map(|(_, n)| n.iter().copied()).collect();
    let mut out = vec![(default, format!("{{queue!~{}}}", regex(&all)))];
    out.extend(
        others
            .iter()
            .map(|(f, names)| (*f, format!("{{queue=~{}}}", regex(names)))),
    );
    out
}

/// How a window label reads in a sentence.
fn window_phrase(config: &Config, window: &str) -> String {
    match window {
        "interval" => format!("the current {} reporting interval", config.engine.interval),
        "today" => "today (since the queue's local day start)".into(),
        w => format!("the last {w}"),
    }
}

/// A config duration as a Prometheus duration (`1h30m`, `500ms`, `0s`).
fn duration(span: Span) -> String {
    span.to_string()
}

#[cfg(test)]
mod tests;
