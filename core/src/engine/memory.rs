//! Bounded memories keyed by a 64-bit hash of an id: de-duplication of event ids and the
//! queue of recently finished contacts (so a late survey still finds its queue).
//!
//! Both forget by event time (a horizon behind the partition's latest event) and by count.
//! Their map is in copy-on-write shards and their order of insertion in copy-on-write chunks
//! ([`Log`]), so a checkpoint captures a million entries without copying them.
//! A 64-bit SipHash of the id stands in for the id itself: two distinct ids collide with
//! probability about n²/2⁶⁵, negligible for the millions held here, and no id is copied.

use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::Arc;

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
    serialize = "V: serde::Serialize + Copy",
    deserialize = "V: serde::Deserialize<'de> + Copy"
))]
pub struct Recent<V> {
    map: Shards<u64, (Millis, V), BuildHasherDefault<PreHashed>>,
    order: Log,
    capacity: usize,
}

impl<V: Copy> Recent<V> {
    pub fn new(capacity: usize) -> Self {
        Recent {
            map: Shards::default(),
            order: Log::default(),
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
            let map = &self.map;
            self.order
                .retain(|&(at, k)| map.get(&k).is_some_and(|e| e.0 == at));
        }
    }

    /// Forgets keys remembered before `horizon`.
    pub fn forget_before(&mut self, horizon: Millis) {
        self.map.settle();
        while self.order.front().is_some_and(|(at, _)| at < horizon) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((at, key)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|e| e.0 == at) {
                self.map.forget(&key);
            }
        }
    }
}

/// Entries per chunk of a [`Log`].
const CHUNK: usize = 4096;

/// (time, key) records in the order they were made: a queue of shared chunks. A clone shares
/// every chunk; the next push copies the last one (at most [`CHUNK`] records) and a pop copies
/// nothing — the front chunk is read from an offset and dropped once read.
#[derive(Clone, Debug, Default)]
struct Log {
    chunks: VecDeque<Arc<Vec<(Millis, u64)>>>,
    /// Records of the front chunk already popped.
    head: usize,
    len: usize,
}

impl Log {
    fn len(&self) -> usize {
        self.len
    }

    fn front(&self) -> Option<(Millis, u64)> {
        self.chunks.front().and_then(|c| c.get(self.head).copied())
    }

    fn push_back(&mut self, record: (Millis, u64)) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(record);
                self.chunks.push_back(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    fn pop_front(&mut self) -> Option<(Millis, u64)> {
        let record = self.front()?;
        self.head += 1;
        self.len -= 1;
        if self.chunks.front().is_some_and(|c| self.head >= c.len()) {
            self.chunks.pop_front();
            self.head = 0;
        }
        Some(record)
    }

    fn iter(&self) -> impl Iterator<Item = (Millis, u64)> + '_ {
        let head = self.head;
        self.chunks
            .iter()
            .enumerate()
            .flat_map(move |(i, c)| c[if i == 0 { head } else { 0 }..].iter().copied())
    }

    /// Keeps the records `keep` says, in order (into fresh chunks).
    fn retain(&mut self, mut keep: impl FnMut(&(Millis, u64)) -> bool) {
        let mut kept = Log::default();
        for record in self.iter().filter(|r| keep(r)) {
            kept.push_back(record);
        }
        *self = kept;
    }
}

/// Written as the sequence of its records (the format of the queue it replaced).
impl serde::Serialize for Log {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for record in self.iter() {
            seq.serialize_element(&record)?;
        }
        seq.end()
    }
}

impl<'de> serde::Deserialize<'de> for Log {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let records = Vec::<(Millis, u64)>::deserialize(deserializer)?;
        let mut log = Log::default();
        for r in records {
            log.push_back(r);
        }
        Ok(log)
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

    #[test]
    fn a_log_keeps_its_order_across_chunks_and_a_clone_is_not_changed_by_the_original() {
        let mut log = Log::default();
        for i in 0..(2 * CHUNK as i64 + 10) {
            log.push_back((i, i as u64));
        }
        let captured = log.clone();
        for _ in 0..CHUNK + 3 {
            log.pop_front();
        }
        log.push_back((-1, 0));
        assert_eq!(log.len(), CHUNK + 8);
        assert_eq!(log.front(), Some((CHUNK as i64 + 3, CHUNK as u64 + 3)));
        assert_eq!(log.iter().last(), Some((-1, 0)));
        // the capture still holds every record as it was
        assert_eq!(captured.len(), 2 * CHUNK + 10);
        assert!(captured
            .iter()
            .enumerate()
            .all(|(i, r)| r == (i as i64, i as u64)));
        log.retain(|&(at, _)| at % 2 == 0);
        assert!(log.iter().all(|(at, _)| at % 2 == 0));
        assert_eq!(log.iter().count(), log.len());
        // written as a plain sequence, read back the same
        let bytes = postcard::to_allocvec(&captured).expect("serialise");
        let plain: Vec<(Millis, u64)> = postcard::from_bytes(&bytes).expect("plain sequence");
        assert_eq!(plain, captured.iter().collect::<Vec<_>>());
        let back: Log = postcard::from_bytes(&bytes).expect("deserialise");
        assert!(back.iter().eq(captured.iter()));
    }
}
