//! Keying detection (docs/events.md): whether a contact's events, or a customer's contacts in one
//! queue, reach this instance through more than one of its partitions — a topic keyed by
//! contact id or by queue rather than by center. Each partition has its own engine, so such a
//! contact's legs, or such a customer's repeats and recoveries, are counted apart: the numbers
//! are wrong and nothing else would say so.
//!
//! Cheap enough to leave on: one in [`SAMPLE`] contact ids (and customers) is watched, by hash;
//! a watched one takes one atomic swap in a table of [`SLOTS`] words per kind (1 MiB for both,
//! per instance), remembering the partition it last came through. A slot is overwritten by
//! the next watched id that hashes to it, so a split is seen while both partitions' events
//! come within the slot's lifetime (hours at a few contacts a second); it is a sample, never
//! a count of every split contact.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::input::Keys;
use crate::kafka::PartitionKey;

/// One id in this many is watched.
pub const SAMPLE: u64 = 16;
/// Slots per kind.
pub const SLOTS: usize = 1 << 16;
/// The low bits of a slot hold the partition's tag, the high ones the id's hash.
const TAG_BITS: u64 = 0xFFFF;

/// What was found in two partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// A contact's events.
    Contact,
    /// A customer's contacts in one queue.
    Customer,
}

impl Split {
    pub const ALL: [Split; 2] = [Split::Contact, Split::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Contact => "contact",
            Split::Customer => "customer",
        }
    }
}

/// The instance's tables of watched ids, shared by its partition workers.
pub struct KeyingWatch {
    contacts: Box<[AtomicU64]>,
    customers: Box<[AtomicU64]>,
}

impl Default for KeyingWatch {
    fn default() -> Self {
        let table = || (0..SLOTS).map(|_| AtomicU64::new(0)).collect();
        KeyingWatch {
            contacts: table(),
            customers: table(),
        }
    }
}

/// A partition's tag in the tables (never 0, the empty slot).
pub fn tag(key: &PartitionKey) -> u16 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let h = BuildHasherDefault::<DefaultHasher>::default().hash_one((&key.0, key.1));
    (h as u16).max(1)
}

impl KeyingWatch {
    /// An applied event's keys, read through the partition tagged `tag`: what it found split.
    pub fn seen(&self, tag: u16, keys: Keys) -> impl Iterator<Item = Split> {
        let contact = watch(&self.contacts, tag, keys.contact).then_some(Split::Contact);
        let customer = watch(&self.customers, tag, keys.customer).then_some(Split::Customer);
        contact.into_iter().chain(customer)
    }
}

/// Records that `hash` came through `tag`; true when it last came through another partition.
fn watch(table: &[AtomicU64], tag: u16, hash: u64) -> bool {
    if hash == 0 || !hash.is_multiple_of(SAMPLE) {
        return false;
    }
    let slot = &table[(hash / SAMPLE) as usize % table.len()];
    let id = hash & !TAG_BITS;
    let old = slot.swap(id | u64::from(tag), Ordering::Relaxed);
    old != 0 && old & !TAG_BITS == id && old & TAG_BITS != u64::from(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contact keys that are watched (a multiple of the sample).
    fn watched(n: u64) -> Keys {
        Keys {
            contact: (n << 20) * SAMPLE,
            customer: 0,
        }
    }

    #[test]
    fn a_contact_seen_in_two_partitions_is_a_split_and_in_one_is_not() {
        let w = KeyingWatch::default();
        let (p1, p2) = (3, 4);
        assert_eq!(w.seen(p1, watched(1)).count(), 0);
        assert_eq!(w.seen(p1, watched(1)).count(), 0, "same partition");
        assert_eq!(w.seen(p2, watched(1)).collect::<Vec<_>>(), [Split::Contact]);
        assert_eq!(w.seen(p2, watched(2)).count(), 0, "another contact");
        // ids outside the sample are not watched
        let unwatched = Keys {
            contact: SAMPLE * 7 + 1,
            customer: 0,
        };
        assert_eq!(w.seen(p1, unwatched).count(), 0);
        assert_eq!(w.seen(p2, unwatched).count(), 0);
    }

    #[test]
    fn a_customer_seen_in_two_partitions_is_a_split() {
        let w = KeyingWatch::default();
        let k = Keys {
            contact: 0,
            customer: 5 << 24,
        };
        assert_eq!(w.seen(1, k).count(), 0);
        assert_eq!(w.seen(2, k).collect::<Vec<_>>(), [Split::Customer]);
    }
}
