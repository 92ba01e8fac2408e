//! The KPI alert rules (`callpulse-kpi` group): the service level recorded per queue from counts
//! summed across instances, one alert per KPI on the wrong side of its target, and the
//! predicted breach.
//!
//! Every ratio and mean is computed from counts and sums summed `by (queue)` over every instance
//! (a queue's events may come from partitions owned by several instances), then compared with
//! the queue's target gauge (`max by (queue)`: targets are identical on every instance) and
//! gated by `min_volume` on the summed denominator, the volume rule of
//! [`crate::kpi::WindowAgg::breaches`]. The per-instance `callcenter_breach` gauge is not read:
//! an instance holding half a queue would compare half a queue's ratio with the target.

use super::needs::missing;
use super::yaml::{promql_str, Yaml};
use super::{annotations, duration, formula_matchers, severity, sl_terms, window_phrase};
use crate::config::Config;

/// The windowed counts the recorded service level reads.
const SL_COUNTS: [&str; 3] = [
    "callcenter_sl_offered",
    "callcenter_sl_answered",
    "callcenter_sl_abandoned",
];

/// The service level per queue and window, by each queue's `sl_formula`, from the windowed
/// `callcenter_sl_*` counts summed over instances (NaN while nothing was decided). Read by
/// the service-level alert, the predicted breach and the Grafana dashboards.
pub(super) const SERVICE_LEVEL: &str = "queue_window:callcenter_service_level:ratio";

/// How a KPI is computed across instances.
enum Value {
    /// [`SERVICE_LEVEL`] of the window; volume: `callcenter_sl_offered`.
    ServiceLevel,
    /// `num / (den[0] + den[1] + ...)`, each a windowed gauge summed by queue; volume: the
    /// denominator.
    Ratio {
        num: &'static str,
        den: &'static [&'static str],
    },
    /// A live gauge: the worst instance is the queue's value (a maximum of maxima); no
    /// `min_volume`.
    Max(&'static str),
}

/// A KPI alert: the value shown is the KPI itself, computed across instances.
struct KpiAlert {
    alert: &'static str,
    kpi: &'static str,
    default_severity: &'static str,
    value: Value,
    /// The target gauge and the comparison that breaches it (`<` when lower is worse).
    target: &'static str,
    op: &'static str,
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
        value: Value::ServiceLevel,
        target: "callcenter_sl_target_ratio",
        op: "<",
        humanize: "humanizePercentage",
        summary: "Service level below target in queue {{ $labels.queue }}",
        what: "service level",
        side: "below the queue's target (callcenter_sl_target_ratio)",
    },
    KpiAlert {
        alert: "CallcenterAbandonRateBreach",
        kpi: "abandon",
        default_severity: "ticket",
        value: Value::Ratio {
            num: "callcenter_contacts_abandoned",
            den: &[
                "callcenter_contacts_answered",
                "callcenter_contacts_abandoned",
                "callcenter_contacts_overflowed",
            ],
        },
        target: "callcenter_abandon_target_ratio",
        op: ">",
        humanize: "humanizePercentage",
        summary: "Abandon rate above target in queue {{ $labels.queue }}",
        what: "abandon rate",
        side: "above the queue's target (callcenter_abandon_target_ratio)",
    },
    KpiAlert {
        alert: "CallcenterAsaBreach",
        kpi: "asa",
        default_severity: "ticket",
        value: Value::Ratio {
            num: "callcenter_wait_seconds_sum",
            den: &["callcenter_wait_seconds_count"],
        },
        target: "callcenter_asa_target_seconds",
        op: ">",
        humanize: "humanizeDuration",
        summary: "Average speed of answer above target in queue {{ $labels.queue }}",
        what: "average speed of answer",
        side: "above the queue's target (callcenter_asa_target_seconds)",
    },
    KpiAlert {
        alert: "CallcenterAhtBreach",
        kpi: "aht",
        default_severity: "ticket",
        value: Value::Ratio {
            num: "callcenter_handle_seconds_sum",
            den: &["callcenter_handle_seconds_count"],
        },
        target: "callcenter_aht_target_seconds",
        op: ">",
        humanize: "humanizeDuration",
        summary: "Average handle time above target in queue {{ $labels.queue }}",
        what: "average handle time",
        side: "above the queue's target (callcenter_aht_target_seconds)",
    },
    KpiAlert {
        alert: "CallcenterFirstResponseBreach",
        kpi: "first_response",
        default_severity: "ticket",
        value: Value::Ratio {
            num: "callcenter_first_response_seconds_sum",
            den: &["callcenter_first_response_seconds_count"],
        },
        target: "callcenter_first_response_target_seconds",
        op: ">",
        humanize: "humanizeDuration",
        summary: "Mean first response above target in queue {{ $labels.queue }}",
        what: "mean first response",
        side: "above the queue's target (callcenter_first_response_target_seconds)",
    },
    KpiAlert {
        alert: "CallcenterOldestWaitBreach",
        kpi: "oldest_wait",
        default_severity: "page",
        value: Value::Max("callcenter_oldest_wait_seconds"),
        target: "callcenter_oldest_wait_target_seconds",
        op: ">",
        humanize: "humanizeDuration",
        summary: "A contact has waited too long in queue {{ $labels.queue }}",
        what: "the longest-waiting contact has waited",
        side: "more than the queue's target (callcenter_oldest_wait_target_seconds)",
    },
];

