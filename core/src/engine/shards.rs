//! A hash map in copy-on-write shards, for the engine's largest maps (customer histories,
//! de-duplication, finished contacts): a checkpoint captures one by sharing its shards
//! ([`Clone`] copies [`SHARDS`] pointers, whatever the map holds), and while a capture holds a
//! shard the engine copies nothing of it: what it writes there goes to a small overlay of fresh
//! entries, what it removes is marked gone, and both move into the shard at the first
//! [`Shards::settle`] after the capture lets go. Taking a checkpoint pauses the partition for
//! microseconds per map, and the events after it cost what they cost without one.
//!
//! It serialises as one map of all its entries: the bytes are those of a `HashMap` with the
//! same entries.

use std::collections::hash_map::Entry;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;

/// Shards of every map. More shards made every map slower with no capture held — each its own
/// small table, the hot path's look-ups spread over thousands of them (with 4,096 shards
/// `replay` of a day with customers took 1.2 × as long, same run).
pub const SHARDS: usize = 256;

/// A hash map whose entries are spread over [`SHARDS`] shards, each shared with the captures
/// taken since it was last written.
pub struct Shards<K, V, S = RandomState> {
    shards: Vec<Arc<HashMap<K, V, S>>>,
    /// Entries written while a capture shared their shard: they stand for the shard's entry of
    /// the same key, if it has one. Copying the shard instead would copy all of it — and the
    /// first advance after a checkpoint, writing to most shards, would copy the whole map at
    /// once (0.3 s per map at a million entries).
    fresh: HashMap<K, V, S>,
    /// Keys removed while a capture shared their shard: still in the shard, no longer in the
    /// map. Never in `fresh` too.
    gone: HashSet<K, S>,
    len: usize,
    hasher: S,
}

impl<K: Clone, V: Clone, S: Clone> Clone for Shards<K, V, S> {
    /// A capture: the shards are shared, not copied (the overlays, written since the last
    /// capture let go, are).
    fn clone(&self) -> Self {
        Shards {
            shards: self.shards.clone(),
            fresh: self.fresh.clone(),
            gone: self.gone.clone(),
            len: self.len,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K, V, S: Default + Clone> Default for Shards<K, V, S> {
    fn default() -> Self {
        let hasher = S::default();
        // empty maps allocate nothing: an engine is cheap to make. Each shard its own, never
        // shared but with a capture (a shard shared with another would never be written).
        Shards {
            shards: (0..SHARDS)
                .map(|_| Arc::new(HashMap::with_hasher(hasher.clone())))
                .collect(),
            fresh: HashMap::with_hasher(hasher.clone()),
            gone: HashSet::with_hasher(hasher.clone()),
            len: 0,
            hasher,
        }
    }
}

impl<K: fmt::Debug + Eq + Hash, V: fmt::Debug, S: BuildHasher> fmt::Debug for Shards<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |k: &&K| !self.gone.contains(*k) && !self.fresh.contains_key(*k);
        f.debug_map()
            .entries(
                self.shards
                    .iter()
                    .flat_map(|s| s.iter())
                    .filter(|(k, _)| shown(k))
                    .chain(self.fresh.iter()),
            )
            .finish()
    }
}

/// What the overlays say of a key.
enum Overlay<V> {
    /// Written under a capture: this is its value.
    Fresh(V),
    /// Removed under a capture.
    Gone,
    /// Nothing: the shard tells.
    Shard,
}

impl<V> Overlay<V> {
    /// The map's value of the key: the overlay's, else what `shard` says.
    fn value_or(self, shard: impl FnOnce() -> Option<V>) -> Option<V> {
        match self {
            Overlay::Fresh(v) => Some(v),
            Overlay::Gone => None,
            Overlay::Shard => shard(),
        }
    }
}

impl<K, V, S> Shards<K, V, S>
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    fn shard(&self, key: &K) -> usize {
        shard_of(&self.hasher, key)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, shard by shard, then the fresh ones.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards
            .iter()
            .flat_map(|s| s.iter())
            .filter(|(k, _)| !self.is_gone(k) && !self.is_fresh(k))
            .chain(self.fresh.iter())
    }

    /// Removed while a capture shared its shard (one branch while nothing is).
    fn is_gone(&self, key: &K) -> bool {
        !self.gone.is_empty() && self.gone.contains(key)
    }

    /// Written while a capture shared its shard (one branch while nothing is).
    fn is_fresh(&self, key: &K) -> bool {
        !self.fresh.is_empty() && self.fresh.contains_key(key)
    }

