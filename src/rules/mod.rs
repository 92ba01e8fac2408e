//! Prometheus alerting rules generated from the configuration (`callpulse rules`), so that KPI
//! targets, `min_volume` and the alerting policy (`[alerts]`) live in one place.
//!
//! The rules never copy a target into PromQL: they read the gauges the monitor exports
//! (`callcenter_sl_target_ratio` and the other targets, `callcenter_min_volume`), so a queue
//! that only appears in events is covered as well. The config decides the window the KPI alerts
//! watch, `for` / `keep_firing_for`, severities, the runbook link, the burn factors
//! (`fast_burn`, `slow_burn`), and each queue's SL formula in the recorded service level and
//! the burn rates.
//!
//! Several instances (a consumer group sharing the partitions; a queue's events may come from
//! partitions owned by several of them, and configured queues are exported by every instance,
//! with zero volume where none of its events are) are handled by summing: every ratio and mean
//! is computed from the counts, `_sum` and `_count` summed `by (queue)` over the instances (the
//! windowed gauges for the KPI alerts, `increase()` of the cumulative counters for the burn
//! rates), compared with the target (`max by (queue)`: identical on every instance), and gated
//! by `min_volume` on the summed denominator, so a queue split over two instances alerts on its
//! whole numbers, never on one half's ratio. The per-instance `callcenter_breach` gauge (the
//! wallboard's) is not read; the oldest wait is the maximum of the instances' maxima. The
//! service level is recorded per queue and window (`queue_window:callcenter_service_level:ratio`,
//! also read by the Grafana dashboards), because its formula is per queue config. The KPI
//! group lives in `kpi`; `docs/scaling.md` says what is exact across instances.
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

mod kpi;
pub mod needs;
mod yaml;

use kpi::left_out;

use yaml::{comment_safe, promql_str, regex_escape, Yaml};

use crate::config::{AlertsConfig, Config, SlFormula};
use crate::time::Span;

/// A burn-rate alert in the style of the Google SRE workbook (multiwindow, multi-burn-rate). The
/// burn factors come from `[alerts] fast_burn` / `slow_burn`: the workbook's 14.4 / 6 cannot fire
/// for the usual 80/20 targets (the error ratio is at most 1).
struct BurnAlert {
    /// The alert's name.
    alert: &'static str,
    /// The key that overrides its severity in `[alerts.severity]`.
    severity_key: &'static str,
    /// Its severity when `[alerts.severity]` does not name it.
    default_severity: &'static str,
    /// How many times the error budget the SL error ratio must burn at.
    burn: fn(&AlertsConfig) -> f64,
    /// The window that stops the alert soon after the burn stops.
    short: &'static str,
    /// The window the burn is measured over.
    long: &'static str,
}

