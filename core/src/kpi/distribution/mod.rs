//! The distribution of millisecond durations behind every wait, talk, hold, wrap-up and handle
//! KPI: values can be added and removed in O(1), quantiles are nearest-rank.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A distribution of millisecond durations that supports removal: a log-linear histogram with
/// the bucket layout of an HDR histogram at 3 significant digits (values below 2,048 ms exact;
/// above, buckets 1/1024 of their value wide), plus the exact count and sum.
///
/// Why not `hdrhistogram::Histogram` here: rolling windows must *remove* values as they slide,
/// which it cannot do, and its dense counts array (~70 KB at this precision) times queues ×
/// windows × measures would not fit. This one holds its buckets in one of two layouts:
///
/// - **sparse** (few values): `(bucket, count)` sorted by bucket. A bucket whose count drops
///   to zero keeps its entry (a sliding window soon fills it again); empty entries are swept
///   out once they are the majority.
/// - **paged** (many values, at least `DENSE_PER_PAGE` held buckets per page on average):
///   pages of `PAGE` consecutive buckets, allocated where values fall, so adding or removing
///   a value is one index computation and two memory accesses. This is what a busy window's
///   distribution turns into; the sorted vector's insertions (shifting thousands of entries)
///   and binary searches dominated the engine's profile before. It turns sparse again when it
///   holds fewer than `SPARSE_BELOW` values.
///
/// Which layout a distribution has never shows: equality, quantiles, merges and checkpoints
/// see only the held `(bucket, count)` pairs.
#[derive(Clone, Debug, Default)]
pub struct Distribution {
    buckets: Buckets,
    count: i64,
    sum_ms: i64,
}

#[derive(Clone, Debug)]
enum Buckets {
    /// Sorted by bucket; `empty` entries have count 0.
    Sparse {
        entries: Vec<(u32, u32)>,
        empty: u32,
    },
    /// `pages[i]` holds buckets `i * PAGE ..`; `None` where no value ever fell.
    Paged(Vec<Option<Box<Page>>>),
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::Sparse {
            entries: Vec::new(),
            empty: 0,
        }
    }
}

/// Buckets per page.
pub const PAGE: usize = 64;
/// Held buckets per page (on average over the pages a sparse distribution would need) from
/// which it turns paged. A held bucket then costs at most 130 bytes instead of 8 to 16: the
/// price of O(1) updates, paid only by distributions of [`PAGE_FROM`] buckets or more (a
/// quiet queue's stay sparse).
pub const DENSE_PER_PAGE: usize = 2;
/// Held buckets from which a sparse distribution checks whether it is dense enough to page.
pub const PAGE_FROM: usize = 128;
/// A paged distribution holding fewer values than this turns sparse (frees its pages).
pub const SPARSE_BELOW: i64 = 32;

/// The counts of [`PAGE`] consecutive buckets.
type Page = [u32; PAGE];

fn new_page() -> Box<Page> {
    Box::new([0; PAGE])
}

/// Values held in a page (summed when a quantile skips pages: adding stays one write).
fn page_total(page: &Page) -> u64 {
    page.iter().map(|&c| u64::from(c)).sum()
}

/// Equal when they hold the same values, whatever layout and empty buckets either keeps.
impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.sum_ms == other.sum_ms && self.held().eq(other.held())
    }
}

impl Eq for Distribution {}

/// Empty entries of a sparse distribution are swept out when there are more of them than this
/// and than held ones.
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

/// The value a quantile in bucket `i` reports: its middle, in seconds.
fn bucket_seconds(i: u32) -> f64 {
    let (low, width) = bucket_range(i);
    (low as f64 + (width - 1) as f64 / 2.0) / 1000.0
}

/// `count + sign`, never below 0 (removing what was never added is a caller's bug).
fn moved(count: u32, sign: i64) -> u32 {
    debug_assert!(i64::from(count) + sign >= 0, "removing a value never added");
    (i64::from(count) + sign).clamp(0, i64::from(u32::MAX)) as u32
}

impl Distribution {
    pub fn apply(&mut self, value_ms: u32, sign: i64) {
        self.count += sign;
        self.sum_ms += sign * i64::from(value_ms);
        self.add(bucket_of(u64::from(value_ms)), sign);
    }

