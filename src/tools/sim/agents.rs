//! The agents' half of the event handling: state changes and their `agent.state` events, login
//! and logout, breaks and lunch, after-call work, and the outage scenario.

use rand::Rng;

use crate::event::AgentState;
use crate::time::{Millis, DAY, HOUR, MINUTE};

use super::encode::Body;
use super::model::{Reason, BREAKS, OUTAGE_SHARE};
use super::state::{Activity, AgentTimer, Timer};
use super::{shuffle, SimEvent, Simulator, Staffing};

impl Simulator {
    /// Changes an agent's activity (keeping the idle sets and login counts) and shows it.
    pub(super) fn set_state(
        &mut self,
        a: usize,
        new: Activity,
        t: Millis,
        out: &mut Vec<SimEvent>,
    ) {
        let old = self.agents[a].activity;
        let ag = &mut self.agents[a];
        if old == Activity::Idle {
            for &q in &ag.queues {
                self.queues[q as usize]
                    .idle
                    .remove(&(ag.idle_since, a as u32));
            }
        }
        if new == Activity::Idle {
            ag.idle_since = t;
            for &q in &ag.queues {
                self.queues[q as usize].idle.insert((t, a as u32));
            }
        }
        if (old == Activity::Out) != (new == Activity::Out) {
            for &q in &ag.queues {
                let n = &mut self.queues[q as usize].logged_in;
                if new == Activity::Out {
                    *n -= 1;
                } else {
                    *n += 1;
                }
            }
        }
        if old.on_break() != new.on_break() {
            let n = &mut self.queues[ag.queues[0] as usize].on_break;
            if new.on_break() {
                *n += 1;
            } else {
                *n -= 1;
            }
        }
        ag.activity = new;
        ag.token = ag.token.wrapping_add(1);
        self.show(a, t, out);
    }

    /// Emits the agent's visible state if it changed; never twice in one millisecond.
    pub(super) fn show(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &self.agents[a];
        let vis = ag.activity.shown();
        if vis == ag.shown {
            return;
        }
        if t <= ag.shown_at {
            if !ag.flush_pending {
                let at = ag.shown_at + 1;
                self.agents[a].flush_pending = true;
                self.schedule(at, Timer::Flush(a as u32));
            }
            return;
        }
        let (state, reason) = vis;
        let body = Body {
            agent: Some(&ag.name),
            state: Some(state.as_str()),
            reason: if state == AgentState::NotReady {
                reason.map(Reason::as_str)
            } else {
                None
            },
            queues: Some(&ag.queue_names),
            ..Body::default()
        };
        let key = &self.queues[ag.queues[0] as usize].name;
        self.enc.emit(out, key, t, "agent.state", None, &body);
        let ag = &mut self.agents[a];
        ag.shown = vis;
        ag.shown_at = t;
    }

    /// The agent finished what it was doing: outage, logout, a pending break, or available.
    /// With realistic staffing an agent puts off a break while contacts wait in its first queue
    /// (as real-time management asks): it takes the next contact and goes on the break after it.
    pub(super) fn agent_free(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let defer_break = self.cfg.staffing == Staffing::Realistic
            && self.agents[a].pending_break.is_some()
            && self.contacts_waiting(self.agents[a].queues[0]);
        let ag = &mut self.agents[a];
        if ag.outage {
            ag.pending_break = None;
            self.set_state(a, Activity::NotReady(Reason::Outage), t, out);
        } else if ag.pending_logout {
            self.logout(a, t, out);
        } else if let (Some(r), false) = (ag.pending_break, defer_break) {
            ag.pending_break = None;
            self.start_break(a, r, t, out);
        } else {
            self.set_state(a, Activity::Idle, t, out);
            for k in 0..self.agents[a].queues.len() {
                let q = self.agents[a].queues[k];
                if !self.may_take(a, q) {
                    continue;
                }
                if let Some(slot) = self.pop_waiting(q) {
                    self.assign(slot, a, t, out);
                    break;
                }
            }
        }
    }

    pub(super) fn login(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &mut self.agents[a];
        ag.chain = ag.chain.wrapping_add(1);
        ag.pending_break = None;
        ag.pending_logout = false;
        let chain = ag.chain;
        if self.outage_active && self.rng.random_bool(OUTAGE_SHARE) {
            self.agents[a].outage = true;
        }
        let first = 10 * MINUTE + self.exp_ms(55.0 * 60.0);
        self.schedule(
            t + first,
            Timer::Agent(a as u32, chain, AgentTimer::BreakStart),
        );
        self.agent_free(a, t, out);
    }

    pub(super) fn logout(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &mut self.agents[a];
        ag.pending_break = None;
        ag.pending_logout = false;
        ag.outage = false;
        ag.acw = None;
        ag.chain = ag.chain.wrapping_add(1);
        self.set_state(a, Activity::Out, t, out);
    }

