//! Every KPI definition in one place: the facts a contact contributes, the tallies and
//! distributions a window holds, the contract's ratios and means, and the breach rules
//! (`callcenter_breach`, alerts and the wallboard's red all come from [`WindowAgg::breaches`]
//! and [`oldest_wait_breached`]).
//!
//! Everything here can be added *and removed*, so rolling windows slide and late events can
//! correct a contact's contribution exactly. Durations are integer milliseconds, so sums do not
//! depend on the order facts arrive in.

mod distribution;
pub mod forecast;
mod histogram;
mod workforce;

pub use distribution::Distribution;
pub use histogram::BoundCounts;
pub use workforce::AgentTime;

use crate::settings::{QueueSettings, SlFormula};
use crate::time::Millis;

/// One contribution of a contact to its queue's KPIs, at an instant of event time.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Fact {
    pub at: Millis,
    pub kind: FactKind,
}

/// What a fact counts. Durations are milliseconds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum FactKind {
    Offered,
    /// Answered after waiting `wait` ms.
    Answered {
        wait: u32,
    },
    Abandoned,
    AbandonedShort,
    Overflowed,
    Transferred,
    /// The service-level decision of one contact.
    Sl(SlOutcome),
    /// Handling complete: talk, hold and wrap-up ms.
    Completed {
        talk: u32,
        hold: u32,
        wrapup: u32,
    },
    Survey {
        csat: u8,
        nps: u8,
        ces: u8,
    },
    /// A leg's first response, `ms` after its offer (docs/metrics.md, "First response").
    FirstResponse {
        ms: u32,
    },
    /// A completed leg whose `contact.ended` reported `resolved`.
    Resolution {
        resolved: bool,
    },
    /// A leg offered with a customer (docs/metrics.md, "Customers").
    Identified,
    /// Of those, one whose customer had a leg of another contact in the queue within
    /// `repeat_window` before.
    Repeat,
    /// A non-short abandon with a customer who got through within `callback_window` (at the
    /// answer that decides it).
    Recovered,
    /// One who did not (at the abandon plus `callback_window`).
    Lost,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum SlOutcome {
    Answered,
    Abandoned,
    Missed,
}

/// Survey scores are stored `+1` so that 0 means "not answered" (NPS can be 0).
pub const NO_SCORE: u8 = 0;