    /// Takes `key` out of the overlays, saying what they held.
    fn take_overlay(&mut self, key: &K) -> Overlay<V> {
        if !self.fresh.is_empty() {
            if let Some(v) = self.fresh.remove(key) {
                return Overlay::Fresh(v);
            }
        }
        if !self.gone.is_empty() && self.gone.remove(key) {
            return Overlay::Gone;
        }
        Overlay::Shard
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        if !self.fresh.is_empty() {
            if let Some(v) = self.fresh.get(key) {
                return Some(v);
            }
        }
        if self.is_gone(key) {
            return None;
        }
        self.shards[self.shard(key)].get(key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.is_fresh(key) || (!self.is_gone(key) && self.shards[self.shard(key)].contains_key(key))
    }

    /// Moves what was written and removed under a capture into the shards no capture shares
    /// any more.
    pub fn settle(&mut self) {
        if !self.gone.is_empty() {
            let (shards, hasher) = (&mut self.shards, &self.hasher);
            self.gone
                .retain(|k| match Arc::get_mut(&mut shards[shard_of(hasher, k)]) {
                    Some(shard) => {
                        shard.remove(k);
                        false
                    }
                    None => true,
                });
        }
        if !self.fresh.is_empty() {
            let fresh =
                std::mem::replace(&mut self.fresh, HashMap::with_hasher(self.hasher.clone()));
            for (k, v) in fresh {
                let i = self.shard(&k);
                match Arc::get_mut(&mut self.shards[i]) {
                    Some(shard) => {
                        shard.insert(k, v);
                    }
                    None => {
                        self.fresh.insert(k, v);
                    }
                }
            }
        }
    }

    /// The value of `key` to change (under a capture, copied into the overlay: the shard is
    /// not copied).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.is_fresh(key) {
            return self.fresh.get_mut(key);
        }
        if self.is_gone(key) {
            return None;
        }
        let i = self.shard(key);
        if Arc::get_mut(&mut self.shards[i]).is_some() {
            return Arc::get_mut(&mut self.shards[i]).and_then(|shard| shard.get_mut(key));
        }
        let value = self.shards[i].get(key)?.clone();
        Some(self.fresh.entry(key.clone()).or_insert(value))
    }

    /// The value of `key`, inserted as `V::default()` when absent.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        if self.is_fresh(&key) {
            return self.fresh.entry(key).or_default();
        }
        let i = self.shard(&key);
        let was_gone = !self.gone.is_empty() && self.gone.remove(&key);
        if Arc::get_mut(&mut self.shards[i]).is_none() {
            // shared with a capture: written in the overlay
            let value = match self.shards[i].get(&key) {
                Some(v) if !was_gone => v.clone(),
                _ => {
                    self.len += 1;
                    V::default()
                }
            };
            return self.fresh.entry(key).or_insert(value);
        }
        let shard = Arc::get_mut(&mut self.shards[i]).expect("not shared");
        match shard.entry(key) {
            Entry::Occupied(e) if !was_gone => e.into_mut(),
            Entry::Occupied(e) => {
                // removed under a capture (its stale entry still here): it comes back new
                self.len += 1;
                let v = e.into_mut();
                *v = V::default();
                v
            }
            Entry::Vacant(e) => {
                self.len += 1;
                e.insert(V::default())
            }
        }
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let i = self.shard(&key);
        // a fresh or gone key's entry in the shard, if any, is stale: not the map's
        let before = self.take_overlay(&key);
        let old = match Arc::get_mut(&mut self.shards[i]) {
            Some(shard) => {
                let replaced = shard.insert(key, value);
                before.value_or(|| replaced)
            }
            None => {
                let old = before.value_or(|| self.shards[i].get(&key).cloned());
                self.fresh.insert(key, value);
                old
            }
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `key`, handing its value back. A shard a capture holds is not copied: the key is
    /// only marked gone (and the value copied out of the shard: [`Shards::forget`] does not).
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.take(key, true).map(|v| v.expect("asked for"))
    }

    /// Removes `key`; whether it was there. Under a capture nothing is copied.
    pub fn forget(&mut self, key: &K) -> bool {
        self.take(key, false).is_some()
    }

    /// Removes `key` when present: `Some`, with its value when `value` asks for it.
    fn take(&mut self, key: &K, value: bool) -> Option<Option<V>> {
        let i = self.shard(key);
        let taken = match self.take_overlay(key) {
            Overlay::Gone => {
                self.gone.insert(key.clone());
                return None;
            }
            Overlay::Fresh(v) => {
                if self.shards[i].contains_key(key) {
                    self.hide(i, key);
                }
                Some(v)
            }
            Overlay::Shard => match Arc::get_mut(&mut self.shards[i]) {
                Some(shard) => Some(shard.remove(key)?),
                None => {
                    let v = self.shards[i].get(key)?;
                    let v = value.then(|| v.clone());
                    self.gone.insert(key.clone());
                    v
                }
            },
        };
        self.len -= 1;
        Some(taken)
    }

    /// Takes `key` out of shard `i`, or marks it gone while a capture shares the shard.
    fn hide(&mut self, i: usize, key: &K) {
        match Arc::get_mut(&mut self.shards[i]) {
            Some(shard) => {
                shard.remove(key);
            }
            None => {
                self.gone.insert(key.clone());
            }
        }
    }
}

