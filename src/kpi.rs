//! KPI aggregates: the facts a contact contributes, the tallies and distributions a window
//! holds, and the contract's ratios and means computed from them.
//!
//! Everything here can be added *and removed*, so rolling windows slide and late events can
//! correct a contact's contribution exactly. Durations are integer milliseconds, so sums do not
//! depend on the order facts arrive in.

use crate::config::{QueueSettings, SlFormula};
use crate::time::Millis;

/// One contribution of a contact to its queue's KPIs, at an instant of event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fact {
    pub at: Millis,
    pub kind: FactKind,
}

/// What a fact counts. Durations are milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlOutcome {
    Answered,
    Abandoned,
    Missed,
}

/// Survey scores are stored `+1` so that 0 means "not answered" (NPS can be 0).
pub const NO_SCORE: u8 = 0;

/// Counts and sums of one window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub abandoned_short: i64,
    pub overflowed: i64,
    pub transferred: i64,
    pub sl_offered: i64,
    pub sl_answered: i64,
    pub sl_abandoned: i64,
    pub csat_sum: i64,
    pub csat_count: i64,
    pub nps_promoters: i64,
    pub nps_detractors: i64,
    pub nps_count: i64,
    pub ces_sum: i64,
    pub ces_count: i64,
}

/// Which distribution a duration belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Wait = 0,
    Handle = 1,
    Talk = 2,
    Hold = 3,
    Wrapup = 4,
}

impl Measure {
    pub const ALL: [Measure; 5] = [
        Measure::Wait,
        Measure::Handle,
        Measure::Talk,
        Measure::Hold,
        Measure::Wrapup,
    ];

    /// The summary family of the contract.
    pub fn summary_name(self) -> &'static str {
        match self {
            Measure::Wait => "callcenter_wait_seconds",
            Measure::Handle => "callcenter_handle_seconds",
            Measure::Talk => "callcenter_talk_seconds",
            Measure::Hold => "callcenter_hold_seconds",
            Measure::Wrapup => "callcenter_wrapup_seconds",
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
        }
    }
}

/// Everything one window of one queue holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowAgg {
    pub tally: Tally,
    pub dists: [Distribution; 5],
}

impl WindowAgg {
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
                let handle = talk.saturating_add(hold).saturating_add(wrapup);
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
        }
    }

    /// Adds another window's contents (merging partitions for one scrape).
    pub fn merge(&mut self, other: &WindowAgg) {
        let (a, b) = (&mut self.tally, &other.tally);
        a.offered += b.offered;
        a.answered += b.answered;
        a.abandoned += b.abandoned;
        a.abandoned_short += b.abandoned_short;
        a.overflowed += b.overflowed;
        a.transferred += b.transferred;
        a.sl_offered += b.sl_offered;
        a.sl_answered += b.sl_answered;
        a.sl_abandoned += b.sl_abandoned;
        a.csat_sum += b.csat_sum;
        a.csat_count += b.csat_count;
        a.nps_promoters += b.nps_promoters;
        a.nps_detractors += b.nps_detractors;
        a.nps_count += b.nps_count;
        a.ces_sum += b.ces_sum;
        a.ces_count += b.ces_count;
        for (d, o) in self.dists.iter_mut().zip(&other.dists) {
            d.merge(o);
        }
    }

    pub fn dist(&self, m: Measure) -> &Distribution {
        &self.dists[m as usize]
    }

    /// Contacts completed in the window.
    pub fn completed(&self) -> i64 {
        self.dist(Measure::Handle).count()
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

    /// Which KPIs are on the wrong side of their targets, guarded by `min_volume`; in the order
    /// of [`WINDOW_KPIS`].
    pub fn breaches(&self, s: &QueueSettings) -> [(&'static str, bool); 4] {
        let enough = |volume: i64| volume >= s.min_volume as i64;
        let t = &self.tally;
        let [sl, abandon, asa, aht] = WINDOW_KPIS;
        [
            (
                sl,
                enough(t.sl_offered)
                    && self
                        .service_level(s.sl_formula)
                        .is_some_and(|v| v < s.sl_target),
            ),
            (
                abandon,
                enough(self.outcomes())
                    && self.abandon_ratio().is_some_and(|v| v > s.abandon_target),
            ),
            (
                asa,
                enough(t.answered) && self.asa().is_some_and(|v| v > s.asa_target.as_secs_f64()),
            ),
            (
                aht,
                enough(self.completed())
                    && self.aht().is_some_and(|v| v > s.aht_target.as_secs_f64()),
            ),
        ]
    }
}

/// The live breach of `oldest_wait` (`window="now"`): the longest current wait is above the
/// queue's target. No `min_volume` guard: one caller waiting too long is the breach.
pub fn oldest_wait_breached(oldest_wait_ms: Millis, s: &QueueSettings) -> bool {
    oldest_wait_ms > s.oldest_wait_target.millis()
}

/// The windowed KPIs `callcenter_breach` reports (`oldest_wait` is live, not windowed).
pub const WINDOW_KPIS: [&str; 4] = ["service_level", "abandon", "asa", "aht"];

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// A distribution of millisecond durations that supports removal: a sparse log-linear
/// histogram with the bucket layout of an HDR histogram at 3 significant digits (values below
/// 2,048 ms exact; above, buckets 1/1024 of their value wide), plus the exact count and sum.
///
/// Why not `hdrhistogram::Histogram` here: rolling windows must *remove* values as they slide,
/// which it cannot do, and its dense counts array (~70 KB at this precision) times queues ×
/// windows × measures would not fit; this keeps only the buckets in use.
///
/// A bucket whose count drops to zero keeps its entry (a sliding window soon fills it again,
/// and shifting the vector on every removal and re-insertion dominated the engine's profile);
/// empty entries are swept out once they are the majority.
#[derive(Clone, Debug, Default)]
pub struct Distribution {
    /// (bucket index, count), sorted by index; `empty` of them have count 0.
    buckets: Vec<(u32, u32)>,
    empty: u32,
    count: i64,
    sum_ms: i64,
}

/// Equal when they hold the same values, whichever empty buckets either keeps.
impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        let held = |d: &Distribution| {
            d.buckets
                .iter()
                .copied()
                .filter(|&(_, c)| c > 0)
                .collect::<Vec<_>>()
        };
        self.count == other.count && self.sum_ms == other.sum_ms && held(self) == held(other)
    }
}

