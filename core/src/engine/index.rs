//! Contact ids as the engine holds them, and the index from an id to its contact's slot.
//!
//! An id of up to [`INLINE`] bytes is kept inside its slot, so finding a contact touches the
//! index entry and the slot, not a string elsewhere on the heap. The index is keyed by the
//! id's 64-bit hash (computed once per event) and checked against the slot's id, so it stays
//! exact: an id whose hash another id already holds goes to a second, string-keyed map.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::memory::PreHashed;

/// Bytes of an id kept inline.
pub const INLINE: usize = 22;

/// A contact's id: inline when short, else boxed (24 bytes either way).
#[derive(Clone, Debug)]
pub enum ContactId {
    Inline { len: u8, bytes: [u8; INLINE] },
    Boxed(Box<str>),
}

impl ContactId {
    pub fn new(id: &str) -> ContactId {
        if id.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            ContactId::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            ContactId::Boxed(id.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ContactId::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ContactId::Boxed(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // built from a `str` cut at its end: always UTF-8
            ContactId::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            ContactId::Boxed(s) => s,
        }
    }
}

impl Serialize for ContactId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_str().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ContactId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Ok(ContactId::new(&id))
    }
}

/// Contact slots by id.
#[derive(Debug, Default)]
pub struct ContactIndex {
    by_hash: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    /// Ids whose hash was taken by another id when they came (practically never).
    collided: HashMap<Box<str>, u32>,
}

impl ContactIndex {
    /// The slot of `id` (whose hash is `hash`); `id_of` tells a slot's id.
    pub fn get<'c>(&self, id: &str, hash: u64, id_of: impl Fn(u32) -> &'c [u8]) -> Option<u32> {
        match self.by_hash.get(&hash) {
            Some(&slot) if id_of(slot) == id.as_bytes() => Some(slot),
            _ if self.collided.is_empty() => None,
            _ => self.collided.get(id).copied(),
        }
    }

    /// Indexes a new contact (not indexed yet).
    pub fn insert(&mut self, id: &str, hash: u64, slot: u32) {
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(id.into(), slot);
            }
        }
    }

    /// Forgets the contact in `slot` (id `id`, hash `hash`).
    pub fn remove(&mut self, id: &str, hash: u64, slot: u32) {
        if self.by_hash.get(&hash) == Some(&slot) {
            self.by_hash.remove(&hash);
        } else {
            self.collided.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_short_and_long_keep_their_text() {
        for id in [
            "",
            "c1",
            "é-contact",
            &"x".repeat(INLINE),
            &"y".repeat(INLINE + 1),
        ] {
            let c = ContactId::new(id);
            assert_eq!(c.as_str(), id);
            assert_eq!(matches!(c, ContactId::Inline { .. }), id.len() <= INLINE);
            let back: ContactId = postcard::from_bytes(&postcard::to_stdvec(&c).unwrap()).unwrap();
            assert_eq!(back.as_str(), id);
        }
        assert_eq!(std::mem::size_of::<ContactId>(), 24);
    }

    #[test]
    fn ids_sharing_a_hash_stay_apart() {
        let ids = ["a", "b", "c"];
        let of = |slot: u32| ids[slot as usize].as_bytes();
        let mut index = ContactIndex::default();
        // every id given the same hash
        for (slot, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, 7, of), None);
            index.insert(id, 7, slot as u32);
        }
        for (slot, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, 7, of), Some(slot as u32));
        }
        assert_eq!(index.get("d", 7, of), None);
        // the one keyed by the hash leaves: the others are still found
        index.remove("a", 7, 0);
        assert_eq!(index.get("a", 7, of), None);
        assert_eq!(index.get("b", 7, of), Some(1));
        assert_eq!(index.get("c", 7, of), Some(2));
        index.remove("c", 7, 2);
        assert_eq!(index.get("c", 7, of), None);
        assert_eq!(index.get("b", 7, of), Some(1));
    }
}
