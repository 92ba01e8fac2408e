//! Tests of the distribution: bucket layout, nearest-rank quantiles, exact removal, the sparse
//! and paged layouts answering alike, merges and histogram counts.

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
            // empty entries never outnumber held ones by much
            if let Buckets::Sparse { entries, .. } = &window.buckets {
                assert!(entries.len() <= 2 * 200 + SWEEP_AFTER as usize + 1);
            }
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

fn is_paged(d: &Distribution) -> bool {
    matches!(d.buckets, Buckets::Paged(_))
}

#[test]
fn a_busy_distribution_pages_and_answers_as_the_sparse_one_would() {
    // 3,000 waits of 0..60 s: dense enough to page
    let value = |i: u32| i.wrapping_mul(2_654_435_761) % 60_000;
    let mut paged = Distribution::default();
    for i in 0..3_000 {
        paged.apply(value(i), 1);
    }
    assert!(is_paged(&paged));
    // the same values held sparse (built by a merge of sparse parts never pages below
    // the threshold; compare bucket by bucket)
    let sparse: Vec<(u32, u32)> = {
        let mut v: Vec<u32> = (0..3_000).map(|i| bucket_of(u64::from(value(i)))).collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::new();
        for b in v {
            match out.last_mut() {
                Some(e) if e.0 == b => e.1 += 1,
                _ => out.push((b, 1)),
            }
        }
        out
    };
    assert_eq!(paged.held().collect::<Vec<_>>(), sparse);
    let reference = Distribution {
        buckets: Buckets::Sparse {
            entries: sparse,
            empty: 0,
        },
        count: paged.count,
        sum_ms: paged.sum_ms,
    };
    assert_eq!(paged, reference);
    for q in [1, 500, 900, 990, 1000] {
        assert_eq!(
            paged.quantile_seconds(q),
            reference.quantile_seconds(q),
            "{q}"
        );
    }
    assert_eq!(
        paged.quantiles_seconds([500, 900, 990]),
        [500, 900, 990].map(|q| reference.quantile_seconds(q))
    );
    assert_eq!(
        paged
            .quantiles_tenths_of_ms([500, 900, 990])
            .map(|t| t.map(|t| t as f64 / 10_000.0)),
        paged.quantiles_seconds([500, 900, 990])
    );
    // a checkpoint round trip keeps the values
    let bytes = postcard::to_stdvec(&paged).unwrap();
    let back: Distribution = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, paged);
    assert!(is_paged(&back));
    // merging a paged one into a sparse one and the other way round
    let mut few = Distribution::default();
    few.apply(7, 1);
    few.apply(70_000, 1);
    let mut a = few.clone();
    a.merge(&paged);
    let mut b = paged.clone();
    b.merge(&few);
    assert_eq!(a, b);
    assert_eq!(a.count(), 3_002);
    // emptied, it turns sparse again and equals a fresh one
    for i in 0..3_000 {
        paged.apply(value(i), -1);
    }
    assert!(!is_paged(&paged));
    assert_eq!(paged, Distribution::default());
}

#[test]
fn a_spread_out_distribution_stays_sparse() {
    // 150 values, each in a page of its own: paging would cost a page per value
    let mut d = Distribution::default();
    for i in 0..150u32 {
        let (low, _) = bucket_range(i * 2 * PAGE as u32);
        d.apply(low as u32, 1);
    }
    assert_eq!(d.held().count(), 150);
    assert!(!is_paged(&d));
}