impl Eq for Distribution {}

/// Empty entries are swept out when there are more of them than this and than held ones.
const SWEEP_AFTER: u32 = 16;

const SUB_BUCKETS: u64 = 2048;
const HALF: u64 = SUB_BUCKETS / 2;

fn bucket_of(v: u64) -> u32 {
    if v < SUB_BUCKETS {
        return v as u32;
    }
    let e = 63 - v.leading_zeros() as u64 - 10; // >= 1
    let m = v >> e; // in [1024, 2047]
    (SUB_BUCKETS + (e - 1) * HALF + (m - HALF)) as u32
}

/// The lowest value of a bucket and its width.
fn bucket_range(i: u32) -> (u64, u64) {
    let i = u64::from(i);
    if i < SUB_BUCKETS {
        return (i, 1);
    }
    let e = (i - SUB_BUCKETS) / HALF + 1;
    let m = (i - SUB_BUCKETS) % HALF + HALF;
    (m << e, 1 << e)
}

impl Distribution {
    pub fn apply(&mut self, value_ms: u32, sign: i64) {
        let b = bucket_of(u64::from(value_ms));
        self.count += sign;
        self.sum_ms += sign * i64::from(value_ms);
        match self.buckets.binary_search_by_key(&b, |&(i, _)| i) {
            Ok(pos) => {
                let before = self.buckets[pos].1;
                let c = (i64::from(before) + sign).max(0);
                debug_assert!(
                    i64::from(before) + sign >= 0,
                    "removing a value never added"
                );
                self.buckets[pos].1 = c as u32;
                match (before, c) {
                    (0, 1..) => self.empty -= 1,
                    (1.., 0) => {
                        self.empty += 1;
                        self.sweep_if_mostly_empty();
                    }
                    _ => {}
                }
            }
            Err(pos) if sign > 0 => self.buckets.insert(pos, (b, sign as u32)),
            Err(_) => debug_assert!(false, "removing a value that was never added"),
        }
    }

    fn sweep_if_mostly_empty(&mut self) {
        let empty = self.empty as usize;
        if self.empty > SWEEP_AFTER && empty * 2 > self.buckets.len() {
            self.buckets.retain(|&(_, c)| c > 0);
            self.empty = 0;
        }
    }

    pub fn merge(&mut self, other: &Distribution) {
        if other.count == 0 {
            return;
        }
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut a, mut b) = (
            self.buckets.iter().filter(|e| e.1 > 0).peekable(),
            other.buckets.iter().filter(|e| e.1 > 0).peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x.0 == y.0 => {
                    merged.push((x.0, x.1 + y.1));
                    a.next();
                    b.next();
                }
                (Some(&&x), Some(&&y)) if x.0 < y.0 => {
                    merged.push(x);
                    a.next();
                }
                (_, Some(&&y)) => {
                    merged.push(y);
                    b.next();
                }
                (Some(&&x), None) => {
                    merged.push(x);
                    a.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = merged;
        self.empty = 0;
        self.count += other.count;
        self.sum_ms += other.sum_ms;
    }

    pub fn count(&self) -> i64 {
        self.count
    }

    pub fn sum_ms(&self) -> i64 {
        self.sum_ms
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_ms as f64 / 1000.0
    }

    pub fn mean_seconds(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ms as f64 / self.count as f64 / 1000.0)
    }

