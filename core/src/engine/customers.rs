//! Customers (docs/metrics.md): who called before and who got through in the end, per queue — the
//! facts `Identified`, `Repeat`, `Recovered` and `Lost`, which depend on several contacts of one
//! customer. Customer ids are personal data: only a keyed hash (SipHash with a key drawn per
//! engine) is held, never the id.
//!
//! Each contact with a customer registers the moments of its legs that matter here — offers,
//! answers, abandons (short ones excluded) — in its customer's history in that queue; a
//! history's facts are a function of its moments, recomputed when they change and applied as a
//! difference, like a contact's. A fact at instant `t` depends only on moments at or before `t`
//! (a repeat on earlier offers, a recovery on the answer that decides it, a loss on everything up
//! to `tb + callback_window`), so facts before the frontier are final and never touched again.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use crate::kpi::{Fact, FactKind};
use crate::settings::QueueSettings;
use crate::time::Millis;

use super::memory::Recent;
use super::queue::QueueId;
use super::shards::Shards;
use super::step::QueueFact;

/// A customer in one queue: the queue and the keyed hash of the customer id.
type Key = (QueueId, u64);

/// What a moment of a customer's contact is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
enum Moment {
    /// An offer of the contact whose id hashes to this.
    Offer(u32),
    Answer,
    /// An abandon that is not short.
    Abandon,
}

/// One moment of a customer in a queue (16 bytes).
type Item = (Millis, Moment);

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct History {
    items: Vec<Item>,
    /// The facts applied and not yet final.
    applied: Vec<Fact>,
    /// When its moments can no longer change a fact that is not final.
    expires: Millis,
}

/// What one contact registered: its customer-naming offers and the moments it contributed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Registration {
    /// (offer time, customer hash), sorted: the contact's customer at `t` is the one of its
    /// first offer at or before `t` that names one.
    named: Vec<(Millis, u64)>,
    items: Vec<(Key, Item)>,
    contact: u32,
}

/// SipHash-1-3 under a key drawn per engine (kept in its checkpoint, so a restored engine
/// still recognizes its customers).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Keyed(u64, u64);

impl Keyed {
    fn draw() -> Self {
        Keyed(rand::random(), rand::random())
    }

    fn hash_one(&self, id: &str) -> u64 {
        let mut h = siphasher::sip::SipHasher13::new_with_keys(self.0, self.1);
        id.hash(&mut h);
        h.finish()
    }
}

/// The customer histories of one engine (its maps in copy-on-write shards: a checkpoint
/// captures them without copying them).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Customers {
    key: Keyed,
    histories: Shards<Key, History>,
    registrations: Shards<u32, Registration>,
    /// Finished and forgotten contacts' first customer-naming offer, by keyed hash of the
    /// contact id: a later leg of the id (a callback) is still that customer's.
    finished: Recent<(Millis, u64)>,
    /// (expiry, key) of every history: when its moments can no longer change a fact that is
    /// not final (its latest moment plus the longer of `repeat_window` and `callback_window`).
    /// The earliest expiry is also the least recently active history, which goes first when
    /// `max_customers` is reached. One entry per history, moved when the history is touched:
    /// nothing stale piles up, so nothing is ever swept at once (a sweep of a million entries
    /// held a partition for half a second). Neither captured nor saved: rebuilt from the
    /// histories on restore ([`Customers::restored`]).
    #[serde(skip)]
    expiry: BTreeSet<(Millis, Key)>,
    capacity: usize,
    /// Histories forgotten because `max_customers` was reached.
    pub evicted: u64,
}

impl Customers {
    pub fn new(capacity: usize) -> Self {
        Customers {
            key: Keyed::draw(),
            histories: Shards::default(),
            registrations: Shards::default(),
            finished: Recent::new(capacity),
            expiry: BTreeSet::new(),
            capacity,
            evicted: 0,
        }
    }

    /// A copy for a checkpoint, sharing the histories' shards, without the expiry order (which
    /// [`Customers::restored`] rebuilds): the one part whose copy would hold the worker.
    pub fn capture(&self) -> Customers {
        Customers {
            key: self.key.clone(),
            histories: self.histories.clone(),
            registrations: self.registrations.clone(),
            finished: self.finished.clone(),
            expiry: BTreeSet::new(),
            capacity: self.capacity,
            evicted: self.evicted,
        }
    }

    /// Rebuilds the expiry order of restored histories: one entry per history at its expiry,
    /// as a running engine holds it — so a restored engine forgets and evicts the same
    /// histories in the same order.
    pub fn restored(&mut self) {
        self.expiry = self
            .histories
            .iter()
            .filter(|(_, h)| h.expires != Millis::default())
            .map(|(&key, h)| (h.expires, key))
            .collect();
    }

    /// No contact in memory names a customer and no finished one left one behind: a contact's
    /// change concerns no customer, and costs no look-up.
    fn is_unused(&self) -> bool {
        self.registrations.is_empty() && self.finished.is_empty()
    }

    /// Customer histories held.
    pub fn len(&self) -> usize {
        self.histories.len()
    }