impl KpiAlert {
    /// The windowed series the alert reads (none for a live one).
    fn reads(&self) -> Vec<&'static str> {
        match &self.value {
            Value::ServiceLevel => SL_COUNTS.to_vec(),
            Value::Ratio { num, den } => std::iter::once(*num).chain(den.iter().copied()).collect(),
            Value::Max(_) => Vec::new(),
        }
    }
}

/// The window a KPI alert watches: `now` for a live one, else `[alerts] window` (`None`: empty,
/// no windowed KPI alerts).
fn watched(config: &Config, k: &KpiAlert) -> Option<String> {
    match (&k.value, config.alerts.window.as_str()) {
        (Value::Max(_), _) => Some("now".into()),
        (_, "") => None,
        (_, w) => Some(w.into()),
    }
}

/// What the export profile lacks for alert `k` in `window`.
fn lacks(config: &Config, k: &KpiAlert, window: &str) -> Option<String> {
    let reads = k.reads();
    (!reads.is_empty())
        .then(|| missing(&config.center.export, &reads, Some(window)))
        .flatten()
}

/// What the predicted breach lacks: the service level in the alerts window and the offered
/// contacts in the forecast window.
fn predicted_lacks(config: &Config, forecast: &str) -> Option<String> {
    let sl = missing(
        &config.center.export,
        &SL_COUNTS,
        Some(&config.alerts.window),
    );
    let offered = missing(
        &config.center.export,
        &["callcenter_contacts_offered"],
        Some(forecast),
    );
    match (sl, offered) {
        (None, None) => None,
        (a, b) => Some(a.into_iter().chain(b).collect::<Vec<_>>().join("; ")),
    }
}

/// The KPI alerts the export profile leaves without series, with what it lacks: `callpulse
/// rules` leaves them out.
pub(super) fn left_out(config: &Config) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = KPI_ALERTS
        .iter()
        .filter_map(|k| {
            let window = watched(config, k)?;
            lacks(config, k, &window).map(|lack| (k.alert, lack))
        })
        .collect();
    if let (Some(f), false) = (
        &config.center.engine.forecast_window,
        config.alerts.window.is_empty(),
    ) {
        if let Some(lack) = predicted_lacks(config, &f.label) {
            out.push(("CallcenterServiceLevelPredictedBreach", lack));
        }
    }
    out
}

/// `lhs`, the operator one level deeper, `rhs`: the layout of every binary expression here.
fn binary(lhs: &str, op: &str, rhs: &str) -> String {
    format!("{lhs}\n  {op}\n{rhs}")
}

/// `expr` in parentheses, one level deeper.
pub(super) fn parens(expr: &str) -> String {
    format!("(\n{}\n)", indent(expr))
}