    fn start_break(&mut self, a: usize, r: Reason, t: Millis, out: &mut Vec<SimEvent>) {
        let (lo, hi) = r.minutes();
        let dur = self.uniform_ms(lo * 60.0, hi * 60.0);
        if r == Reason::Relogin {
            self.logout(a, t, out);
            let token = self.agents[a].token;
            self.schedule(t + dur, Timer::Agent(a as u32, token, AgentTimer::Relogin));
        } else {
            self.set_state(a, Activity::NotReady(r), t, out);
            let token = self.agents[a].token;
            self.schedule(t + dur, Timer::Agent(a as u32, token, AgentTimer::BreakEnd));
        }
    }

    pub(super) fn agent_timer(
        &mut self,
        a: usize,
        token: u32,
        kind: AgentTimer,
        t: Millis,
        out: &mut Vec<SimEvent>,
    ) {
        let ag = &self.agents[a];
        match kind {
            AgentTimer::BreakStart => {
                if token != ag.chain || ag.activity == Activity::Out {
                    return;
                }
                let next = 10 * MINUTE + self.exp_ms(55.0 * 60.0);
                self.schedule(
                    t + next,
                    Timer::Agent(a as u32, token, AgentTimer::BreakStart),
                );
                let ag = &self.agents[a];
                if ag.outage || ag.pending_break.is_some() {
                    return;
                }
                match ag.activity {
                    Activity::Idle => {
                        let r = self.break_reason(a, t);
                        self.start_break(a, r, t, out);
                    }
                    Activity::Reserved | Activity::Busy | Activity::Wrapup => {
                        let r = self.break_reason(a, t);
                        self.agents[a].pending_break = Some(r);
                    }
                    Activity::NotReady(_) | Activity::Out => {}
                }
            }
            _ if token != ag.token => {}
            AgentTimer::BreakEnd | AgentTimer::OutageReturn => {
                if matches!(ag.activity, Activity::NotReady(_)) {
                    self.agent_free(a, t, out);
                }
            }
            AgentTimer::AcwEnd => {
                if ag.activity != Activity::Wrapup {
                    return;
                }
                if let Some((no, q)) = self.agents[a].acw.take() {
                    let qname = &self.queues[q as usize].name;
                    let body = Body {
                        agent: Some(&self.agents[a].name),
                        queue: (no % 2 == 0).then_some(qname.as_str()),
                        ..Body::default()
                    };
                    self.enc
                        .emit(out, qname, t, "contact.wrapup_ended", Some(no), &body);
                }
                self.agent_free(a, t, out);
            }
            AgentTimer::Relogin => {
                let (back, rank, first) = (
                    ag.activity == Activity::Out && !ag.absent,
                    ag.rank,
                    ag.queues[0],
                );
                if back && rank < self.roster_share(first, t) {
                    self.login(a, t, out);
                }
            }
        }
    }

    fn break_reason(&mut self, a: usize, t: Millis) -> Reason {
        let b = self.business_ms(t);
        let hour = b.rem_euclid(DAY) as f64 / HOUR as f64;
        let day = b.div_euclid(DAY);
        if (11.0..15.0).contains(&hour)
            && self.agents[a].lunch_day != day
            && self.rng.random_bool(0.45)
        {
            self.agents[a].lunch_day = day;
            return Reason::Lunch;
        }
        let mut u: f64 = self.rng.random();
        for (r, share) in BREAKS {
            u -= share;
            if u < 0.0 {
                return r;
            }
        }
        Reason::Break
    }

    pub(super) fn outage_start(&mut self, t: Millis, out: &mut Vec<SimEvent>) {
        self.outage_active = true;
        let mut on: Vec<usize> = (0..self.agents.len())
            .filter(|&a| self.agents[a].activity != Activity::Out)
            .collect();
        shuffle(&mut on, &mut self.rng);
        let n = (on.len() as f64 * OUTAGE_SHARE).round() as usize;
        on.truncate(n);
        on.sort_unstable();
        for a in on {
            let ag = &mut self.agents[a];
            ag.outage = true;
            ag.pending_break = None;
            if matches!(ag.activity, Activity::Idle | Activity::NotReady(_)) {
                self.set_state(a, Activity::NotReady(Reason::Outage), t, out);
            }
        }
    }

    pub(super) fn outage_end(&mut self, t: Millis) {
        self.outage_active = false;
        for a in 0..self.agents.len() {
            if !self.agents[a].outage {
                continue;
            }
            self.agents[a].outage = false;
            if self.agents[a].activity == Activity::NotReady(Reason::Outage) {
                let back = self.uniform_ms(0.0, 45.0);
                let token = self.agents[a].token;
                self.schedule(
                    t + back,
                    Timer::Agent(a as u32, token, AgentTimer::OutageReturn),
                );
            }
        }
    }
}