    /// Entries of the expiry order (the tests read it: one per history, none stale).
    #[cfg(test)]
    pub fn expiry_entries(&self) -> usize {
        self.expiry.len()
    }

    /// An offer of the contact in `slot` (id `contact_id`) at `at` names `customer`.
    pub fn named(&mut self, slot: u32, contact_id: &str, at: Millis, customer: &str) {
        let named = (at, self.key.hash_one(customer));
        let add = |reg: &mut Registration| {
            let pos = reg.named.partition_point(|n| *n <= named);
            reg.named.reserve_exact(1);
            reg.named.insert(pos, named);
        };
        if let Some(reg) = self.registrations.get_mut(&slot) {
            add(reg);
            return;
        }
        let contact = self.key.hash_one(contact_id);
        let mut reg = Registration {
            contact: contact as u32,
            ..Registration::default()
        };
        reg.named.extend(self.finished.get(contact));
        add(&mut reg);
        self.registrations.insert(slot, reg);
    }

    /// Registers the new contact in `slot` when a finished contact of the same id left a
    /// customer behind (checked once, when the contact comes into memory: while it is open no
    /// other contact of its id can finish).
    pub fn register_from_finished(&mut self, slot: u32, contact_id: &str) {
        if self.registrations.contains_key(&slot) || self.finished.is_empty() {
            return;
        }
        let contact = self.key.hash_one(contact_id);
        if let Some(first) = self.finished.get(contact) {
            self.registrations.insert(
                slot,
                Registration {
                    named: vec![first],
                    items: Vec::new(),
                    contact: contact as u32,
                },
            );
        }
    }

    /// The contact in `slot` now has `facts` (sorted): registers its moments and appends to
    /// `changes` the facts of its customers to add (`1`) or remove (`-1`), at or after
    /// `frontier`.
    pub fn refresh<'s>(
        &mut self,
        slot: u32,
        facts: &[QueueFact],
        frontier: Millis,
        settings: impl Fn(QueueId) -> &'s QueueSettings,
        changes: &mut Vec<(QueueId, Fact, i64)>,
    ) {
        if self.is_unused() {
            // no event named a customer (or every one is forgotten): nothing to look up
            return;
        }
        let Some(reg) = self.registrations.get_mut(&slot) else {
            return;
        };
        let customer_at = |at: Millis| {
            reg.named
                .iter()
                .take_while(|(t, _)| *t <= at)
                .min_by_key(|(t, _)| *t)
                .map(|(_, c)| *c)
        };
        let mut items: Vec<(Key, Item)> = facts
            .iter()
            .filter_map(|&(q, f)| {
                let moment = match f.kind {
                    FactKind::Offered => Moment::Offer(reg.contact),
                    FactKind::Answered { .. } => Moment::Answer,
                    FactKind::Abandoned => Moment::Abandon,
                    _ => return None,
                };
                Some(((q, customer_at(f.at)?), (f.at, moment)))
            })
            .collect();
        items.sort_unstable();
        if items == reg.items {
            // its customers' moments are as they were (a leg that names none moved)
            return;
        }
        // most contacts and customers have one or two moments: no spare capacity
        items.shrink_to_fit();
        let mut touched: Vec<Key> = Vec::new();
        super::diff(&reg.items, &items, |&(key, item), sign| {
            if !touched.contains(&key) {
                touched.push(key);
            }
            let h = self.histories.get_or_default(key);
            if sign > 0 {
                let pos = h.items.partition_point(|i| *i <= item);
                h.items.reserve_exact(1);
                h.items.insert(pos, item);
            } else if let Some(pos) = h.items.iter().position(|i| *i == item) {
                h.items.remove(pos);
            }
        });
        reg.items = items;
        for key in touched {
            let Some(h) = self.histories.get_mut(&key) else {
                continue;
            };
            let s = settings(key.0);
            // moments that can no longer change a fact that is not final go first
            h.items
                .retain(|&(at, m)| at >= frontier.saturating_sub(keep(m, s)));
            let mut facts = facts_of(&h.items, s);
            // facts before the frontier are final: they stay applied, untouched
            facts.retain(|f| f.at >= frontier);
            h.applied.retain(|f| f.at >= frontier);
            facts.shrink_to_fit();
            super::diff(&h.applied, &facts, |&f, sign| {
                changes.push((key.0, f, sign))
            });
            h.applied = facts;
            let last = h.items.last().map_or(Millis::MIN, |i| i.0);
            let expires = last.saturating_add(s.repeat_window.max(s.callback_window).millis());
            if expires != h.expires {
                if h.expires != Millis::default() {
                    // a new history has no entry yet
                    self.expiry.remove(&(h.expires, key));
                }
                h.expires = expires;
                self.expiry.insert((expires, key));
            }
        }
        self.evict();
    }

    /// The contact in `slot` is finished: its moments stay in its customers' histories, and
    /// its customer is remembered for later legs of its id until `survey_horizon`.
    pub fn forget_contact(&mut self, slot: u32, contact_id: &str, last_at: Millis) {
        if self.registrations.is_empty() {
            return;
        }
        if let Some(reg) = self.registrations.remove(&slot) {
            if let Some(&first) = reg.named.first() {
                let contact = self.key.hash_one(contact_id);
                self.finished.insert(contact, last_at, first);
            }
        }
    }

    /// Drops the histories that can no longer change a fact (all their facts are final), and
    /// forgotten contacts' customers older than `finished_horizon`.
    pub fn advance(&mut self, frontier: Millis, finished_horizon: Millis) {
        self.histories.settle();
        self.registrations.settle();
        self.finished.forget_before(finished_horizon);
        // a history whose latest moment is a window behind the frontier changes nothing
        // any more: every moment is useless and every fact final
        while let Some(&(expires, key)) = self.expiry.first() {
            if expires >= frontier {
                break;
            }
            self.expiry.pop_first();
            self.histories.forget(&key);
        }
    }

    /// Forgets the least recently active histories beyond the capacity (counted); their facts
    /// stay applied, final or not.
    fn evict(&mut self) {
        while self.histories.len() > self.capacity {
            let Some((_, key)) = self.expiry.pop_first() else {
                break;
            };
            if self.histories.forget(&key) {
                self.evicted += 1;
            }
        }
    }
}

