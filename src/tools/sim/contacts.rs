//! The contacts' half of the event handling: arrival, offer and routing, abandons and overflows,
//! ringing, conversation (holds, transfers, end, wrap-up start) and surveys.

use rand::Rng;
use rand_distr::StandardNormal;

use crate::time::{Millis, SECOND};

use super::encode::{Body, Customer, Supervisor};
use super::model::{
    splitmix, Channel, CALLBACK_ACCEPT, CALLBACK_OFFER_AFTER, HOLD_MEAN_S, HOLD_SHARE,
    RESOLVED_SHARE, SURVEY_SHARE, TRANSFER_SHARE, WRAPUP_MEAN_S,
};
use super::state::{Activity, AgentTimer, Contact, ContactState, Scores, Timer, WaitEnd};
use super::{SimEvent, Simulator};

impl Simulator {
    /// A contact arrives in queue `q`: a customer who gave up there and calls again, else a
    /// new caller (or one calling again, see [`Simulator::customer_of`]).
    pub(super) fn arrive(&mut self, q: u16, t: Millis, out: &mut Vec<SimEvent>) {
        let recalls = &mut self.queues[q as usize].recalls;
        let customer = match recalls.front() {
            Some(&(from, customer)) if from <= t => {
                recalls.pop_front();
                Some(customer)
            }
            _ => None,
        };
        let u: f64 = self.rng.random();
        let mix = &self.queues[q as usize].mix;
        let channel = Channel::ALL
            .into_iter()
            .zip(mix)
            .find(|&(_, &m)| u < m)
            .map_or(Channel::Voice, |(c, _)| c);
        let no = self.next_contact;
        self.next_contact += 1;
        let contact = Contact {
            no,
            gen: 0,
            state: ContactState::Free,
            queue: q,
            channel,
            wait_end: WaitEnd::Abandon,
            transfers: 0,
            offered_at: t,
            wait: 0,
            talk_left: 0,
            hold: 0,
            ends_in_transfer: false,
            customer: customer.unwrap_or_else(|| self.customer_of(no)),
        };
        let slot = match self.free_contacts.pop() {
            Some(slot) => {
                let gen = self.contacts[slot as usize].gen;
                self.contacts[slot as usize] = Contact { gen, ..contact };
                slot
            }
            None => {
                self.contacts.push(contact);
                (self.contacts.len() - 1) as u32
            }
        };
        self.offer(slot, q, t, out);
    }

    fn free_contact(&mut self, slot: u32) {
        let c = &mut self.contacts[slot as usize];
        c.state = ContactState::Free;
        c.gen = c.gen.wrapping_add(1);
        self.free_contacts.push(slot);
    }

    /// How long this customer waits before giving up (`Millis::MAX`: until routing gives up).
    fn patience(&mut self, channel: Channel, factor: f64) -> Millis {
        match channel {
            Channel::Voice if self.rng.random_bool(0.08) => self.uniform_ms(0.5, 5.0),
            // Some callers hold on for a long time (they meet the 10-minute overflow).
            // The rest listen to the welcome message before they give up.
            Channel::Voice if self.rng.random_bool(0.12) => 8 * SECOND + self.exp_ms(600.0),
            Channel::Voice => 8 * SECOND + self.exp_ms(90.0 * factor),
            Channel::Chat if self.rng.random_bool(0.03) => self.uniform_ms(1.0, 5.0),
            Channel::Chat => 5 * SECOND + self.exp_ms(240.0 * factor),
            // E-mail and callbacks wait until routing gives up.
            Channel::Email | Channel::Callback => Millis::MAX,
        }
    }

    /// The customer of contact number `no`: one in five is the customer of one of the 40
    /// contacts before it (calling again, often after giving up), the rest someone new. Derived
    /// from the numbers, not drawn, so a seed's traffic is otherwise unchanged.
    fn customer_of(&self, no: u64) -> u64 {
        let own = splitmix(self.cfg.seed ^ no);
        if (own >> 4).is_multiple_of(5) && no > 40 {
            splitmix(self.cfg.seed ^ (no - 1 - (own >> 12) % 40))
        } else {
            own
        }
    }

