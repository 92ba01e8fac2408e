//! The contract's metric families (`docs/metrics.md`) of a [`Snapshot`](crate::snapshot::Snapshot), plus cumulative
//! counters and histograms: one table per kind of family (name, help, accessor), rendered as
//! Prometheus text (`exposition`) or JSON (`json`); and the opt-in per-agent families (`agents`).
//!
//! Rendered straight into a byte buffer: a scrape of 1,000 queues × 5 windows is ~250k
//! samples, too many to build as `prometheus` crate metric objects on every scrape.

mod agents;
mod exposition;
mod forecast;
mod json;
mod select;
mod text;
mod workforce;

pub use exposition::{escape_label, Exposition, Sink};
pub use json::to_json;
pub use select::{shard_of, Selection, SelectionError};
pub use text::render;

use crate::kpi::{Tally, WindowAgg};
use crate::snapshot::QueueSnapshot;

/// Upper bounds (seconds) the cumulative duration histograms can have; `[export]
/// histogram_buckets` chooses among them.
pub use crate::settings::HISTOGRAM_BOUNDS;

/// Quantiles of every summary, in thousandths, and their label.
pub(crate) const QUANTILES: [(u32, &str); 3] = [
    (500, "quantile=\"0.5\""),
    (900, "quantile=\"0.9\""),
    (990, "quantile=\"0.99\""),
];

type Count = fn(&Tally) -> i64;
type Ratio = fn(&WindowAgg, &QueueSnapshot) -> Option<f64>;

/// One count of a window and of everything final: exported as a windowed gauge, as a
/// cumulative counter, or both (name and help of each).
pub(crate) struct CountFamily {
    pub window: Option<(&'static str, &'static str)>,
    pub total: Option<(&'static str, &'static str)>,
    pub get: Count,
}

const fn both(
    window: (&'static str, &'static str),
    total: (&'static str, &'static str),
    get: Count,
) -> CountFamily {
    CountFamily {
        window: Some(window),
        total: Some(total),
        get,
    }
}

const fn total(total: (&'static str, &'static str), get: Count) -> CountFamily {
    CountFamily {
        window: None,
        total: Some(total),
        get,
    }
}

pub(crate) const COUNTS: [CountFamily; 23] = [
    both(
        (
            "callcenter_contacts_offered",
            "Contacts offered in the window (by offer time).",
        ),
        (
            "callcenter_contacts_offered_total",
            "Contacts offered, final (older than the allowed lateness).",
        ),
        |t| t.offered,
    ),
    both(
        (
            "callcenter_contacts_answered",
            "Contacts answered in the window (by answer time).",
        ),
        ("callcenter_contacts_answered_total", "Contacts answered."),
        |t| t.answered,
    ),
    both(
        (
            "callcenter_contacts_abandoned",
            "Contacts abandoned in the window, short abandons excluded.",
        ),
        (
            "callcenter_contacts_abandoned_total",
            "Contacts abandoned, short abandons excluded.",
        ),
        |t| t.abandoned,
    ),
    both(
        (
            "callcenter_contacts_abandoned_short",
            "Short abandons in the window (wait below the queue's short_abandon).",
        ),
        (
            "callcenter_contacts_abandoned_short_total",
            "Short abandons.",
        ),
        |t| t.abandoned_short,
    ),
    both(
        (
            "callcenter_contacts_overflowed",
            "Contacts that left the queue by routing in the window.",
        ),
        (
            "callcenter_contacts_overflowed_total",
            "Contacts overflowed.",
        ),
        |t| t.overflowed,
    ),
    both(
        (
            "callcenter_contacts_transferred",
            "Conversations that ended by transfer in the window.",
        ),
        (
            "callcenter_contacts_transferred_total",
            "Conversations ended by transfer.",
        ),
        |t| t.transferred,
    ),
    both(
        (
            "callcenter_sl_offered",
            "Contacts whose service-level decision falls in the window (short abandons excluded).",
        ),
        ("callcenter_sl_offered_total", "Service-level decisions."),
        |t| t.sl_offered,
    ),
    both(
        (
            "callcenter_sl_answered",
            "Of those, answered within the threshold.",
        ),
        (
            "callcenter_sl_answered_total",
            "Service-level decisions: answered within the threshold.",
        ),
        |t| t.sl_answered,
    ),
    both(
        (
            "callcenter_sl_abandoned",
            "Of those, abandoned within the threshold.",
        ),
        (
            "callcenter_sl_abandoned_total",
            "Service-level decisions: abandoned within the threshold.",
        ),
        |t| t.sl_abandoned,
    ),
    both(
        (
            "callcenter_contacts_resolution_reported",
            "Contacts completed in the window whose contact.ended reported resolved.",
        ),
        (
            "callcenter_contacts_resolution_reported_total",
            "Contacts completed with resolved reported.",
        ),
        |t| t.resolution_reported,
    ),
    both(
        ("callcenter_contacts_resolved", "Of those, resolved: true."),
        (
            "callcenter_contacts_resolved_total",
            "Contacts completed with resolved: true.",
        ),
        |t| t.resolved,
    ),
    both(
        (
            "callcenter_contacts_identified",
            "Contacts offered in the window with a customer.",
        ),
        (
            "callcenter_contacts_identified_total",
            "Contacts offered with a customer.",
        ),
        |t| t.identified,
    ),
    both(
        (
            "callcenter_contacts_repeat",
            "Of those, contacts whose customer had another contact in the queue within repeat_window before.",
        ),
        (
            "callcenter_contacts_repeat_total",
            "Repeat contacts.",
        ),
        |t| t.repeat,
    ),
    both(
        (
            "callcenter_abandoned_recovered",
            "Abandons (not short, with a customer) whose customer got through within callback_window, by the answer's time.",
        ),
        (
            "callcenter_abandoned_recovered_total",
            "Abandoned customers who got through within callback_window.",
        ),
        |t| t.abandoned_recovered,
    ),
    both(
        (
            "callcenter_abandoned_lost",
            "Abandons (not short, with a customer) whose customer did not get through within callback_window, at its end.",
        ),
        (
            "callcenter_abandoned_lost_total",
            "Abandoned customers who did not get through within callback_window.",
        ),
        |t| t.abandoned_lost,
    ),
    total(
        (
            "callcenter_contacts_completed_total",
            "Contacts whose handling completed.",
        ),
        |t| t.completed,
    ),
    total(
        (
            "callcenter_csat_responses_total",
            "Surveys with a CSAT answer.",
        ),
        |t| t.csat_count,
    ),
    total(
        ("callcenter_csat_points_total", "Sum of CSAT answers."),
        |t| t.csat_sum,
    ),
    total(
        (
            "callcenter_nps_responses_total",
            "Surveys with an NPS answer.",
        ),
        |t| t.nps_count,
    ),
    total(
        ("callcenter_nps_promoters_total", "NPS answers of 9 or 10."),
        |t| t.nps_promoters,
    ),
    total(
        ("callcenter_nps_detractors_total", "NPS answers of 0 to 6."),
        |t| t.nps_detractors,
    ),
    total(
        (
            "callcenter_ces_responses_total",
            "Surveys with a CES answer.",
        ),
        |t| t.ces_count,
    ),
    total(
        ("callcenter_ces_points_total", "Sum of CES answers."),
        |t| t.ces_sum,
    ),
];

