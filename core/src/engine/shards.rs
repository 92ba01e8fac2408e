//! A hash map in copy-on-write shards, for the engine's largest maps (customer histories,
//! de-duplication, finished contacts): a checkpoint captures one by sharing its shards
//! ([`Clone`] copies [`SHARDS`] pointers, whatever the map holds), and the engine copies a
//! shard only when it next writes to it while a capture still holds it — so taking a
//! checkpoint pauses the partition for microseconds per map, and the copying is spread over
//! the events after it, one shard (a 256th of the map) at a time.
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

/// Shards of every map: a write after a capture copies a 256th of the map (about 4,000
/// entries at a million: well under a millisecond). More shards made every map slower with no
/// capture held — each its own small table, the hot path's look-ups spread over thousands of
/// them (with 4,096 shards `replay` of a day with customers took 1.2 × as long, same run).
pub const SHARDS: usize = 256;

/// A hash map whose entries are spread over [`SHARDS`] shards, each shared with the captures
/// taken since it was last written.
pub struct Shards<K, V, S = RandomState> {
    shards: Vec<Arc<HashMap<K, V, S>>>,
    /// Keys removed while a capture shared their shard: still in the shard, no longer in the
    /// map. Removing them there would copy the shard — and an advance that forgets a thousand
    /// entries would copy every shard at once. They leave their shards at the first
    /// [`Shards::settle`] after the capture lets go.
    gone: HashSet<K, S>,
    len: usize,
    hasher: S,
}

impl<K: Clone, V, S: Clone> Clone for Shards<K, V, S> {
    /// A capture: the shards are shared, not copied.
    fn clone(&self) -> Self {
        Shards {
            shards: self.shards.clone(),
            gone: self.gone.clone(),
            len: self.len,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K, V, S: Default + Clone> Default for Shards<K, V, S> {
    fn default() -> Self {
        let hasher = S::default();
        // one empty map shared by every shard until it is written to: an engine is cheap to make
        let empty = Arc::new(HashMap::with_hasher(hasher.clone()));
        Shards {
            shards: vec![empty; SHARDS],
            gone: HashSet::with_hasher(hasher.clone()),
            len: 0,
            hasher,
        }
    }
}

impl<K: fmt::Debug + Eq + Hash, V: fmt::Debug, S: BuildHasher> fmt::Debug for Shards<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.shards
                    .iter()
                    .flat_map(|s| s.iter())
                    .filter(|(k, _)| !self.gone.contains(k)),
            )
            .finish()
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

    /// The shard of `key` to write to, copied first when a capture still shares it.
    fn shard_mut(&mut self, key: &K) -> &mut HashMap<K, V, S> {
        let i = self.shard(key);
        Arc::make_mut(&mut self.shards[i])
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards
            .iter()
            .flat_map(|s| s.iter())
            .filter(|(k, _)| !self.is_gone(k))
    }

    /// Removed while a capture shared its shard (one branch while nothing is).
    fn is_gone(&self, key: &K) -> bool {
        !self.gone.is_empty() && self.gone.contains(key)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        if self.is_gone(key) {
            return None;
        }
        self.shards[self.shard(key)].get(key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        !self.is_gone(key) && self.shards[self.shard(key)].contains_key(key)
    }

    /// Takes the keys removed under a capture out of the shards no capture shares any more.
    pub fn settle(&mut self) {
        if self.gone.is_empty() {
            return;
        }
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

    /// The value of `key` to change (a shard a capture holds is not copied when the key is
    /// absent; one no capture holds is written to with one lookup).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.is_gone(key) {
            return None;
        }
        let i = self.shard(key);
        if Arc::get_mut(&mut self.shards[i]).is_none() && !self.shards[i].contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.shards[i]).get_mut(key)
    }

    /// The value of `key`, inserted as `V::default()` when absent.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = self.shard(&key);
        if self.is_gone(&key) {
            // removed under a capture: it comes back new
            self.gone.remove(&key);
            self.len += 1;
            let shard = Arc::make_mut(&mut self.shards[i]);
            shard.insert(key.clone(), V::default());
            return shard.get_mut(&key).expect("just inserted");
        }
        match Arc::make_mut(&mut self.shards[i]).entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.len += 1;
                e.insert(V::default())
            }
        }
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let was_gone = !self.gone.is_empty() && self.gone.remove(&key);
        let old = self.shard_mut(&key).insert(key, value);
        if old.is_none() || was_gone {
            self.len += 1;
        }
        old.filter(|_| !was_gone)
    }

    /// Removes `key`. A shard a capture holds is not copied: the key is only marked gone.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        if self.is_gone(key) {
            return None;
        }
        let i = self.shard(key);
        if Arc::get_mut(&mut self.shards[i]).is_none() {
            let value = self.shards[i].get(key).cloned()?;
            self.gone.insert(key.clone());
            self.len -= 1;
            return Some(value);
        }
        let old = Arc::make_mut(&mut self.shards[i]).remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
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

    /// A capture keeps the entries it was taken with, whatever is written after it, and
    /// serialises as the map it captured.
    #[test]
    fn a_capture_keeps_its_entries_whatever_is_written_after_it() {
        let mut map: Shards<u64, Vec<u64>> = Shards::default();
        for k in 0..5_000u64 {
            map.insert(k, vec![k]);
        }
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
        let mut map: Shards<u64, Vec<u64>> = Shards::default();
        for k in 0..2_000u64 {
            map.insert(k, vec![k]);
        }
        let captured = map.clone();
        for k in 0..1_000u64 {
            assert_eq!(map.remove(&k), Some(vec![k]));
        }
        // no shard was copied: every one is still shared with the capture
        assert!(map
            .shards
            .iter()
            .zip(&captured.shards)
            .all(|(a, b)| Arc::ptr_eq(a, b)));
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
        // nothing leaves a shard while the capture holds it
        map.settle();
        assert!(!map.gone.is_empty());
        drop(captured);
        map.settle();
        assert!(map.gone.is_empty());
        assert_eq!(map.shards.iter().map(|s| s.len()).sum::<usize>(), 1_002);
        assert_eq!(map.len(), 1_002);
    }
}
