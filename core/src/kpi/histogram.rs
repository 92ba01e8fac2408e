//! The cumulative duration histograms' counts: values counted at the fixed bounds Prometheus
//! histograms can have, exactly, in O(1) per value and a few hundred bytes per measure.

use serde::{Deserialize, Serialize};

use super::Durations;
use crate::settings::HISTOGRAM_BOUNDS;

/// [`HISTOGRAM_BOUNDS`] in milliseconds (every bound is a whole number of them).
const BOUNDS_MS: [u32; HISTOGRAM_BOUNDS.len()] = {
    let mut out = [0; HISTOGRAM_BOUNDS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = (HISTOGRAM_BOUNDS[i] * 1000.0) as u32;
        i += 1;
    }
    out
};

/// What the final (cumulative) counters keep of a duration measure: how many values fell at or
/// below each of [`HISTOGRAM_BOUNDS`] and above the one before, their count and their sum.
/// Unlike a window's [`super::Distribution`] it has no quantiles, and needs none: the
/// histograms are all the cumulative counters export of a duration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundCounts {
    /// `slots[i]`: values in `(BOUNDS_MS[i - 1], BOUNDS_MS[i]]`; a value above the last bound
    /// is only in `count`.
    slots: [i64; HISTOGRAM_BOUNDS.len()],
    count: i64,
    sum_ms: i64,
}

impl Durations for BoundCounts {
    fn apply(&mut self, value_ms: u32, sign: i64) {
        self.count += sign;
        self.sum_ms += sign * i64::from(value_ms);
        let slot = BOUNDS_MS.partition_point(|&b| b < value_ms);
        if let Some(n) = self.slots.get_mut(slot) {
            *n += sign;
        }
    }

    fn merge(&mut self, other: &BoundCounts) {
        for (n, o) in self.slots.iter_mut().zip(&other.slots) {
            *n += o;
        }
        self.count += other.count;
        self.sum_ms += other.sum_ms;
    }

    fn count(&self) -> i64 {
        self.count
    }

    fn sum_ms(&self) -> i64 {
        self.sum_ms
    }
}

impl BoundCounts {
    /// Values at or below each of [`HISTOGRAM_BOUNDS`]: a Prometheus histogram's `le` counts.
    pub fn cumulative(&self) -> [i64; HISTOGRAM_BOUNDS.len()] {
        let mut out = self.slots;
        for k in 1..out.len() {
            out[k] += out[k - 1];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_the_configured_ones_in_whole_milliseconds() {
        for (ms, s) in BOUNDS_MS.iter().zip(HISTOGRAM_BOUNDS) {
            assert_eq!(f64::from(*ms), s * 1000.0);
        }
    }

    /// A value exactly at a bound counts at that bound (`le` is "at or below"), the value a
    /// millisecond above it only at the next; removing undoes adding.
    #[test]
    fn a_value_counts_at_every_bound_at_or_above_it() {
        let mut values: Vec<u32> = vec![0, 1, 7_200_000];
        for b in BOUNDS_MS {
            values.extend([b - 1, b, b + 1]);
        }
        let mut h = BoundCounts::default();
        for &v in &values {
            h.apply(v, 1);
        }
        let want: Vec<i64> = (BOUNDS_MS.iter())
            .map(|&b| values.iter().filter(|&&v| v <= b).count() as i64)
            .collect();
        assert_eq!(h.cumulative().to_vec(), want);
        assert_eq!(h.count(), values.len() as i64);
        assert_eq!(
            h.sum_ms(),
            values.iter().map(|&v| i64::from(v)).sum::<i64>()
        );
        let mut merged = BoundCounts::default();
        merged.merge(&h);
        merged.merge(&h);
        assert_eq!(merged.cumulative()[3], 2 * want[3]);
        for &v in &values {
            h.apply(v, -1);
        }
        assert_eq!(h, BoundCounts::default());
    }
}
