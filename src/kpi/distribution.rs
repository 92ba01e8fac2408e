//! The sparse distribution of millisecond durations behind every wait, talk, hold, wrap-up and
//! handle KPI: values can be added and removed, quantiles are nearest-rank.

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
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
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
}