    /// The nearest-rank quantile (`q` in thousandths: 500, 900, 990) in seconds, within 0.05 %.
    pub fn quantile_seconds(&self, q_milli: u32) -> Option<f64> {
        if self.count <= 0 {
            return None;
        }
        let n = self.count as u64;
        let rank = ((u64::from(q_milli) * n).div_ceil(1000)).clamp(1, n);
        let mut seen = 0u64;
        for &(i, c) in &self.buckets {
            seen += u64::from(c);
            if seen >= rank {
                let (low, width) = bucket_range(i);
                return Some((low as f64 + (width - 1) as f64 / 2.0) / 1000.0);
            }
        }
        None
    }

    /// Counts per upper bound (seconds) for a Prometheus histogram, cumulative.
    pub fn cumulative_counts(&self, bounds_s: &[f64]) -> Vec<i64> {
        let mut out = Vec::with_capacity(bounds_s.len());
        let mut it = self.buckets.iter().peekable();
        let mut seen = 0i64;
        for &b in bounds_s {
            let limit_ms = (b * 1000.0).round() as u64;
            while let Some(&&(i, c)) = it.peek() {
                // every value of the bucket must be <= the bound to count it below the bound
                let (low, width) = bucket_range(i);
                if low + width - 1 <= limit_ms {
                    seen += i64::from(c);
                    it.next();
                } else {
                    break;
                }
            }
            out.push(seen);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_exactly_below_2048_and_within_a_thousandth_above() {
        for v in [
            0u64,
            1,
            2047,
            2048,
            2049,
            4095,
            4096,
            10_000,
            1_234_567,
            86_400_000,
            u32::MAX as u64,
        ] {
            let (low, width) = bucket_range(bucket_of(v));
            assert!(
                low <= v && v < low + width,
                "{v} in [{low}, {})",
                low + width
            );
            assert!(width == 1 || (width as f64) / (low as f64) <= 1.0 / 1024.0 + 1e-12);
        }
        // indices are monotonic in the value
        let mut last = 0;
        for v in (0..5_000_000u64).step_by(997) {
            let b = bucket_of(v);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn quantiles_are_nearest_rank_and_removal_is_exact() {
        let mut d = Distribution::default();
        for v in 1..=10u32 {
            d.apply(v * 1000, 1);
        }
        assert_eq!(d.count(), 10);
        assert_eq!(d.sum_ms(), 55_000);
        let q50 = d.quantile_seconds(500).unwrap();
        assert!((q50 - 5.0).abs() / 5.0 < 0.001, "{q50}");
        let q90 = d.quantile_seconds(900).unwrap();
        assert!((q90 - 9.0).abs() / 9.0 < 0.001, "{q90}");
        let q99 = d.quantile_seconds(990).unwrap();
        assert!((q99 - 10.0).abs() / 10.0 < 0.001, "{q99}");
        for v in 1..=10u32 {
            d.apply(v * 1000, -1);
        }
        assert_eq!(d, Distribution::default());
        assert_eq!(d.quantile_seconds(500), None);
    }

    #[test]
    fn sliding_keeps_empty_buckets_without_changing_any_answer() {
        // A window sliding over 5,000 values, 200 at a time: buckets empty and refill.
        let value = |i: u32| (i.wrapping_mul(2_654_435_761) % 600_000) + 1;
        let mut window = Distribution::default();
        for i in 0..5_000u32 {
            window.apply(value(i), 1);
            if i >= 200 {
                window.apply(value(i - 200), -1);
            }
            if i % 997 == 0 || i == 4_999 {
                let mut fresh = Distribution::default();
                for j in i.saturating_sub(199)..=i {
                    fresh.apply(value(j), 1);
                }
                assert_eq!(window, fresh, "at {i}");
                for q in [500, 900, 990] {
                    assert_eq!(window.quantile_seconds(q), fresh.quantile_seconds(q));
                }
                let bounds = [1.0, 60.0, 300.0, 599.0];
                assert_eq!(
                    window.cumulative_counts(&bounds),
                    fresh.cumulative_counts(&bounds)
                );
                // empty entries never outnumber held ones by much
                assert!(window.buckets.len() <= 2 * 200 + SWEEP_AFTER as usize + 1);
            }
        }
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (
            Distribution::default(),
            Distribution::default(),
            Distribution::default(),
        );
        for v in 0..3000u32 {
            let x = v * 37 % 100_000;
            if v % 3 == 0 {
                a.apply(x, 1)
            } else {
                b.apply(x, 1)
            }
            all.apply(x, 1);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }

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