/// Declares [`Tally`] from one list of fields, so that adding a count is one line here and
/// merging can never forget a field.
macro_rules! tally {
    ($($(#[doc = $doc:literal])* $field:ident),* $(,)?) => {
        /// Counts and sums of one window.
        #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct Tally {
            $($(#[doc = $doc])* pub $field: i64,)*
        }

        impl Tally {
            /// Adds another tally field by field (merging partitions for one scrape).
            pub fn merge(&mut self, other: &Tally) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

tally! {
    offered,
    answered,
    /// Legs completed (handling ended): the count of every handling duration.
    completed,
    /// Abandons, short abandons excluded.
    abandoned,
    abandoned_short,
    overflowed,
    transferred,
    /// Service-level decisions, and of those answered and abandoned within the threshold.
    sl_offered,
    sl_answered,
    sl_abandoned,
    csat_sum,
    csat_count,
    nps_promoters,
    nps_detractors,
    nps_count,
    ces_sum,
    ces_count,
    /// Legs completed whose `contact.ended` carried `resolved`, and of those `resolved: true`.
    resolution_reported,
    resolved,
    /// Legs offered with a customer, and of those repeats (docs/metrics.md).
    identified,
    repeat,
    /// Non-short abandons with a customer: recovered or lost, by decision time.
    abandoned_recovered,
    abandoned_lost,
}

/// Which distribution a duration belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Wait = 0,
    Handle = 1,
    Talk = 2,
    Hold = 3,
    Wrapup = 4,
    /// First response minus offer (docs/metrics.md).
    FirstResponse = 5,
}

impl Measure {
    pub const ALL: [Measure; 6] = [
        Measure::Wait,
        Measure::Handle,
        Measure::Talk,
        Measure::Hold,
        Measure::Wrapup,
        Measure::FirstResponse,
    ];

    /// The summary family of the contract.
    pub fn summary_name(self) -> &'static str {
        match self {
            Measure::Wait => "callcenter_wait_seconds",
            Measure::Handle => "callcenter_handle_seconds",
            Measure::Talk => "callcenter_talk_seconds",
            Measure::Hold => "callcenter_hold_seconds",
            Measure::Wrapup => "callcenter_wrapup_seconds",
            Measure::FirstResponse => "callcenter_first_response_seconds",
        }
    }

    /// The cumulative histogram family (our addition, for `rate()` and `histogram_quantile()`).
    pub fn histogram_name(self) -> &'static str {
        match self {
            Measure::Wait => "callcenter_wait_duration_seconds",
            Measure::Handle => "callcenter_handle_duration_seconds",
            Measure::Talk => "callcenter_talk_duration_seconds",
            Measure::Hold => "callcenter_hold_duration_seconds",
            Measure::Wrapup => "callcenter_wrapup_duration_seconds",
            Measure::FirstResponse => "callcenter_first_response_duration_seconds",
        }
    }
}

/// What an aggregate keeps of one duration measure: a window's [`Distribution`] (quantiles)
/// or the final counters' [`BoundCounts`] (histogram bounds). Both add and remove.
pub trait Durations: Clone + Default {
    fn apply(&mut self, value_ms: u32, sign: i64);
    fn merge(&mut self, other: &Self);
    fn count(&self) -> i64;
    fn sum_ms(&self) -> i64;
    /// Brings the count `value_ms` would change into the cache (see [`Aggregate::prefetch`]).
    fn prefetch(&self, _value_ms: u32) {}

    fn mean_seconds(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| self.sum_ms() as f64 / count as f64 / 1000.0)
    }
}

impl Durations for Distribution {
    fn apply(&mut self, value_ms: u32, sign: i64) {
        Distribution::apply(self, value_ms, sign)
    }
    fn merge(&mut self, other: &Self) {
        Distribution::merge(self, other)
    }
    fn count(&self) -> i64 {
        Distribution::count(self)
    }
    fn sum_ms(&self) -> i64 {
        Distribution::sum_ms(self)
    }
    fn prefetch(&self, value_ms: u32) {
        Distribution::prefetch(self, value_ms)
    }
}

/// Everything one window of one queue holds (or the final counters: [`Cumulative`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Aggregate<D> {
    pub tally: Tally,
    pub dists: [D; 6],
}

/// A window: durations with their quantiles.
pub type WindowAgg = Aggregate<Distribution>;
/// The final counters: durations at the histograms' bounds.
pub type Cumulative = Aggregate<BoundCounts>;

impl<D: Durations> Aggregate<D> {
    /// Brings the duration counts `kind` would change into the cache ahead of [`Self::apply`].
    #[inline]
    pub fn prefetch(&self, kind: &FactKind) {
        match *kind {
            FactKind::Answered { wait } => self.dists[Measure::Wait as usize].prefetch(wait),
            FactKind::Completed { talk, hold, wrapup } => {
                let handle = handle_ms(talk, hold, wrapup);
                self.dists[Measure::Handle as usize].prefetch(handle);
                self.dists[Measure::Talk as usize].prefetch(talk);
            }
            FactKind::FirstResponse { ms } => {
                self.dists[Measure::FirstResponse as usize].prefetch(ms)
            }
            _ => {}
        }
    }

    /// Adds (`sign = 1`) or removes (`sign = -1`) one fact.
    pub fn apply(&mut self, kind: &FactKind, sign: i64) {
        let t = &mut self.tally;
        match *kind {
            FactKind::Offered => t.offered += sign,
            FactKind::Answered { wait } => {
                t.answered += sign;
                self.dists[Measure::Wait as usize].apply(wait, sign);
            }
            FactKind::Abandoned => t.abandoned += sign,
            FactKind::AbandonedShort => t.abandoned_short += sign,
            FactKind::Overflowed => t.overflowed += sign,
            FactKind::Transferred => t.transferred += sign,
            FactKind::Sl(outcome) => {
                t.sl_offered += sign;
                match outcome {
                    SlOutcome::Answered => t.sl_answered += sign,
                    SlOutcome::Abandoned => t.sl_abandoned += sign,
                    SlOutcome::Missed => {}
                }
            }
            FactKind::Completed { talk, hold, wrapup } => {
                let handle = handle_ms(talk, hold, wrapup);
                t.completed += sign;
                self.dists[Measure::Handle as usize].apply(handle, sign);
                self.dists[Measure::Talk as usize].apply(talk, sign);
                self.dists[Measure::Hold as usize].apply(hold, sign);
                self.dists[Measure::Wrapup as usize].apply(wrapup, sign);
            }
            FactKind::Survey { csat, nps, ces } => {
                if csat != NO_SCORE {
                    t.csat_sum += sign * i64::from(csat - 1);
                    t.csat_count += sign;
                }
                if nps != NO_SCORE {
                    let n = nps - 1;
                    t.nps_count += sign;
                    if n >= 9 {
                        t.nps_promoters += sign;
                    } else if n <= 6 {
                        t.nps_detractors += sign;
                    }
                }
                if ces != NO_SCORE {
                    t.ces_sum += sign * i64::from(ces - 1);
                    t.ces_count += sign;
                }
            }
            FactKind::FirstResponse { ms } => {
                self.dists[Measure::FirstResponse as usize].apply(ms, sign);
            }
            FactKind::Resolution { resolved } => {
                t.resolution_reported += sign;
                if resolved {
                    t.resolved += sign;
                }
            }
            FactKind::Identified => t.identified += sign,
            FactKind::Repeat => t.repeat += sign,
            FactKind::Recovered => t.abandoned_recovered += sign,
            FactKind::Lost => t.abandoned_lost += sign,
        }
    }

    /// Adds another window's contents (merging partitions for one scrape).
    pub fn merge(&mut self, other: &Self) {
        self.tally.merge(&other.tally);
        for (d, o) in self.dists.iter_mut().zip(&other.dists) {
            d.merge(o);
        }
    }

    pub fn dist(&self, m: Measure) -> &D {
        &self.dists[m as usize]
    }

    /// Legs completed in the window.
    pub fn completed(&self) -> i64 {
        self.tally.completed
    }

    /// Whether nothing was counted (every count and duration 0).
    pub fn is_empty(&self) -> bool {
        self.tally == Tally::default() && self.dists.iter().all(|d| d.count() == 0)
    }

    /// The service level by the queue's formula; `None` when its denominator is 0.
    pub fn service_level(&self, formula: SlFormula) -> Option<f64> {
        let t = &self.tally;
        let (num, den) = match formula {
            SlFormula::AbandonsNegative => (t.sl_answered, t.sl_offered),
            SlFormula::IgnoreAbandons => (t.sl_answered, t.sl_offered - t.sl_abandoned),
            SlFormula::AbandonsPositive => (t.sl_answered + t.sl_abandoned, t.sl_offered),
        };
        ratio(num, den)
    }

    /// Contacts with an outcome: the abandon ratio's denominator.
    pub fn outcomes(&self) -> i64 {
        self.tally.answered + self.tally.abandoned + self.tally.overflowed
    }

    pub fn abandon_ratio(&self) -> Option<f64> {
        ratio(self.tally.abandoned, self.outcomes())
    }

    /// Average speed of answer, seconds.
    pub fn asa(&self) -> Option<f64> {
        self.dist(Measure::Wait).mean_seconds()
    }

    /// Average handle time, seconds.
    pub fn aht(&self) -> Option<f64> {
        self.dist(Measure::Handle).mean_seconds()
    }

    pub fn csat(&self) -> Option<f64> {
        ratio(self.tally.csat_sum, self.tally.csat_count)
    }

    /// Net promoter score in -100..100.
    pub fn nps(&self) -> Option<f64> {
        let t = &self.tally;
        ratio(100 * (t.nps_promoters - t.nps_detractors), t.nps_count)
    }

    pub fn ces(&self) -> Option<f64> {
        ratio(self.tally.ces_sum, self.tally.ces_count)
    }

    /// First-contact resolution: resolved / resolution reported.
    pub fn fcr(&self) -> Option<f64> {
        ratio(self.tally.resolved, self.tally.resolution_reported)
    }

    /// Repeat contacts / identified contacts.
    pub fn repeat_ratio(&self) -> Option<f64> {
        ratio(self.tally.repeat, self.tally.identified)
    }

    /// Of the customers who gave up, the share who did not get through in `callback_window`.
    pub fn lost_customer_ratio(&self) -> Option<f64> {
        let t = &self.tally;
        ratio(t.abandoned_lost, t.abandoned_lost + t.abandoned_recovered)
    }

    /// Mean first response, seconds.
    pub fn first_response(&self) -> Option<f64> {
        self.dist(Measure::FirstResponse).mean_seconds()
    }

    /// Which KPIs are on the wrong side of their targets, guarded by `min_volume`; in the order
    /// of [`WINDOW_KPIS`]. `None` for a KPI the queue sets no target for (`first_response`).
    pub fn breaches(&self, s: &QueueSettings) -> [(&'static str, Option<bool>); 5] {
        let enough = |volume: i64| volume >= s.min_volume as i64;
        let t = &self.tally;
        let [sl, abandon, asa, aht, first_response] = WINDOW_KPIS;
        let responses = self.dist(Measure::FirstResponse).count();
        [
            (
                sl,
                Some(
                    enough(t.sl_offered)
                        && self
                            .service_level(s.sl_formula)
                            .is_some_and(|v| v < s.sl_target),
                ),
            ),
            (
                abandon,
                Some(
                    enough(self.outcomes())
                        && self.abandon_ratio().is_some_and(|v| v > s.abandon_target),
                ),
            ),
            (
                asa,
                Some(
                    enough(t.answered)
                        && self.asa().is_some_and(|v| v > s.asa_target.as_secs_f64()),
                ),
            ),
            (
                aht,
                Some(
                    enough(t.completed)
                        && self.aht().is_some_and(|v| v > s.aht_target.as_secs_f64()),
                ),
            ),
            (
                first_response,
                s.first_response_target.map(|target| {
                    enough(responses)
                        && self
                            .first_response()
                            .is_some_and(|v| v > target.as_secs_f64())
                }),
            ),
        ]
    }
}

/// The live breach of `oldest_wait` (`window="now"`): the longest current wait is above the
/// queue's target. No `min_volume` guard: one caller waiting too long is the breach.
pub fn oldest_wait_breached(oldest_wait_ms: Millis, s: &QueueSettings) -> bool {
    oldest_wait_ms > s.oldest_wait_target.millis()
}

/// The windowed KPIs `callcenter_breach` reports (`oldest_wait` is live, not windowed;
/// `first_response` only for queues with a `first_response_target`).
pub const WINDOW_KPIS: [&str; 5] = ["service_level", "abandon", "asa", "aht", "first_response"];

/// Handle time: talk, hold and wrap-up (ms).
fn handle_ms(talk: u32, hold: u32, wrapup: u32) -> u32 {
    talk.saturating_add(hold).saturating_add(wrapup)
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_the_sl_formula_and_hide_empty_denominators() {
        let mut w = WindowAgg::default();
        assert_eq!(w.service_level(SlFormula::AbandonsNegative), None);
        assert_eq!(w.abandon_ratio(), None);
        assert_eq!(w.asa(), None);
        for o in [
            SlOutcome::Answered,
            SlOutcome::Answered,
            SlOutcome::Abandoned,
            SlOutcome::Missed,
        ] {
            w.apply(&FactKind::Sl(o), 1);
        }
        assert_eq!(w.service_level(SlFormula::AbandonsNegative), Some(0.5));
        assert_eq!(w.service_level(SlFormula::IgnoreAbandons), Some(2.0 / 3.0));
        assert_eq!(w.service_level(SlFormula::AbandonsPositive), Some(0.75));
        w.apply(
            &FactKind::Survey {
                csat: 5,
                nps: 10,
                ces: NO_SCORE,
            },
            1,
        );
        w.apply(
            &FactKind::Survey {
                csat: 3,
                nps: 1,
                ces: 3,
            },
            1,
        );
        w.apply(
            &FactKind::Survey {
                csat: NO_SCORE,
                nps: 8,
                ces: NO_SCORE,
            },
            1,
        );
        assert_eq!(w.csat(), Some(3.0));
        // scores are stored +1: nps 9 (promoter), 0 (detractor), 7 (passive) -> (1 - 1) / 3 * 100
        assert_eq!(w.nps(), Some(0.0));
        assert_eq!(w.ces(), Some(2.0));
    }
}
