//! Contacts in memory: created on their first event, re-resolved on every event with only the
//! difference applied to their queues, queued for expiry, and forgotten once final.
//!
//! Resolutions are written into the engine's [`Scratch`] buffers, so an event costs no
//! allocation once they have grown.

use std::cmp::Reverse;

use crate::kpi::FactKind;
use crate::time::Millis;

use super::contact::{Contact, Scratch};
use super::index::ContactId;
use super::memory::hash_id;
use super::Engine;

impl Engine {
    /// A new contact for `id` (whose [`hash_id`] is `hash`), in a free slot.
    pub(super) fn new_contact(&mut self, id: &str, hash: u64) -> u32 {
        while self.open_contacts >= self.config.engine.max_open_contacts {
            let Some(Reverse((deadline, serial, slot))) = self.expiry.pop() else {
                break;
            };
            if self.is_current(deadline, serial, slot) {
                self.finish_contact(slot, true);
            }
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let mut contact = Contact {
            serial,
            ..Contact::default()
        };
        if let Some(prior) = self.finished.get(hash) {
            contact.after(prior);
        }
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.contacts[slot as usize] = Some((ContactId::new(id), contact));
                slot
            }
            None => {
                self.contacts.push(Some((ContactId::new(id), contact)));
                (self.contacts.len() - 1) as u32
            }
        };
        self.contact_ids.insert(id, hash, slot);
        self.open_contacts += 1;
        // a later leg of a finished contact that named a customer is still that customer's
        self.customers.register_from_finished(slot, id);
        slot
    }

    pub(super) fn is_current(&self, deadline: Millis, serial: u64, slot: u32) -> bool {
        matches!(&self.contacts.get(slot as usize), Some(Some((_, c))) if c.serial == serial && c.queued_deadline == deadline)
    }

    /// Re-resolves a contact whose step at `new` just came, and applies the difference to
    /// its queues.
    pub(super) fn refresh(&mut self, slot: u32, new: usize) {
        let frontier = self.frontier();
        let Some((_, contact)) = &mut self.contacts[slot as usize] else {
            return;
        };
        let queues = &mut self.queues;
        let scratch = &mut self.scratch;
        {
            let queues = &*queues;
            contact.resolve_change(new, |q| &queues[q as usize].settings, scratch);
        }
        let Scratch {
            res,
            before,
            changes,
            ..
        } = scratch;
        res.facts.sort_unstable();
        before.facts.sort_unstable();
        // whether an offer, answer or abandon moved: only those matter to customers
        let mut moments = false;
        diff(&before.facts, &res.facts, |f, sign| {
            moments |= matches!(
                f.1.kind,
                FactKind::Offered | FactKind::Answered { .. } | FactKind::Abandoned
            );
            queues[f.0 as usize].apply(f.1, sign)
        });
        if moments {
            changes.clear();
            self.customers.refresh(
                slot,
                &res.facts,
                frontier,
                |q| &queues[q as usize].settings,
                changes,
            );
            for &(q, f, sign) in changes.iter() {
                queues[q as usize].apply(f, sign);
            }
        }
        res.waiting.sort_unstable();
        before.waiting.sort_unstable();
        diff(&before.waiting, &res.waiting, |&(q, t0, leg), sign| {
            if sign > 0 {
                queues[q as usize].wait_started(t0, slot, leg)
            } else {
                queues[q as usize].wait_ended(t0, slot, leg)
            }
        });
        contact.open = res.open;
        let deadline = if res.open {
            let timeout = contact.timeout(
                |q| &queues[q as usize].settings,
                self.config.defaults.contact_timeout.millis(),
            );
            contact.last_at().saturating_add(timeout)
        } else {
            contact.last_at().saturating_add(1)
        };
        if deadline < contact.queued_deadline {
            contact.queued_deadline = deadline;
            self.expiry.push(Reverse((deadline, contact.serial, slot)));
            if self.expiry.len() > 4 * self.open_contacts + 4096 {
                self.compact_expiry();
            }
        }
    }

    /// Drops superseded expiry entries (a finished contact's entry would otherwise linger
    /// until its `contact_timeout` deadline): one current entry per contact in memory. In
    /// place: the heap's memory, grown once, is reused rather than built anew (fresh pages
    /// to fault in) at every compaction.
    fn compact_expiry(&mut self) {
        let contacts = &self.contacts;
        self.expiry.retain(|&Reverse((deadline, serial, slot))| {
            matches!(contacts.get(slot as usize), Some(Some((_, c))) if c.serial == serial && c.queued_deadline == deadline)
        });
    }

    /// Forgets a contact whose facts are final (or that went stale, or must make room).
    pub(super) fn finish_contact(&mut self, slot: u32, evicted: bool) {
        let Some((id, contact)) = self.contacts[slot as usize].take() else {
            return;
        };
        let queues = &self.queues;
        contact.resolve_into(|q| &queues[q as usize].settings, &mut self.scratch);
        let res = &self.scratch.res;
        for &(q, t0, leg) in &res.waiting {
            self.queues[q as usize].wait_ended(t0, slot, leg);
        }
        let (reason, n) = res.unused_rejects(contact.steps.len());
        self.stats.rejected[reason.index()] += n;
        let (id, hash) = (id.as_str(), hash_id(id.as_str()));
        if let Some(prior) = res.survey {
            self.finished.insert(hash, contact.last_at(), prior);
        }
        if res.open {
            if evicted {
                self.stats.contacts_evicted += 1;
            } else {
                self.stats.contacts_expired += 1;
            }
        }
        self.customers.forget_contact(slot, id, contact.last_at());
        self.contact_ids.remove(id, hash, slot);
        self.free_slots.push(slot);
        self.open_contacts -= 1;
    }
}

/// Walks two sorted lists and reports what left (`-1`) and what came (`+1`).
pub(super) fn diff<T: Ord>(old: &[T], new: &[T], mut apply: impl FnMut(&T, i64)) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                apply(a, -1);
                i += 1;
            }
            (Some(a), None) => {
                apply(a, -1);
                i += 1;
            }
            (_, Some(b)) => {
                apply(b, 1);
                j += 1;
            }
            (None, None) => break,
        }
    }
}
