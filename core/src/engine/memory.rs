//! Bounded memories keyed by a 64-bit hash of an id: de-duplication of event ids and the
//! queue of recently finished contacts (so a late survey still finds its queue).
//!
//! Both forget by event time (a horizon behind the partition's latest event) and by count.
//! A 64-bit SipHash of the id stands in for the id itself: two distinct ids collide with
//! probability about n²/2⁶⁵, negligible for the millions held here, and no id is copied.

use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

use crate::time::Millis;

use super::shards::Shards;

pub fn hash_id(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Keys here are already SipHash outputs: hashing them again would only cost time.
#[derive(Clone, Default)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Remembers keys with a value until they fall behind a horizon or the capacity is reached.
/// Its map is in copy-on-write shards: a checkpoint captures it without copying it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "V: serde::Serialize",
    deserialize = "V: serde::Deserialize<'de> + Copy"
))]
pub struct Recent<V> {
    map: Shards<u64, (Millis, V), BuildHasherDefault<PreHashed>>,
    order: VecDeque<(Millis, u64)>,
    capacity: usize,
}

impl<V: Copy> Recent<V> {
    pub fn new(capacity: usize) -> Self {
        Recent {
            map: Shards::default(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub fn get(&self, key: u64) -> Option<V> {
        self.map.get(&key).map(|e| e.1)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.map.contains_key(&key)
    }

    /// Remembers `key` as of event time `at`.
    pub fn insert(&mut self, key: u64, at: Millis, value: V) {
        self.map.insert(key, (at, value));
        self.order.push_back((at, key));
        while self.map.len() > self.capacity {
            self.pop_front();
        }
        // Entries refreshed many times leave stale order records; keep them bounded too.
        if self.order.len() > 2 * self.capacity.max(16) {
            self.order
                .retain(|(at, k)| self.map.get(k).is_some_and(|e| e.0 == *at));
        }
    }

    /// Forgets keys remembered before `horizon`.
    pub fn forget_before(&mut self, horizon: Millis) {
        while self.order.front().is_some_and(|(at, _)| *at < horizon) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((at, key)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|e| e.0 == at) {
                self.map.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_by_horizon_and_by_capacity() {
        let mut r = Recent::new(3);
        r.insert(1, 10, ());
        r.insert(2, 20, ());
        r.insert(3, 30, ());
        r.insert(4, 40, ());
        assert!(!r.contains(1), "capacity 3 drops the oldest");
        r.forget_before(31);
        assert!(!r.contains(2) && !r.contains(3) && r.contains(4));
        // a refreshed key survives the expiry of its older record
        r.insert(4, 50, ());
        r.forget_before(45);
        assert!(r.contains(4));
    }
}
