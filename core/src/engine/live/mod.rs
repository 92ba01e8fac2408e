//! What the supervisor's live view needs, kept as events arrive: each agent's state, not-ready
//! reason and since when, its conversation (queue, channel, since, on hold), its wrap-up, and
//! what it completed today per queue; and the priority of waiting contacts. The view itself is
//! built only when asked ([`Engine::live_view`]).
//!
//! Costs: an event naming an agent costs one hash lookup and O(q) for the agent's q queues with
//! counts today; an offer with a priority one small vector push. The view costs O(a · q + w) for
//! a agents and w waiting contacts. Memory is bounded: at most `max_agents` agents are tracked
//! (an agent not yet tracked beyond the bound is left out of the view and counted), an agent
//! idle for a day (or logged out an hour, with nothing today) is forgotten, and priorities are
//! held per contact slot (bounded by `max_open_contacts`).
//!
//! The live state follows each agent's latest event: an `agent.state` event older than the
//! agent's latest one changes nothing here (the windowed agent time still takes it), and a
//! conversation is counted as handled only when its answer was seen before its end.

use std::collections::HashMap;

use hashbrown::hash_map::EntryRef;

use crate::event::{AgentEvent, AgentState, Channel, ContactEvent, ContactStep};
use crate::live::{
    AgentRow, Conversation, HandledToday, LiveView, StateRow, WaitingRow, LOGGED_OUT_SHOWN,
};
use crate::time::Millis;

use super::memory::hash_id;
use super::queue::QueueId;
use super::step::NO_QUEUE;
use super::Engine;

/// An agent with no event for this long (and no conversation open) is forgotten.
const IDLE_FORGOTTEN: Millis = 24 * 3_600_000;
/// Forgetting is looked at once per this much event time.
const SWEEP_EVERY: Millis = 60_000;

/// A contact's serial and its offers' (queue, offered at, priority).
type Priorities = (u64, Vec<(QueueId, Millis, i64)>);