    /// Asks the CPU to bring the count `value_ms` would change into its cache, so that a run
    /// of updates waits for several memory reads at once rather than one after the other.
    #[inline]
    pub fn prefetch(&self, value_ms: u32) {
        #[cfg(target_arch = "x86_64")]
        if let Buckets::Paged(pages) = &self.buckets {
            let b = bucket_of(u64::from(value_ms)) as usize;
            if let Some(Some(page)) = pages.get(b / PAGE) {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                // SAFETY: SSE is part of every x86_64 CPU, and a prefetch reads nothing: it
                // only hints the cache (here at a count this distribution owns). The product's
                // one unsafe block (the crate denies `unsafe_code` elsewhere).
                #[allow(unsafe_code)]
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(page[b % PAGE..].as_ptr().cast())
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = value_ms;
    }

    /// Adds `n` (removes when negative) to the count of bucket `b`.
    fn add(&mut self, b: u32, n: i64) {
        match &mut self.buckets {
            Buckets::Paged(pages) => {
                let (p, i) = (b as usize / PAGE, b as usize % PAGE);
                if p >= pages.len() {
                    if n <= 0 {
                        debug_assert!(false, "removing a value never added");
                        return;
                    }
                    pages.resize_with(p + 1, || None);
                }
                let page = pages[p].get_or_insert_with(new_page);
                page[i] = moved(page[i], n);
                if n < 0 && self.count < SPARSE_BELOW {
                    self.make_sparse();
                }
            }
            Buckets::Sparse { entries, empty } => {
                match entries.binary_search_by_key(&b, |&(i, _)| i) {
                    Ok(pos) => {
                        let before = entries[pos].1;
                        let c = moved(before, n);
                        entries[pos].1 = c;
                        match (before, c) {
                            (0, 1..) => *empty -= 1,
                            (1.., 0) => {
                                *empty += 1;
                                if *empty > SWEEP_AFTER && *empty as usize * 2 > entries.len() {
                                    entries.retain(|&(_, c)| c > 0);
                                    *empty = 0;
                                }
                            }
                            _ => {}
                        }
                    }
                    Err(pos) if n > 0 => {
                        entries.insert(pos, (b, moved(0, n)));
                        let held = entries.len() - *empty as usize;
                        if held >= PAGE_FROM && held.is_multiple_of(PAGE_FROM / 4) {
                            self.page_if_dense();
                        }
                    }
                    Err(_) => debug_assert!(false, "removing a value that was never added"),
                }
            }
        }
    }

    /// A sparse distribution with many held buckets, dense enough, turns paged.
    fn page_if_dense(&mut self) {
        let Buckets::Sparse { entries, .. } = &self.buckets else {
            return;
        };
        let mut pages = 0;
        let mut last = None;
        let mut held = 0;
        for &(b, _) in entries.iter().filter(|e| e.1 > 0) {
            held += 1;
            let p = b as usize / PAGE;
            if last != Some(p) {
                pages += 1;
                last = Some(p);
            }
        }
        if held < PAGE_FROM || held < pages * DENSE_PER_PAGE {
            return;
        }
        let mut paged = Vec::new();
        for &(b, c) in entries.iter().filter(|e| e.1 > 0) {
            let (p, i) = (b as usize / PAGE, b as usize % PAGE);
            if p >= paged.len() {
                paged.resize_with(p + 1, || None);
            }
            let page: &mut Box<Page> = paged[p].get_or_insert_with(new_page);
            page[i] = c;
        }
        self.buckets = Buckets::Paged(paged);
    }

    fn make_sparse(&mut self) {
        let entries: Vec<(u32, u32)> = self.held().collect();
        self.buckets = Buckets::Sparse { entries, empty: 0 };
    }

    /// The held buckets and their counts, in bucket order (none with count 0).
    fn held(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (sparse, paged) = match &self.buckets {
            Buckets::Sparse { entries, .. } => (&entries[..], &[][..]),
            Buckets::Paged(pages) => (&[][..], &pages[..]),
        };
        let sparse = sparse.iter().copied().filter(|e| e.1 > 0);
        let paged = paged.iter().enumerate().flat_map(|(p, page)| {
            page.iter().flat_map(move |page| {
                page.iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(move |(i, &c)| ((p * PAGE + i) as u32, c))
            })
        });
        sparse.chain(paged)
    }

    pub fn merge(&mut self, other: &Distribution) {
        if other.count == 0 {
            return;
        }
        match (&mut self.buckets, &other.buckets) {
            (Buckets::Sparse { entries, empty }, Buckets::Sparse { .. }) => {
                let mut merged = Vec::with_capacity(entries.len() + other.held().count());
                let mut a = entries.iter().copied().filter(|e| e.1 > 0).peekable();
                let mut b = other.held().peekable();
                loop {
                    match (a.peek().copied(), b.peek().copied()) {
                        (Some(x), Some(y)) if x.0 == y.0 => {
                            merged.push((x.0, x.1.saturating_add(y.1)));
                            a.next();
                            b.next();
                        }
                        (Some(x), Some(y)) if x.0 < y.0 => {
                            merged.push(x);
                            a.next();
                        }
                        (_, Some(y)) => {
                            merged.push(y);
                            b.next();
                        }
                        (Some(x), None) => {
                            merged.push(x);
                            a.next();
                        }
                        (None, None) => break,
                    }
                }
                *entries = merged;
                *empty = 0;
                self.count += other.count;
                self.sum_ms += other.sum_ms;
                if entries.len() >= PAGE_FROM {
                    self.page_if_dense();
                }
            }
            _ => {
                self.count += other.count;
                self.sum_ms += other.sum_ms;
                if matches!(self.buckets, Buckets::Sparse { .. }) {
                    // many values arrive: page first (a sparse insert shifts its entries)
                    self.page_all();
                }
                for (b, c) in other.held() {
                    self.add(b, i64::from(c));
                }
            }
        }
    }

    /// Turns paged whatever its density.
    fn page_all(&mut self) {
        let held: Vec<(u32, u32)> = self.held().collect();
        self.buckets = Buckets::Paged(Vec::new());
        for (b, c) in held {
            self.add(b, i64::from(c));
        }
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

    /// The nearest-rank quantile (`q` in thousandths: 500, 900, 990) in seconds, within 0.05 %.
    pub fn quantile_seconds(&self, q_milli: u32) -> Option<f64> {
        self.quantiles_seconds([q_milli])[0]
    }

    /// Several nearest-rank quantiles (`qs` in thousandths, ascending) in one pass.
    pub fn quantiles_seconds<const N: usize>(&self, qs: [u32; N]) -> [Option<f64>; N] {
        self.quantile_buckets(qs).map(|b| b.map(bucket_seconds))
    }

    /// The same quantiles in tenths of a millisecond, exactly (the seconds are this / 10⁴).
    pub fn quantiles_tenths_of_ms<const N: usize>(&self, qs: [u32; N]) -> [Option<i64>; N] {
        self.quantile_buckets(qs).map(|b| {
            b.map(|b| {
                let (low, width) = bucket_range(b);
                (10 * low + 5 * (width - 1)) as i64
            })
        })
    }

    /// The bucket of each nearest-rank quantile.
    fn quantile_buckets<const N: usize>(&self, qs: [u32; N]) -> [Option<u32>; N] {
        let mut out = [None; N];
        if self.count <= 0 {
            return out;
        }
        let n = self.count as u64;
        let ranks = qs.map(|q| ((u64::from(q) * n).div_ceil(1000)).clamp(1, n));
        let mut next = 0; // the first quantile not found yet
        let mut seen = 0u64;
        let mut found = |seen: u64, bucket: u32, next: &mut usize| {
            while *next < N && seen >= ranks[*next] {
                out[*next] = Some(bucket);
                *next += 1;
            }
        };
        match &self.buckets {
            Buckets::Sparse { entries, .. } => {
                for &(b, c) in entries {
                    seen += u64::from(c);
                    found(seen, b, &mut next);
                    if next == N {
                        break;
                    }
                }
            }
            Buckets::Paged(pages) => {
                for (p, page) in pages.iter().enumerate() {
                    let Some(page) = page else { continue };
                    let total = page_total(page);
                    if next < N && seen + total < ranks[next] {
                        seen += total;
                        continue;
                    }
                    for (i, &c) in page.iter().enumerate() {
                        if c == 0 {
                            continue;
                        }
                        seen += u64::from(c);
                        found(seen, (p * PAGE + i) as u32, &mut next);
                    }
                    if next == N {
                        break;
                    }
                }
            }
        }
        out
    }
}

/// A checkpoint holds the count, the sum and the held buckets, whatever the layout.
#[derive(Serialize, Deserialize)]
struct Saved {
    count: i64,
    sum_ms: i64,
    held: Vec<(u32, u32)>,
}

impl Serialize for Distribution {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Saved {
            count: self.count,
            sum_ms: self.sum_ms,
            held: self.held().collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let saved = Saved::deserialize(d)?;
        let mut held = saved.held;
        held.sort_unstable();
        held.dedup_by_key(|e| e.0);
        held.retain(|e| e.1 > 0);
        let mut dist = Distribution {
            buckets: Buckets::Sparse {
                entries: held,
                empty: 0,
            },
            count: saved.count,
            sum_ms: saved.sum_ms,
        };
        dist.page_if_dense();
        Ok(dist)
    }
}
#[cfg(test)]
mod tests;