    /// The contact enters queue `q`: `contact.offered`, its deadline, then routing.
    pub(super) fn offer(&mut self, slot: u32, q: u16, t: Millis, out: &mut Vec<SimEvent>) {
        let channel = self.contacts[slot as usize].channel;
        let patience = self.patience(channel, self.queues[q as usize].patience_factor);
        let (wait_end, wait_limit) = if self.queues[q as usize].logged_in == 0 {
            let announce = self.uniform_ms(3.0, 8.0);
            if patience < announce {
                (WaitEnd::Abandon, patience)
            } else {
                (WaitEnd::NoAgents, announce)
            }
        } else if channel == Channel::Voice
            && patience > CALLBACK_OFFER_AFTER
            && self.rng.random_bool(CALLBACK_ACCEPT)
        {
            (WaitEnd::CallbackKey, CALLBACK_OFFER_AFTER)
        } else if patience < channel.overflow_after() {
            (WaitEnd::Abandon, patience)
        } else {
            (WaitEnd::Timeout, channel.overflow_after())
        };
        let customer = self.contacts[slot as usize].customer;
        let (gen, no) = {
            let c = &mut self.contacts[slot as usize];
            // A new generation: entries and timers of an earlier offer no longer match.
            c.gen = c.gen.wrapping_add(1);
            c.queue = q;
            c.state = ContactState::Waiting;
            c.offered_at = t;
            c.wait_end = wait_end;
            (c.gen, c.no)
        };
        let qname = &self.queues[q as usize].name;
        let body = Body {
            queue: Some(qname),
            channel: (channel != Channel::Voice || customer & 1 == 0).then(|| channel.as_str()),
            customer: (customer % 10 < 7).then(|| {
                if channel.is_call() {
                    Customer::Phone(customer >> 8)
                } else {
                    Customer::Crm(customer >> 8)
                }
            }),
            ..Body::default()
        };
        self.enc
            .emit(out, qname, t, "contact.offered", Some(no), &body);
        self.schedule(t + wait_limit.max(1), Timer::Deadline(slot, gen));
        let agent = self.queues[q as usize]
            .idle
            .iter()
            .map(|&(_, a)| a as usize)
            .find(|&a| self.may_take(a, q));
        match agent {
            Some(a) => self.assign(slot, a, t, out),
            None => {
                let w = &mut self.queues[q as usize].waiting;
                // Drop entries that left the queue (they are all at the front after a while).
                while let Some(&(s, g)) = w.front() {
                    let c = &self.contacts[s as usize];
                    if c.gen == g && c.state == ContactState::Waiting {
                        break;
                    }
                    w.pop_front();
                }
                w.push_back((slot, gen));
            }
        }
    }

    /// Whether idle agent `a` takes a contact of `q` now: always from its first queue, from its
    /// second only while its first queue keeps a reserve of other idle agents (2 + 2·√ of those
    /// logged in).
    pub(super) fn may_take(&self, a: usize, q: u16) -> bool {
        let first = &self.queues[self.agents[a].queues[0] as usize];
        let others_idle = first.idle.len().saturating_sub(1) as f64;
        self.agents[a].queues[0] == q
            || others_idle >= 2.0 + 2.0 * f64::from(first.logged_in).sqrt()
    }

    /// Whether a contact waits in `q` (stale entries at the front are dropped).
    pub(super) fn contacts_waiting(&mut self, q: u16) -> bool {
        let w = &mut self.queues[q as usize].waiting;
        while let Some(&(s, g)) = w.front() {
            let c = &self.contacts[s as usize];
            if c.gen == g && c.state == ContactState::Waiting {
                return true;
            }
            w.pop_front();
        }
        false
    }