/// The live state of every agent tracked, and the priorities of the contacts offered with one.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Live {
    /// One look-up per event naming an agent (`entry_ref`: the name is copied only when new).
    agents: hashbrown::HashMap<Box<str>, LiveAgent>,
    /// By contact slot, of the contacts offered with a priority.
    priorities: HashMap<u32, Priorities>,
    last_sweep: Millis,
    /// Agents not tracked because `max_agents` were already.
    pub untracked: u64,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct LiveAgent {
    state: Option<StateNow>,
    talk: Option<Talk>,
    wrapup: Option<Talk>,
    handled: Vec<Handled>,
    /// The latest event naming the agent.
    last_at: Millis,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct StateNow {
    state: AgentState,
    reason: Option<Box<str>>,
    since: Millis,
    at: Millis,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Talk {
    contact: u64,
    queue: QueueId,
    channel: Channel,
    /// Answered at.
    answered: Millis,
    /// Answered at (a conversation) or ended at (a wrap-up).
    since: Millis,
    held: bool,
}

/// Contacts completed in `queue` on the day starting at `day`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Handled {
    queue: QueueId,
    day: Millis,
    count: u64,
    handle_ms: i64,
}

impl Live {
    /// The agent's entry, made when fewer than `max` are tracked.
    fn agent(&mut self, name: &str, max: usize) -> Option<&mut LiveAgent> {
        let full = self.agents.len() >= max;
        match self.agents.entry_ref(name) {
            EntryRef::Occupied(agent) => Some(agent.into_mut()),
            EntryRef::Vacant(_) if full => {
                self.untracked += 1;
                None
            }
            EntryRef::Vacant(agent) => {
                Some(agent.insert_with_key(name.into(), LiveAgent::default()))
            }
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Forgets, at most once a minute of event time, the agents nothing of the view needs any
    /// more at `now`: idle for a day, or logged out for an hour and idle as long.
    pub fn sweep(&mut self, now: Millis) {
        if now < self.last_sweep.saturating_add(SWEEP_EVERY) {
            return;
        }
        self.last_sweep = now;
        self.agents.retain(|_, a| {
            let open = a.talk.is_some() || a.wrapup.is_some();
            let logged_in = a
                .state
                .as_ref()
                .is_some_and(|s| s.state != AgentState::LoggedOut);
            let recent = a.last_at >= now.saturating_sub(LOGGED_OUT_SHOWN);
            let today = a.last_at >= now.saturating_sub(IDLE_FORGOTTEN);
            open || recent || (logged_in || !a.handled.is_empty()) && today
        });
    }
}

impl LiveAgent {
    fn state_event(&mut self, ts: Millis, state: AgentState, reason: Option<&str>) {
        self.last_at = self.last_at.max(ts);
        match &mut self.state {
            // a late event, or a lesser state of the same instant: the latest one stands
            Some(s) if ts < s.at || (ts == s.at && state < s.state) => {}
            Some(s) if s.state == state && s.reason.as_deref() == reason => s.at = ts,
            slot => {
                *slot = Some(StateNow {
                    state,
                    reason: reason.map(Into::into),
                    since: ts,
                    at: ts,
                })
            }
        }
    }

    /// One contact event naming the agent; `done(queue, at, handle)` counts a completion.
    fn contact_event(
        &mut self,
        talk: Talk,
        step: ContactStep,
        wrapup_expected: bool,
        mut done: impl FnMut(&mut Vec<Handled>, QueueId, Millis, Millis),
    ) {
        let ts = talk.since;
        self.last_at = self.last_at.max(ts);
        let same = |t: &Option<Talk>| t.as_ref().is_some_and(|t| t.contact == talk.contact);
        match step {
            ContactStep::Answered => self.talk = Some(talk),
            ContactStep::Held | ContactStep::Resumed if same(&self.talk) => {
                if let Some(t) = &mut self.talk {
                    t.held = step == ContactStep::Held;
                }
            }
            ContactStep::Transferred | ContactStep::Ended if same(&self.talk) => {
                if let Some(mut t) = self.talk.take() {
                    if wrapup_expected {
                        t.since = ts;
                        t.held = false;
                        self.wrapup = Some(t);
                    } else {
                        done(&mut self.handled, t.queue, ts, ts - t.answered);
                    }
                }
            }
            ContactStep::WrapupEnded if same(&self.wrapup) => {
                if let Some(t) = self.wrapup.take() {
                    done(&mut self.handled, t.queue, ts, ts - t.answered);
                }
            }
            _ => {}
        }
    }
}

/// Counts a contact completed at `at` in `queue` on the day starting at `day` (a completion of
/// an earlier day than the one counted is too late to count).
fn count_handled(handled: &mut Vec<Handled>, queue: QueueId, day: Millis, handle_ms: Millis) {
    match handled.iter_mut().find(|h| h.queue == queue) {
        Some(h) if h.day == day => {
            h.count += 1;
            h.handle_ms += handle_ms;
        }
        Some(h) if h.day < day => {
            *h = Handled {
                queue,
                day,
                count: 1,
                handle_ms,
            }
        }
        Some(_) => {}
        None => handled.push(Handled {
            queue,
            day,
            count: 1,
            handle_ms,
        }),
    }
}

impl Engine {
    /// The live side of an accepted `agent.state` event.
    /// Keeps no live view from here on (`replay`, which serves none: its windows' KPIs are the
    /// same, an event costs less). [`Engine::live_view`] and the per-agent export are then
    /// empty.
    pub fn without_live_view(&mut self) {
        self.no_live = true;
        self.live = Live::default();
    }

    pub(super) fn live_agent_event(&mut self, a: &AgentEvent<'_>, ts: Millis) {
        if self.no_live {
            return;
        }
        let max = self.config.engine.max_agents;
        if let Some(agent) = self.live.agent(&a.agent, max) {
            agent.state_event(ts, a.state, a.reason.as_deref());
        }
    }

    /// The live side of an accepted contact event of the contact in `slot`.
    pub(super) fn live_contact_event(&mut self, c: &ContactEvent<'_>, ts: Millis, slot: u32) {
        if self.no_live {
            return;
        }
        let Some((_, contact)) = &self.contacts[slot as usize] else {
            return;
        };
        if c.step == ContactStep::Offered {
            if let (Some(p), Some(q)) = (c.priority, c.queue.as_deref()) {
                let Some(&queue) = self.queue_ids.get(q) else {
                    return;
                };
                let entry = self.live.priorities.entry(slot).or_default();
                if entry.0 != contact.serial {
                    *entry = (contact.serial, Vec::new());
                }
                entry.1.push((queue, ts, p));
            }
            return;
        }
        let Some(name) = c.agent.as_deref() else {
            return;
        };
        // the queue and channel of the offer the event belongs to
        let offer = (contact.steps.iter())
            .filter(|s| s.step == ContactStep::Offered && s.at <= ts)
            .filter(|s| match c.queue.as_deref() {
                Some(q) => self.queue_ids.get(q) == Some(&s.queue),
                None => true,
            })
            .max_by_key(|s| s.at);
        let Some(offer) = offer else { return };
        let (queue, channel) = (offer.queue, offer.channel);
        if queue == NO_QUEUE {
            return;
        }
        let settings = &self.queues[queue as usize].settings;
        let wrapup_expected = c.wrapup.unwrap_or(settings.wrapup);
        let talk = Talk {
            contact: hash_id(&c.contact_id),
            queue,
            channel,
            answered: ts,
            since: ts,
            held: false,
        };
        let queues = &self.queues;
        let max = self.config.engine.max_agents;
        if let Some(agent) = self.live.agent(name, max) {
            agent.contact_event(talk, c.step, wrapup_expected, |h, q, at, handle| {
                let day = queues[q as usize].settings.clock.day_start_before(at);
                count_handled(h, q, day, handle);
            });
        }
    }

    /// Every agent tracked, by name, at the engine's `now` (the caller's merge leaves out those
    /// not shown, [`AgentRow::shown_at`]). Cost: O(a · q) for a agents of q queues.
    pub fn live_agents(&self) -> Vec<AgentRow> {
        let now = self.now;
        let name = |q: QueueId| self.queues[q as usize].name.to_string();
        let conversation = |t: &Talk| Conversation {
            queue: name(t.queue),
            channel: t.channel,
            since: t.since,
            on_hold: t.held,
        };
        let today: Vec<Millis> = (self.queues.iter())
            .map(|q| q.settings.clock.day_start_before(now))
            .collect();
        let mut agents: Vec<AgentRow> = (self.live.agents.iter())
            .map(|(agent, a)| AgentRow {
                agent: agent.to_string(),
                state: a.state.as_ref().map(|s| StateRow {
                    state: s.state,
                    reason: s.reason.as_deref().map(str::to_string),
                    since: s.since,
                    at: s.at,
                }),
                queues: (self.agents.queues_of(agent).iter())
                    .map(|&q| name(q))
                    .collect(),
                conversation: a.talk.as_ref().map(conversation),
                wrapup: a.wrapup.as_ref().map(conversation),
                handled_today: (a.handled.iter())
                    .filter(|h| today[h.queue as usize] == h.day)
                    .map(|h| HandledToday {
                        queue: name(h.queue),
                        count: h.count,
                        handle_ms: h.handle_ms,
                    })
                    .collect(),
            })
            .collect();
        agents.sort_unstable_by(|a, b| a.agent.cmp(&b.agent));
        agents
    }

    /// The live view at the engine's `now`: every agent tracked (the caller's merge leaves out
    /// those not shown, [`AgentRow::shown_at`]) and every contact waiting, oldest first per
    /// queue. Cost: O(a · q + w log w) for a agents of q queues and w waiting contacts.
    pub fn live_view(&self) -> LiveView {
        let now = self.now;
        let agents = self.live_agents();
        let mut waiting = Vec::new();
        for q in self.queues.iter().filter(|q| !q.retired) {
            let id = self.queue_ids.get(&*q.name).copied().unwrap_or(NO_QUEUE);
            for &(t0, slot, _) in q.waiting_before(now) {
                let Some((contact_id, contact)) = &self.contacts[slot as usize] else {
                    continue;
                };
                let channel = (contact.steps.iter())
                    .find(|s| s.step == ContactStep::Offered && s.at == t0 && s.queue == id)
                    .map_or(Channel::Voice, |s| s.channel);
                let priority = (self.live.priorities.get(&slot))
                    .filter(|(serial, _)| *serial == contact.serial)
                    .and_then(|(_, offers)| {
                        offers.iter().find(|o| o.0 == id && o.1 == t0).map(|o| o.2)
                    });
                waiting.push(WaitingRow {
                    queue: q.name.to_string(),
                    since: t0,
                    channel,
                    priority,
                    contact_id: contact_id.as_str().to_string(),
                });
            }
        }
        waiting.sort_by(|a, b| (&a.queue, a.since).cmp(&(&b.queue, b.since)));
        LiveView {
            at: now,
            agents,
            waiting,
        }
    }
}

#[cfg(test)]
mod tests;