const BURNS: [BurnAlert; 2] = [
    BurnAlert {
        alert: "CallcenterServiceLevelFastBurn",
        severity_key: "service_level_fast_burn",
        default_severity: "page",
        burn: fast_burn,
        short: "5m",
        long: "1h",
    },
    BurnAlert {
        alert: "CallcenterServiceLevelSlowBurn",
        severity_key: "service_level_slow_burn",
        default_severity: "ticket",
        burn: slow_burn,
        short: "30m",
        long: "6h",
    },
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

/// The alerting-rules file (Prometheus `rule_files` format) for this configuration.
pub fn render(config: &Config) -> String {
    let mut y = Yaml::default();
    header(config, &mut y);
    y.line(0, "groups:");
    kpi::kpi_group(config, &mut y);
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
    let mut queues: Vec<(String, f64)> =
        vec![("[defaults]".into(), config.center.defaults.sl_target)];
    queues.extend(
        config
            .center
            .queues
            .iter()
            .map(|(name, q)| (format!("[queues.{}]", comment_safe(name)), q.sl_target)),
    );
    for b in &BURNS {
        let (alert, burn) = (b.alert, (b.burn)(&config.alerts));
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

fn burn_group(config: &Config, y: &mut Yaml) {
    let a = &config.alerts;
    y.line(2, "- name: callpulse-sl-burn");
    y.line(4, "rules:");
    // SL error ratio = 1 - good / total, by the queue's sl_formula (one rule per formula in use).
    for (formula, matcher) in formula_matchers(config) {
        for w in BURN_WINDOWS {
            let (good, total) = sl_terms(formula, |family| {
                format!("sum by (queue) (increase(callcenter_sl_{family}_total{matcher}[{w}]))")
            });
            let ratio = kpi::parens(&format!("{good}\n  /\n{total}"));
            y.line(6, &format!("- record: {}", error_ratio(w)));
            y.block(8, "expr", &format!("1 - {ratio}"));
            y.line(8, "labels:");
            y.kv(10, "sl_formula", &formula.to_string());
        }
    }
    for b in &BURNS {
        let (alert, short, long) = (b.alert, b.short, b.long);
        let burn = (b.burn)(a);
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
        y.kv(
            10,
            "severity",
            severity(config, b.severity_key, b.default_severity),
        );
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

/// One alert rule of the `callpulse-self` group.
struct SelfAlert {
    alert: &'static str,
    default_severity: &'static str,
    /// PromQL; empty for `CallpulseNoEvents`, whose expression follows `no_events_for`.
    expr: &'static str,
    r#for: &'static str,
    summary: &'static str,
    /// The description; `{silence}` is replaced by `[alerts] no_events_for`.
    description: &'static str,
    /// The `reason` label telling two rules of one alert apart (empty: none).
    reason: &'static str,
}

/// The `callpulse-self` group, one row per rule.
const SELF_ALERTS: [SelfAlert; 6] = [
    SelfAlert {
        alert: "CallpulseDown",
        default_severity: "page",
        expr: "up{job=\"callpulse\"} == 0",
        r#for: "1m",
        summary: "callpulse instance {{ $labels.instance }} is down",
        description: "Prometheus has not been able to scrape callpulse at {{ $labels.instance }} for 1m: the wallboards and KPI alerts of the queues it serves are blind.",
        reason: "",
    },
    SelfAlert {
        alert: "CallpulseNotReady",
        default_severity: "ticket",
        expr: "callpulse_ready == 0",
        r#for: "5m",
        summary: "callpulse instance {{ $labels.instance }} is not ready",
        description: "callpulse at {{ $labels.instance }} has reported not ready (/readyz) for 5m: it is not consuming, or still rebuilding its windows after a partition assignment.",
        reason: "",
    },
    SelfAlert {
        alert: "CallpulseLagGrowing",
        default_severity: "ticket",
        expr: "max by (topic, partition) (callpulse_consumer_lag_seconds) > 60",
        r#for: "10m",
        summary: "callpulse is behind on {{ $labels.topic }}/{{ $labels.partition }}",
        description: "The consumer of partition {{ $labels.partition }} of {{ $labels.topic }} has been more than 60s behind for 10m (now {{ $value | humanizeDuration }}): KPIs lag reality; scale out or check the instance.",
        reason: "behind",
    },
    SelfAlert {
        alert: "CallpulseLagGrowing",
        default_severity: "ticket",
        expr: "max by (topic, partition) (deriv(callpulse_consumer_lag_messages[10m])) > 0\n  and on (topic, partition)\nmax by (topic, partition) (callpulse_consumer_lag_seconds) > 10",
        r#for: "15m",
        summary: "callpulse lag is growing on {{ $labels.topic }}/{{ $labels.partition }}",
        description: "The consumer lag of partition {{ $labels.partition }} of {{ $labels.topic }} has kept growing for 15m ({{ $value | humanize }} messages/s) and is above 10s: callpulse does not keep up with the event rate.",
        reason: "growing",
    },
    SelfAlert {
        alert: "CallpulseRejectsSpiking",
        default_severity: "ticket",
        expr: "sum by (job) (rate(callpulse_events_rejected_total{reason!=\"duplicate\"}[5m])) > 1\nor\nsum by (job) (rate(callpulse_events_rejected_total{reason!=\"duplicate\"}[5m]))\n  > 0.05 * sum by (job) (rate(callpulse_events_accepted_total[5m]))",
        r#for: "5m",
        summary: "callpulse rejects many events",
        description: "callpulse has rejected {{ $value | humanize }} events/s for 5m (duplicates not counted), more than 1/s or 5% of the accepted events: see callpulse_events_rejected_total by reason (and the dead-letter topic when configured).",
        reason: "",
    },
    SelfAlert {
        alert: "CallpulseNoEvents",
        default_severity: "ticket",
        expr: "",
        r#for: "",
        summary: "No events reach callpulse (job {{ $labels.job }})",
        description: "No telephony event has been accepted for {silence}: the event source, the Kafka topic or the adapter may be down (or the contact center is closed).",
        reason: "",
    },
];

fn self_group(config: &Config, y: &mut Yaml) {
    let silence = duration(config.alerts.no_events_for);
    y.line(2, "- name: callpulse-self");
    y.line(4, "rules:");
    for rule in &SELF_ALERTS {
        let (expr, r#for) = if rule.alert == "CallpulseNoEvents" {
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
            (rule.expr.to_string(), rule.r#for.to_string())
        };
        y.line(6, &format!("- alert: {}", rule.alert));
        y.block(8, "expr", &expr);
        if !r#for.is_empty() {
            y.line(8, &format!("for: {for}"));
        }
        y.line(8, "labels:");
        y.kv(
            10,
            "severity",
            severity(config, rule.alert, rule.default_severity),
        );
        if !rule.reason.is_empty() {
            y.kv(10, "reason", rule.reason);
        }
        let description = rule.description.replace("{silence}", &silence);
        annotations(config, y, rule.summary, &description);
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

/// The service level's numerator and denominator by `formula`, each count built by `count`
/// from its family's suffix (`answered`, `offered`, `abandoned` of `callcenter_sl_*`), so the
/// burn rates and the recorded service level follow the contract's formulas alike.
fn sl_terms(formula: SlFormula, count: impl Fn(&str) -> String) -> (String, String) {
    let pair =
        |a: &str, op: &str, b: &str| format!("(\n  {}\n    {op}\n  {}\n)", count(a), count(b));
    match formula {
        SlFormula::AbandonsNegative => (count("answered"), count("offered")),
        SlFormula::IgnoreAbandons => (count("answered"), pair("offered", "-", "abandoned")),
        SlFormula::AbandonsPositive => (pair("answered", "+", "abandoned"), count("offered")),
    }
}

/// One label matcher per SL formula in use: none when every queue uses the default formula.
fn formula_matchers(config: &Config) -> Vec<(SlFormula, String)> {
    let default = config.center.defaults.sl_formula;
    let mut others: Vec<(SlFormula, Vec<&str>)> = Vec::new();
    for (name, q) in &config.center.queues {
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
        "interval" => format!(
            "the current {} reporting interval",
            config.center.engine.interval
        ),
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