/// The shard of `key`: bits of its hash a shard's own table does not use (its buckets use the
/// lowest bits, its control bytes the highest), so every shard's table stays spread.
fn shard_of<K: Hash, S: BuildHasher>(hasher: &S, key: &K) -> usize {
    (hasher.hash_one(key) >> 32) as usize % SHARDS
}

impl<K, V, S> serde::Serialize for Shards<K, V, S>
where
    K: serde::Serialize + Eq + Hash + Clone,
    V: serde::Serialize + Clone,
    S: BuildHasher + Clone,
{
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(self.len))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K, V, S> serde::Deserialize<'de> for Shards<K, V, S>
where
    K: serde::Deserialize<'de> + Eq + Hash + Clone,
    V: serde::Deserialize<'de> + Clone,
    S: BuildHasher + Clone + Default,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<K, V, S>(PhantomData<(K, V, S)>);
        impl<'de, K, V, S> Visitor<'de> for Entries<K, V, S>
        where
            K: serde::Deserialize<'de> + Eq + Hash + Clone,
            V: serde::Deserialize<'de> + Clone,
            S: BuildHasher + Clone + Default,
        {
            type Value = Shards<K, V, S>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out: Shards<K, V, S> = Shards::default();
                if let Some(n) = access.size_hint().filter(|&n| n >= SHARDS) {
                    // room for each shard's share (and a little over): no table grows twice
                    let each = n / SHARDS + n / SHARDS / 8 + 1;
                    out.shards = (0..SHARDS)
                        .map(|_| {
                            Arc::new(HashMap::with_capacity_and_hasher(each, out.hasher.clone()))
                        })
                        .collect();
                }
                while let Some((k, v)) = access.next_entry()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of keys `0..n`, each with itself as its value.
    fn filled(n: u64) -> Shards<u64, Vec<u64>> {
        let mut map = Shards::default();
        for k in 0..n {
            map.insert(k, vec![k]);
        }
        map
    }

    /// No shard of `map` was copied since `captured` was taken.
    fn shares_every_shard(map: &Shards<u64, Vec<u64>>, captured: &Shards<u64, Vec<u64>>) -> bool {
        map.shards
            .iter()
            .zip(&captured.shards)
            .all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// A capture keeps the entries it was taken with, whatever is written after it, and
    /// serialises as the map it captured.
    #[test]
    fn a_capture_keeps_its_entries_whatever_is_written_after_it() {
        let mut map = filled(5_000);
        let captured = map.clone();
        let bytes = postcard::to_stdvec(&captured).unwrap();
        for k in 0..2_500u64 {
            map.get_or_default(k).push(1);
            map.remove(&(k + 2_500));
            map.insert(k + 10_000, vec![]);
        }
        assert_eq!(captured.len(), 5_000);
        assert!((0..5_000u64).all(|k| captured.get(&k) == Some(&vec![k])));
        assert_eq!(postcard::to_stdvec(&captured).unwrap().len(), bytes.len());
        let back: Shards<u64, Vec<u64>> = postcard::from_bytes(&bytes).unwrap();
        assert!((0..5_000u64).all(|k| back.get(&k) == Some(&vec![k])));
        assert_eq!(map.len(), 5_000);
        assert_eq!(map.get(&0), Some(&vec![0, 1]));
        // the bytes of a HashMap of the same entries
        let plain: HashMap<u64, Vec<u64>> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(plain.len(), 5_000);
    }

    /// A key removed while a capture shares its shard is gone from the map at once (not from
    /// the capture) without the shard being copied, comes back new when written again, and
    /// leaves the shard once the capture lets go.
    #[test]
    fn a_key_removed_under_a_capture_is_gone_without_a_copy() {
        let mut map = filled(2_000);
        let captured = map.clone();
        for k in 0..1_000u64 {
            assert_eq!(map.remove(&k), Some(vec![k]));
        }
        // no shard was copied: every one is still shared with the capture
        assert!(shares_every_shard(&map, &captured));
        assert_eq!(map.len(), 1_000);
        assert!((0..1_000u64).all(|k| map.get(&k).is_none() && !map.contains_key(&k)));
        assert_eq!(map.remove(&5), None, "removed once");
        assert_eq!(map.iter().count(), 1_000);
        assert!((0..2_000u64).all(|k| captured.get(&k) == Some(&vec![k])));
        // written again, a gone key is new
        assert!(map.get_or_default(7).is_empty());
        assert_eq!(map.insert(8, vec![80]), None);
        assert_eq!(map.len(), 1_002);
        let bytes = postcard::to_stdvec(&map).unwrap();
        let back: HashMap<u64, Vec<u64>> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.len(), 1_002);
        assert_eq!(back.get(&8), Some(&vec![80]));
        assert!(!back.contains_key(&9));
        // still no shard copied: what was written went to the overlay
        assert!(shares_every_shard(&map, &captured));
        // nothing leaves a shard while the capture holds it
        map.settle();
        assert!(!map.gone.is_empty());
        drop(captured);
        map.settle();
        assert!(map.gone.is_empty() && map.fresh.is_empty());
        assert_eq!(map.shards.iter().map(|s| s.len()).sum::<usize>(), 1_002);
        assert_eq!(map.len(), 1_002);
        assert_eq!(map.get(&8), Some(&vec![80]));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64, u64),
        Remove(u64),
        /// `get_or_default(k).push(v)`
        Push(u64, u64),
        /// `get_mut(k).push(v)` when present
        Bump(u64, u64),
        Forget(u64),
        Capture,
        /// drops the capture `i % captures`
        Release(usize),
        Settle,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let key = 0..600u64;
        prop_oneof![
            4 => (key.clone(), any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => key.clone().prop_map(Op::Remove),
            2 => key.clone().prop_map(Op::Forget),
            3 => (key.clone(), any::<u64>()).prop_map(|(k, v)| Op::Push(k, v)),
            2 => (key, any::<u64>()).prop_map(|(k, v)| Op::Bump(k, v)),
            1 => Just(Op::Capture),
            1 => any::<usize>().prop_map(Op::Release),
            1 => Just(Op::Settle),
        ]
    }

    type Model = std::collections::BTreeMap<u64, Vec<u64>>;

    /// Everything `map` says agrees with `model`: each key, the count, the iteration and the
    /// serialised bytes.
    fn agrees(map: &Shards<u64, Vec<u64>>, model: &Model) {
        assert_eq!(map.len(), model.len());
        for k in 0..600u64 {
            assert_eq!(map.get(&k), model.get(&k), "key {k}");
            assert_eq!(map.contains_key(&k), model.contains_key(&k), "key {k}");
        }
        let listed: Model = map.iter().map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(&listed, model);
        assert_eq!(map.iter().count(), model.len(), "each entry listed once");
        let back: HashMap<u64, Vec<u64>> =
            postcard::from_bytes(&postcard::to_stdvec(map).unwrap()).unwrap();
        assert_eq!(back.into_iter().collect::<Model>(), *model);
    }

    proptest::proptest! {
        /// Whatever is written, removed, captured, let go and settled in any order, the map is
        /// the plain map of the same writes, and every capture the map as it was when taken.
        #[test]
        fn the_map_and_its_captures_are_the_plain_maps_of_the_same_writes(
            ops in proptest::collection::vec(op(), 1..400)
        ) {
            let mut map: Shards<u64, Vec<u64>> = Shards::default();
            let mut model = Model::new();
            let mut captures: Vec<(Shards<u64, Vec<u64>>, Model)> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        assert_eq!(map.insert(k, vec![v]), model.insert(k, vec![v]));
                    }
                    Op::Remove(k) => assert_eq!(map.remove(&k), model.remove(&k)),
                    Op::Forget(k) => assert_eq!(map.forget(&k), model.remove(&k).is_some()),
                    Op::Push(k, v) => {
                        map.get_or_default(k).push(v);
                        model.entry(k).or_default().push(v);
                    }
                    Op::Bump(k, v) => {
                        if let Some(e) = map.get_mut(&k) {
                            e.push(v);
                        }
                        if let Some(e) = model.get_mut(&k) {
                            e.push(v);
                        }
                    }
                    Op::Capture => captures.push((map.clone(), model.clone())),
                    Op::Release(i) if !captures.is_empty() => {
                        let i = i % captures.len();
                        let (captured, was) = captures.remove(i);
                        agrees(&captured, &was);
                    }
                    Op::Release(_) => {}
                    Op::Settle => map.settle(),
                }
                assert_eq!(map.len(), model.len());
            }
            agrees(&map, &model);
            for (captured, was) in &captures {
                agrees(captured, was);
            }
            captures.clear();
            map.settle();
            assert!(map.fresh.is_empty() && map.gone.is_empty(), "settled once let go");
            agrees(&map, &model);
        }
    }
}