fn indent(expr: &str) -> String {
    expr.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `metric{window=w}` summed over instances.
fn summed(metric: &str, w: &str) -> String {
    format!("sum by (queue) ({metric}{{window={w}}})")
}

/// At least `min_volume` in `volume` (an expression by queue).
fn enough(volume: &str) -> String {
    binary(
        volume,
        ">= on (queue)",
        "max by (queue) (callcenter_min_volume)",
    )
}

/// The breach of `k` in window `w` (a PromQL string literal): the KPI's value by queue, where
/// it is on the wrong side of the target with enough volume.
fn breach(k: &KpiAlert, w: &str) -> String {
    let target = format!("max by (queue) ({})", k.target);
    let (value, volume) = match k.value {
        Value::ServiceLevel => (
            format!("max by (queue) ({SERVICE_LEVEL}{{window={w}}})"),
            Some(summed("callcenter_sl_offered", w)),
        ),
        Value::Ratio { num, den } => {
            let den = match den {
                [one] => summed(one, w),
                many => parens(
                    &many
                        .iter()
                        .map(|m| summed(m, w))
                        .collect::<Vec<_>>()
                        .join("\n  +\n"),
                ),
            };
            (parens(&binary(&summed(num, w), "/", &den)), Some(den))
        }
        Value::Max(metric) => (format!("max by (queue) ({metric})"), None),
    };
    let compared = binary(&value, &format!("{} on (queue)", k.op), &target);
    match volume {
        Some(volume) => format!(
            "{}\nand on (queue)\n{}",
            parens(&compared),
            parens(&enough(&volume))
        ),
        None => compared,
    }
}

pub(super) fn kpi_group(config: &Config, y: &mut Yaml) {
    let a = &config.alerts;
    y.line(2, "- name: callpulse-kpi");
    y.line(4, "rules:");
    record_service_level(config, y);
    for k in &KPI_ALERTS {
        let live = matches!(k.value, Value::Max(_));
        let Some(window) = watched(config, k) else {
            continue;
        };
        if let Some(lack) = lacks(config, k, &window) {
            y.line(
                6,
                &format!("# {} left out: [export] leaves out {lack}", k.alert),
            );
            continue;
        }
        let expr = breach(k, &promql_str(&window));
        let measured = if live {
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

/// [`SERVICE_LEVEL`]: one recording rule per `sl_formula` in use, every window at once.
fn record_service_level(config: &Config, y: &mut Yaml) {
    if missing(&config.center.export, &SL_COUNTS, None).is_some() {
        return;
    }
    for (formula, matcher) in formula_matchers(config) {
        let (good, total) = sl_terms(formula, |family| {
            format!("sum by (queue, window) (callcenter_sl_{family}{matcher})")
        });
        y.line(6, &format!("- record: {SERVICE_LEVEL}"));
        y.block(8, "expr", &binary(&good, "/", &total));
        y.line(8, "labels:");
        y.kv(10, "sl_formula", &formula.to_string());
    }
}

/// `CallcenterServiceLevelPredictedBreach` (see the module's documentation of `rules`); left
/// out without a forecast window or a KPI alert window.
fn predicted_breach(config: &Config, y: &mut Yaml) {
    let a = &config.alerts;
    let Some(forecast) = config.center.engine.forecast_window.as_ref() else {
        return;
    };
    if a.window.is_empty() {
        return;
    }
    if let Some(lack) = predicted_lacks(config, &forecast.label) {
        y.line(
            6,
            &format!(
                "# CallcenterServiceLevelPredictedBreach left out: [export] leaves out {lack}"
            ),
        );
        return;
    }
    let (w, fw) = (promql_str(&a.window), promql_str(&forecast.label));
    let forecast_below = format!(
        "min by (queue) {}",
        parens(&binary(
            "callcenter_forecast_service_level_ratio",
            "< on (queue, instance, job)",
            "callcenter_sl_target_ratio"
        ))
    );
    let expr = format!(
        "{forecast_below}\nunless on (queue)\n{}\nand on (queue)\n{}",
        parens(&breach(&KPI_ALERTS[0], &w)),
        parens(&enough(&summed("callcenter_contacts_offered", &fw)))
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