pub(crate) const RATIOS: [(&str, &str, Ratio); 10] = [
    (
        "callcenter_service_level_ratio",
        "Service level by the queue's sl_formula; absent when nothing was decided in the window.",
        |w, q| w.service_level(q.settings.sl_formula),
    ),
    (
        "callcenter_abandon_ratio",
        "Abandoned / (answered + abandoned + overflowed), each by its outcome time.",
        |w, _| w.abandon_ratio(),
    ),
    (
        "callcenter_asa_seconds",
        "Average speed of answer: mean wait of contacts answered in the window.",
        |w, _| w.asa(),
    ),
    (
        "callcenter_aht_seconds",
        "Average handle time (talk + hold + wrap-up) of contacts completed in the window.",
        |w, _| w.aht(),
    ),
    (
        "callcenter_csat_score",
        "Mean CSAT (1..5) of surveys submitted in the window.",
        |w, _| w.csat(),
    ),
    (
        "callcenter_nps_score",
        "Net promoter score (-100..100) of surveys submitted in the window.",
        |w, _| w.nps(),
    ),
    (
        "callcenter_ces_score",
        "Mean customer effort score (1..7) of surveys submitted in the window.",
        |w, _| w.ces(),
    ),
    (
        "callcenter_fcr_ratio",
        "First-contact resolution: resolved / resolution reported, of contacts completed in the window.",
        |w, _| w.fcr(),
    ),
    (
        "callcenter_repeat_ratio",
        "Repeat contacts / contacts with a customer, offered in the window.",
        |w, _| w.repeat_ratio(),
    ),
    (
        "callcenter_lost_customer_ratio",
        "Lost / (lost + recovered): of the customers who gave up, the share who did not get through within callback_window.",
        |w, _| w.lost_customer_ratio(),
    ),
];

pub(crate) const SUMMARY_HELP: [&str; 6] = [
    "Wait of contacts answered in the window.",
    "Handle time of contacts completed in the window.",
    "Talk time of contacts completed in the window.",
    "Hold time of contacts completed in the window.",
    "Wrap-up (after-call work) time of contacts completed in the window.",
    "First response minus offer, of contacts whose first response falls in the window (a voice or callback contact responds when answered; a chat or e-mail at its first contact.responded).",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::Measure;
    use crate::settings::{STANDARD_LEFT_OUT, WINDOWED_FAMILIES};

    /// `[export] families` is validated against the config's list: it must name exactly the
    /// windowed families rendered here, so none is unreachable and none is made up.
    #[test]
    fn the_configs_windowed_families_are_the_ones_rendered() {
        let mut rendered: Vec<&str> = (COUNTS.iter().filter_map(|c| c.window.map(|(n, _)| n)))
            .chain(RATIOS.iter().map(|(n, _, _)| *n))
            .chain(Measure::ALL.iter().map(|m| m.summary_name()))
            .chain(workforce::FAMILIES.iter().map(|(n, _, _)| *n))
            .chain(["callcenter_breach"])
            .collect();
        rendered.sort_unstable();
        let mut listed = WINDOWED_FAMILIES.to_vec();
        listed.sort_unstable();
        assert_eq!(rendered, listed);
        assert!(STANDARD_LEFT_OUT.iter().all(|f| listed.contains(f)));
    }
}