/// How long behind the frontier a moment can still change a fact that is not final: an offer
/// makes later offers repeats for `repeat_window`; an abandon is decided within
/// `callback_window`, by answers up to that long after it.
fn keep(m: Moment, s: &QueueSettings) -> Millis {
    match m {
        Moment::Offer(_) => s.repeat_window.millis(),
        Moment::Answer | Moment::Abandon => s.callback_window.millis(),
    }
}

/// The facts of one customer's moments in one queue (docs/metrics.md, "Customers"), sorted.
fn facts_of(items: &[Item], s: &QueueSettings) -> Vec<Fact> {
    let (repeat, callback) = (s.repeat_window.millis(), s.callback_window.millis());
    let mut out = Vec::new();
    let offers = || {
        items.iter().filter_map(|&(at, m)| match m {
            Moment::Offer(c) => Some((at, c)),
            _ => None,
        })
    };
    for (t0, contact) in offers() {
        out.push(Fact {
            at: t0,
            kind: FactKind::Identified,
        });
        if offers().any(|(t, c)| c != contact && t < t0 && t >= t0.saturating_sub(repeat)) {
            out.push(Fact {
                at: t0,
                kind: FactKind::Repeat,
            });
        }
    }
    for &(tb, m) in items {
        if m != Moment::Abandon {
            continue;
        }
        let until = tb.saturating_add(callback);
        let answered = items
            .iter()
            .find(|&&(ta, m)| m == Moment::Answer && ta > tb && ta <= until);
        out.push(match answered {
            Some(&(ta, _)) => Fact {
                at: ta,
                kind: FactKind::Recovered,
            },
            None => Fact {
                at: until,
                kind: FactKind::Lost,
            },
        });
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{HOUR, MINUTE};

    fn kinds(items: &[Item]) -> Vec<(Millis, FactKind)> {
        facts_of(items, &QueueSettings::default())
            .into_iter()
            .map(|f| (f.at / MINUTE, f.kind))
            .collect()
    }

    #[test]
    fn a_repeat_is_an_offer_of_another_contact_within_the_repeat_window() {
        let day = 24 * HOUR;
        // contact 1 at 0, contact 2 exactly 24 h later (a repeat), contact 3 a minute after
        // that (a repeat of contact 2), contact 2 again (its own second leg: no repeat of itself)
        let items = [
            (0, Moment::Offer(1)),
            (day, Moment::Offer(2)),
            (day + MINUTE, Moment::Offer(3)),
            (day + 2 * MINUTE, Moment::Offer(2)),
        ];
        let f = kinds(&items);
        let repeats: Vec<Millis> = f
            .iter()
            .filter(|(_, k)| *k == FactKind::Repeat)
            .map(|(t, _)| *t)
            .collect();
        // at 24 h: contact 1 at 0 is exactly t0 - repeat_window (included); at 24 h 2 m: contact
        // 3's offer a minute before
        assert_eq!(repeats, vec![24 * 60, 24 * 60 + 1, 24 * 60 + 2]);
        assert_eq!(
            f.iter().filter(|(_, k)| *k == FactKind::Identified).count(),
            4
        );
        let lone = kinds(&[(0, Moment::Offer(1)), (day + 1, Moment::Offer(2))]);
        assert!(
            !lone.iter().any(|(_, k)| *k == FactKind::Repeat),
            "24 h and 1 ms later"
        );
    }

    #[test]
    fn an_abandon_is_recovered_by_an_answer_within_the_callback_window_else_lost_at_its_end() {
        let items = [
            (0, Moment::Abandon),
            (HOUR, Moment::Answer), // exactly tb + callback_window: recovered
            (2 * HOUR, Moment::Abandon),
            (2 * HOUR, Moment::Answer), // at tb itself: not after it
            (3 * HOUR + 1, Moment::Answer),
        ];
        let f = kinds(&items);
        assert_eq!(
            f,
            vec![(60, FactKind::Recovered), (180, FactKind::Lost)],
            "decided at the answer, or at tb + callback_window"
        );
    }
}