    /// Whether the oldest contact waiting in `q` has waited more than `limit` at `t`.
    pub(super) fn waiting_longer_than(&mut self, q: u16, t: Millis, limit: Millis) -> bool {
        if !self.contacts_waiting(q) {
            return false;
        }
        let front = self.queues[q as usize].waiting.front().copied();
        front.is_some_and(|(s, _)| t - self.contacts[s as usize].offered_at > limit)
    }

    /// The oldest contact still waiting in `q`, removed from the queue.
    pub(super) fn pop_waiting(&mut self, q: u16) -> Option<u32> {
        let w = &mut self.queues[q as usize].waiting;
        while let Some((s, g)) = w.pop_front() {
            let c = &self.contacts[s as usize];
            if c.gen == g && c.state == ContactState::Waiting {
                return Some(s);
            }
        }
        None
    }

    /// Agent `a` (available) is offered the contact: its phone rings.
    pub(super) fn assign(&mut self, slot: u32, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        self.set_state(a, Activity::Reserved, t, out);
        let c = &mut self.contacts[slot as usize];
        c.state = ContactState::Ringing(a as u32);
        let (gen, channel) = (c.gen, c.channel);
        let (lo, hi) = channel.ring_s();
        let ring = self.uniform_ms(lo, hi);
        self.schedule(t + ring, Timer::Answer(slot, gen));
    }

    pub(super) fn deadline(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        if c.gen != gen {
            return;
        }
        let ringing = match c.state {
            ContactState::Waiting => None,
            ContactState::Ringing(a) if c.wait_end == WaitEnd::Abandon => Some(a as usize),
            _ => return,
        };
        let (no, q, wait_end) = (c.no, c.queue, c.wait_end);
        let kind = match wait_end {
            WaitEnd::Abandon => "contact.abandoned",
            _ => "contact.overflowed",
        };
        let qname = &self.queues[q as usize].name;
        let body = Body {
            queue: Some(qname),
            reason: wait_end.overflow_reason(),
            ..Body::default()
        };
        self.enc.emit(out, qname, t, kind, Some(no), &body);
        if wait_end == WaitEnd::CallbackKey {
            // The callback the caller asked for enters the same queue.
            let c = &mut self.contacts[slot as usize];
            c.channel = Channel::Callback;
            c.state = ContactState::Transit;
            let delay = self.uniform_ms(1.0, 3.0);
            self.schedule(t + delay, Timer::Reoffer(slot, gen, q));
            return;
        }
        if wait_end == WaitEnd::Abandon {
            // half of those who give up call again, one to ten minutes later: the queue's
            // next arrival from then on is theirs (derived from the contact's number, not
            // drawn; the traffic stays as it was)
            let h = splitmix(self.cfg.seed ^ no ^ 0x5eed);
            if h.is_multiple_of(2) {
                let customer = self.contacts[slot as usize].customer;
                let from = t + 60 * SECOND + ((h >> 8) % 540) as Millis * SECOND;
                let recalls = &mut self.queues[q as usize].recalls;
                if recalls.len() < 10_000 {
                    let pos = recalls.partition_point(|r| r.0 <= from);
                    recalls.insert(pos, (from, customer));
                }
            }
        }
        self.free_contact(slot);
        if let Some(a) = ringing {
            self.agent_free(a, t, out);
        }
    }

    pub(super) fn answer(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let ContactState::Ringing(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let (no, q, channel, offered_at, transfers) =
            (c.no, c.queue, c.channel, c.offered_at, c.transfers);
        let a = a as usize;
        let qname = &self.queues[q as usize].name;
        let body = Body {
            queue: Some(qname),
            agent: Some(&self.agents[a].name),
            ..Body::default()
        };
        self.enc
            .emit(out, qname, t, "contact.answered", Some(no), &body);
        self.set_state(a, Activity::Busy, t, out);

        let qm = &self.queues[q as usize];
        let (factor, may_transfer) = (qm.talk_factor, qm.transfers);
        let talk = self
            .lognormal_ms(channel.talk_mean_s() * factor, 0.8)
            .max(10 * SECOND);
        let hold = channel.is_call() && self.rng.random_bool(HOLD_SHARE);
        let ends_in_transfer = may_transfer
            && self.queues.len() > 1
            && transfers == 0
            && self.rng.random_bool(TRANSFER_SHARE);
        if !channel.is_call() {
            // the first written reply: a chat within the first eighth of the conversation, an
            // e-mail within its first quarter (no random draw, so a seed's traffic is unchanged)
            let share = if channel == Channel::Chat { 8 } else { 4 };
            self.schedule(t + (talk / share).max(SECOND), Timer::Respond(slot, gen));
        }
        let c = &mut self.contacts[slot as usize];
        c.state = ContactState::Talking(a as u32);
        c.wait = t - offered_at;
        c.ends_in_transfer = ends_in_transfer;
        if hold {
            let before = (talk as f64 * self.rng.random_range(0.2..0.7)) as Millis;
            let hold_for = self.lognormal_ms(HOLD_MEAN_S, 0.9).max(5 * SECOND);
            let c = &mut self.contacts[slot as usize];
            c.talk_left = (talk - before).max(SECOND);
            c.hold = hold_for;
            self.schedule(t + before.max(SECOND), Timer::Hold(slot, gen));
        } else {
            self.schedule(t + talk, Timer::End(slot, gen));
        }
    }

    /// Emits a contact event by agent `a` (`queue` named for every other contact) with the
    /// extra fields of `body`.
    fn emit_by_agent(
        &mut self,
        out: &mut Vec<SimEvent>,
        kind: &str,
        slot: u32,
        a: usize,
        t: Millis,
        body: Body<'_>,
    ) {
        let c = &self.contacts[slot as usize];
        let (no, q) = (c.no, c.queue);
        let qname = &self.queues[q as usize].name;
        let body = Body {
            agent: Some(&self.agents[a].name),
            queue: (no % 2 == 0).then_some(qname.as_str()),
            ..body
        };
        self.enc.emit(out, qname, t, kind, Some(no), &body);
    }

    pub(super) fn hold(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let ContactState::Talking(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let hold = c.hold;
        self.emit_by_agent(out, "contact.held", slot, a as usize, t, Body::default());
        self.contacts[slot as usize].state = ContactState::Holding(a);
        self.schedule(t + hold, Timer::Resume(slot, gen));
    }

    /// The agent's first written reply, if the conversation is still on.
    pub(super) fn respond(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let ContactState::Talking(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        self.emit_by_agent(
            out,
            "contact.responded",
            slot,
            a as usize,
            t,
            Body::default(),
        );
    }

    pub(super) fn resume(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let ContactState::Holding(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let left = c.talk_left;
        self.emit_by_agent(out, "contact.resumed", slot, a as usize, t, Body::default());
        self.contacts[slot as usize].state = ContactState::Talking(a);
        self.schedule(t + left, Timer::End(slot, gen));
    }

    pub(super) fn end(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let ContactState::Talking(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let a = a as usize;
        let (no, q, wait) = (c.no, c.queue, c.wait);
        if c.ends_in_transfer {
            let target = self.transfer_target(q);
            let to_queue = target.map(|tq| self.queues[tq as usize].name.clone());
            let body = Body {
                to_queue: to_queue.as_deref(),
                to_agent: target.is_none().then_some(Supervisor(no % 5 + 1)),
                // the transferring agent does no after-call work here (docs/events.md)
                wrapup: Some(false),
                ..Body::default()
            };
            self.emit_by_agent(out, "contact.transferred", slot, a, t, body);
            match target {
                Some(tq) => {
                    let c = &mut self.contacts[slot as usize];
                    c.state = ContactState::Transit;
                    c.transfers += 1;
                    let delay = self.uniform_ms(1.0, 4.0);
                    self.schedule(t + delay, Timer::Reoffer(slot, gen, tq));
                }
                None => self.free_contact(slot),
            }
            // Transfers start only in queues without wrap-up.
            self.agent_free(a, t, out);
            return;
        }
        let wrapup = self.queues[q as usize].wrapup;
        let resolved = self.rng.random_bool(RESOLVED_SHARE);
        let body = Body {
            wrapup: Some(wrapup),
            resolved: (no % 3 != 0).then_some(resolved),
            ..Body::default()
        };
        let ended = out.len();
        self.emit_by_agent(out, "contact.ended", slot, a, t, body);
        self.free_contact(slot);
        if self.rng.random_bool(SURVEY_SHARE) {
            let scores = self.survey_scores(wait, resolved);
            let delay = 30 * SECOND + self.exp_ms(300.0);
            self.schedule(t + delay, Timer::Survey(no, q, scores));
        }
        if wrapup {
            self.agents[a].acw = Some((no, q));
            self.set_state(a, Activity::Wrapup, t, out);
            let acw = self.lognormal_ms(WRAPUP_MEAN_S, 0.4).max(5 * SECOND);
            // drawn after the survey (a seed's traffic stays what it was), told on the end
            if let Some(e) = out.get_mut(ended) {
                e.wrapup_ms = Some(acw);
            }
            let token = self.agents[a].token;
            self.schedule(t + acw, Timer::Agent(a as u32, token, AgentTimer::AcwEnd));
        } else {
            self.agent_free(a, t, out);
        }
    }

    /// Another queue (by volume) for 80 % of the transfers, else `None` (to a supervisor).
    fn transfer_target(&mut self, from: u16) -> Option<u16> {
        if self.rng.random_bool(0.2) {
            return None;
        }
        let total: f64 = self
            .queues
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != from as usize)
            .map(|(_, q)| q.weight)
            .sum();
        let mut u = self.rng.random::<f64>() * total;
        let mut last = None;
        for (i, q) in self.queues.iter().enumerate() {
            if i == from as usize {
                continue;
            }
            last = Some(i as u16);
            u -= q.weight;
            if u < 0.0 {
                break;
            }
        }
        last
    }

    fn survey_scores(&mut self, wait: Millis, resolved: bool) -> Scores {
        let mut mood = 0.0;
        if wait > 60 * SECOND {
            mood -= 0.7;
        }
        if wait > 180 * SECOND {
            mood -= 0.8;
        }
        if !resolved {
            mood -= 1.5;
        }
        let mut normal = || -> f64 { self.rng.sample(StandardNormal) };
        let csat = (4.3 + mood + 0.9 * normal()).round().clamp(1.0, 5.0);
        let nps = (csat * 2.0 - 0.3 + 1.2 * normal()).round().clamp(0.0, 10.0);
        let ces = (csat * 1.3 + 0.4 + 0.8 * normal()).round().clamp(1.0, 7.0);
        let (csat, nps, ces) = (Some(csat as u8), Some(nps as u8), Some(ces as u8));
        let u: f64 = self.rng.random();
        if u < 0.6 {
            [csat, nps, ces]
        } else if u < 0.8 {
            [csat, None, None]
        } else if u < 0.9 {
            [csat, nps, None]
        } else {
            [None, nps, ces]
        }
    }

    pub(super) fn survey(
        &mut self,
        no: u64,
        q: u16,
        [csat, nps, ces]: Scores,
        t: Millis,
        out: &mut Vec<SimEvent>,
    ) {
        let named = self.rng.random_bool(0.5);
        let qname = &self.queues[q as usize].name;
        let body = Body {
            queue: named.then_some(qname.as_str()),
            csat,
            nps,
            ces,
            ..Body::default()
        };
        self.enc
            .emit(out, qname, t, "survey.submitted", Some(no), &body);
    }
}
